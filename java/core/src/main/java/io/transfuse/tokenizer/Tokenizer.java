package io.transfuse.tokenizer;

/** Text to token ids and back. Implementations are immutable and thread-safe. */
public interface Tokenizer {
    /** Token ids of {@code text}, preceded by BOS when {@code addBos}. */
    int[] encode(String text, boolean addBos);

    /**
     * The bytes token {@code id} contributes to the text when it follows {@code previous}
     * (UTF-8; a byte-fallback token yields one byte that may be part of a longer character).
     */
    byte[] decode(int previous, int id);

    int vocabularySize();

    int bos();

    int eos();
}
