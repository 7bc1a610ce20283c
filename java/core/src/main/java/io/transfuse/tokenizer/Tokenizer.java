package io.transfuse.tokenizer;

import java.util.Set;

/** Text to token ids and back. Implementations are immutable and thread-safe. */
public interface Tokenizer {
    /**
     * Token ids of {@code text}. {@code addBos} adds the special tokens the model's tokenizer
     * puts around a sequence: BOS for Llama-style tokenizers, nothing for those that declare no
     * such tokens even when they name a BOS id (GPT-2, Qwen2: their tokenizer.json and GGUF files
     * say so), [CLS]/[SEP] for BERT.
     */
    int[] encode(String text, boolean addBos);

    /**
     * The bytes token {@code id} contributes to the text when it follows {@code previous}
     * (UTF-8; a byte-fallback token yields one byte that may be part of a longer character).
     */
    byte[] decode(int previous, int id);

    int vocabularySize();

    /** Beginning-of-sequence id, or -1 when the tokenizer has none. */
    int bos();

    /** End-of-sequence id, or -1 when none is known. */
    int eos();

    /** The vocabulary's text for {@code id} ("&lt;s&gt;", "▁the", "Ġthe"), or null when unknown. */
    default String tokenText(int id) {
        return null;
    }

    /**
     * The ids that end generation: {@link #eos()} and the end-of-turn tokens the model's files name
     * or its vocabulary has ({@link EndOfGeneration}). Generation stops at any of them.
     */
    default Set<Integer> endOfGeneration() {
        return eos() >= 0 ? Set.of(eos()) : Set.of();
    }
}
