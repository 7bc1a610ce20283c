package io.transfuse.tokenizer;

/**
 * What the tokenizers here implement: the API's {@link io.transfuse.Tokenizer}, under the name the loaders
 * and families use. It adds nothing; it keeps the implementations in the internal packages.
 */
public interface Tokenizer extends io.transfuse.Tokenizer {
}
