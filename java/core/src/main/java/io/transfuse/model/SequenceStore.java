package io.transfuse.model;

/**
 * Where a decoder's sequences keep their state between forward passes: the paged KV cache
 * ({@link KvCache}) or recurrent state slots (Mamba). {@link DecoderGraph} asks it to admit each
 * sequence into a pass and to advance it afterwards.
 */
public interface SequenceStore {
    /** A new sequence of up to {@code capacity} positions. */
    Decoder.Sequence newSequence(int capacity);

    /** KV blocks one sequence's table holds (0 without a KV cache). */
    int maxBlocks();

    /**
     * Checks that {@code sequence} is one of this store's and can take {@code count} tokens from
     * {@code startPos}, takes what they need (KV blocks), and returns its block table (null without a KV cache).
     */
    int[] admit(Decoder.Sequence sequence, int startPos, int count);

    /** After a pass: the sequence now holds positions up to {@code startPos + count}. Default: nothing to track. */
    default void advance(Decoder.Sequence sequence, int startPos, int count) {}
}
