package io.transfuse.model;

/**
 * A text encoder's network (BERT family): token ids in, the last hidden state out, for sequences packed
 * without padding. Tokenisation and pooling stay in {@link io.transfuse.EmbeddingModel}. Not thread-safe.
 */
public interface EncoderGraph extends AutoCloseable {
    /** The architecture and shape in a few words, for messages ("bert, hidden 384, 6 layers, ..."). */
    String describe();

    /** Width of the hidden state (the embedding dimension). */
    int dimension();

    /** The longest sequence the position table allows. */
    int maxSequenceLength();

    /** The most tokens (over all sequences) one {@link #forward} takes. */
    int maxBatchTokens();

    /** The most sequences one {@link #forward} takes. */
    int maxBatchSequences();

    /**
     * Encodes sequence b = {@code tokenIds[b]} (with {@code typeIds[b]} of the same length, or null for
     * type 0) for every b, and returns the last hidden state as F32 [total tokens][dimension], sequence b in
     * the rows after those of sequences 0..b-1; the array is reused by the next call.
     */
    float[] forward(int[][] tokenIds, int[][] typeIds);

    /** Frees the graph's backend and everything on it. */
    @Override
    void close();
}
