package io.transfuse.model;

import io.transfuse.memory.TrackedArena;

/**
 * A causal language model as the generation API drives it, whatever the architecture (Llama,
 * Mamba) or backend (cpu, cuda): per-sequence state, tokens in, logits of the last token out.
 * Implementations are not thread-safe; {@link io.transfuse.LanguageModel} serialises calls.
 */
public interface Decoder extends AutoCloseable {
    /** The file or directory the weights came from, named in errors. */
    String source();

    int vocabSize();

    /** The most positions a sequence may hold. */
    int contextLength();

    /** Fresh state (KV cache, recurrent state) for a sequence of up to {@code capacity} positions, owned by {@code arena}. */
    SequenceState newState(int capacity, TrackedArena arena);

    /**
     * Runs {@code tokens[from, from + count)} at positions {@code startPos..} of the sequence held by
     * {@code state} and writes the logits after the last one into {@code logits} ([vocabSize]).
     */
    void forward(int[] tokens, int from, int count, int startPos, SequenceState state, float[] logits);

    /** Frees what the decoder holds outside the model's arena (device memory). Default: nothing. */
    @Override
    default void close() {}

    /** What a sequence carries between forward calls. */
    interface SequenceState extends AutoCloseable {
        /** Positions it can hold. */
        int capacity();

        /** Frees what the state holds outside its arena (device KV pages). Default: nothing. */
        @Override
        default void close() {}
    }
}
