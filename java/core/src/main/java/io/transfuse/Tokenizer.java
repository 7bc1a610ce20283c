package io.transfuse;

import java.nio.ByteBuffer;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.Set;

/**
 * A model's tokenizer: text to token ids and back ({@link LanguageModel#tokenizer()}). Implementations are
 * immutable and thread-safe.
 */
public interface Tokenizer {
    /**
     * Token ids of {@code text}. {@code addBos} adds the special tokens the model's tokenizer
     * puts around a sequence: BOS for Llama-style tokenizers, nothing for those that declare no
     * such tokens even when they name a BOS id (GPT-2, Qwen2: their tokenizer.json and GGUF files
     * say so), [CLS]/[SEP] for BERT.
     *
     * @param text   the text (not null)
     * @param addBos whether to add the sequence's special tokens
     * @return the token ids
     */
    int[] encode(String text, boolean addBos);

    /**
     * The bytes token {@code id} contributes to the text when it follows {@code previous}
     * (UTF-8; a byte-fallback token yields one byte that may be part of a longer character).
     * This is what streaming uses: the bytes of several tokens together may only then form a character.
     *
     * @param previous the token before it (-1 at the start of a sequence)
     * @param id       the token
     * @return its bytes (empty for special tokens such as BOS)
     */
    byte[] decode(int previous, int id);

    /**
     * The text of {@code ids} as it reads at the start of a sequence (the first token is decoded as following
     * BOS, so a SentencePiece tokenizer drops its leading space, as Hugging Face's {@code decode} does).
     * Special tokens add nothing; bytes that do not form valid UTF-8 become U+FFFD.
     *
     * @param ids token ids, each in [0, {@link #vocabularySize()})
     * @return the text
     */
    default String decode(int[] ids) {
        Objects.requireNonNull(ids, "ids");
        int vocabulary = vocabularySize();
        ByteBuffer bytes = ByteBuffer.allocate(Math.max(16, ids.length * 4));
        int previous = bos();
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocabulary) {
                throw new IllegalArgumentException("ids[" + i + "] = " + ids[i] + " is outside the vocabulary [0, " + vocabulary + ")");
            }
            byte[] b = decode(previous, ids[i]);
            if (bytes.remaining() < b.length) {
                bytes = ByteBuffer.allocate(2 * bytes.capacity() + b.length).put(bytes.flip());
            }
            bytes.put(b);
            previous = ids[i];
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPLACE)
                    .onUnmappableCharacter(CodingErrorAction.REPLACE).decode(bytes.flip()).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new IllegalStateException("cannot happen: the decoder replaces invalid input", e);
        }
    }

    /**
     * Tokens in the vocabulary.
     *
     * @return the vocabulary's size
     */
    int vocabularySize();

    /**
     * The beginning-of-sequence token.
     *
     * @return its id, or -1 when the tokenizer has none
     */
    int bos();

    /**
     * The end-of-sequence token.
     *
     * @return its id, or -1 when none is known
     */
    int eos();

    /**
     * The vocabulary's text for a token ("&lt;s&gt;", "▁the", "Ġthe").
     *
     * @param id the token
     * @return its text, or null when unknown
     */
    default String tokenText(int id) {
        return null;
    }

    /**
     * The ids that end generation: {@link #eos()} and the end-of-turn tokens the model's files name
     * or its vocabulary has. Generation stops at any of them.
     *
     * @return the ids
     */
    default Set<Integer> endOfGeneration() {
        return eos() >= 0 ? Set.of(eos()) : Set.of();
    }
}
