package io.transfuse.model;

import java.util.List;

/**
 * A causal language model as the generation API and the engine drive it, whatever the architecture
 * (Llama, GPT-2, Mamba) or backend: sequences carry their state (KV blocks or a recurrent state), and
 * one {@link #forward} runs the new tokens of many sequences together, some in prefill and some decoding
 * one token, returning the logits each asks for. Implementations are not thread-safe: one forward pass at
 * a time ({@link io.transfuse.LanguageModel} serialises them).
 */
public interface Decoder extends AutoCloseable {
    /** The file or directory the weights came from, named in errors. */
    String source();

    /** Size of the logits: the output head's rows. */
    int vocabSize();

    /** The most positions a sequence may hold. */
    int contextLength();

    /** The most tokens (over all sequences) one {@link #forward} takes. */
    int maxBatchTokens();

    /** The most sequences one {@link #forward} takes. */
    int maxBatchSequences();

    /**
     * The KV blocks sequences draw from, or null where a sequence's state has a fixed size taken when it is
     * made (Mamba's state slots). The engine reads it for admission control and prefix caching.
     */
    default BlockPool blockPool() { return null; }

    /** A new, empty sequence of up to {@code capacity} positions; it holds what it takes until closed. */
    Sequence newSequence(int capacity);

    /**
     * One forward pass: for each input, its tokens at positions {@code startPos ..} of its sequence (each
     * sequence at most once); an input with a logits array receives the logits after its last token.
     */
    void forward(List<Input> batch);

    /**
     * Runs {@code count} tokens of one sequence, in passes of at most {@link #maxBatchTokens()} tokens,
     * and writes the logits after the last one into {@code logits} ([vocabSize]).
     */
    default void forward(Sequence sequence, int[] tokens, int from, int count, int startPos, float[] logits) {
        if (count <= 0) throw new IllegalArgumentException("forward needs at least one token, got " + count);
        for (int done = 0; done < count; ) {
            int n = Math.min(maxBatchTokens(), count - done);
            forward(List.of(new Input(sequence, tokens, from + done, n, startPos + done, done + n == count ? logits : null)));
            done += n;
        }
    }

    /** Frees what the decoder holds (its backend's memory); its sequences become unusable. */
    @Override
    void close();

    /** What a sequence carries between forward passes. */
    interface Sequence extends AutoCloseable {
        /** Positions it can hold. */
        int capacity();

        /**
         * On an empty sequence: reuses cached state for the longest prefix of {@code tokens[0, count)} it can
         * (whole KV blocks other sequences computed and published) and returns the positions covered: the next
         * pass starts there. Default: nothing cached, 0.
         */
        default int reusePrefix(int[] tokens, int count) { return 0; }

        /**
         * Offers the state of positions {@code [0, positions)}, already computed from {@code tokens}, to later
         * sequences that start with the same tokens. Default: nothing to share.
         */
        default void publishPrefix(int[] tokens, int positions) {}

        /** Returns what it holds (KV blocks, a state slot) to its decoder. */
        @Override
        void close();
    }

    /**
     * One sequence's part of a forward pass: {@code tokens[from, from + count)} at positions
     * {@code startPos ..}; {@code logits} ([vocabSize]) receives the logits after the last token, or is null.
     */
    record Input(Sequence sequence, int[] tokens, int from, int count, int startPos, float[] logits) {
        public Input {
            if (sequence == null || tokens == null) throw new IllegalArgumentException("an input needs a sequence and tokens");
            if (count <= 0 || from < 0 || from + count > tokens.length) {
                throw new IllegalArgumentException("tokens [" + from + ", " + (from + count) + ") of an array of " + tokens.length);
            }
            if (startPos < 0) throw new IllegalArgumentException("start position must be >= 0, got " + startPos);
        }
    }
}
