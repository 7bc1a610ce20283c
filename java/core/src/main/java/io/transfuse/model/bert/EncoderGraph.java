package io.transfuse.model.bert;

import java.lang.foreign.MemorySegment;

/**
 * The transformer stack of a BERT-family encoder on some device: token ids in, last hidden state
 * out. {@link BertModel} runs it on the CPU backend; the CUDA module's graph runs it on a GPU (or
 * the host emulator). Tokenisation and pooling stay in {@link io.transfuse.EmbeddingModel}, shared by
 * both. Not thread-safe.
 */
public interface EncoderGraph extends AutoCloseable {
    BertConfig config();

    /** Rows (batch × padded length) one {@link #forward} call can take. */
    int maxTokens();

    /**
     * Encodes a padded batch: sequence b is {@code tokenIds[b]} (with {@code typeIds[b]}, same length,
     * or null for all zeros), padded to {@code seqLen}. Returns the last hidden state, f32
     * [batch * seqLen][hidden] on the host (rows past a sequence's length are not meaningful), valid
     * until the next call.
     */
    MemorySegment forward(int[][] tokenIds, int[][] typeIds, int seqLen);

    /** Releases what the graph holds beyond its owner's arena (device memory); the CPU graph holds nothing more. */
    @Override
    default void close() {}
}
