package io.transfuse.cuda.llama;

import io.transfuse.model.Decoder;

/**
 * One sequence's share of the paged KV cache: its pages and its block table (logical block i of the
 * sequence lives in page {@code blockTable[i]}). The table is uploaded with each forward call. Closing
 * returns the pages to the pool.
 */
public final class CudaSequence implements Decoder.SequenceState {
    private final KvBlockPool pool;
    private final int capacity;
    final int[] blockTable;
    private boolean closed;

    CudaSequence(KvBlockPool pool, int capacity, int maxBlocksPerSeq) {
        this.pool = pool;
        this.capacity = capacity;
        int needed = (capacity + pool.blockSize - 1) / pool.blockSize;
        this.blockTable = new int[maxBlocksPerSeq];
        System.arraycopy(pool.take(needed), 0, blockTable, 0, needed);
    }

    @Override public int capacity() { return capacity; }

    void checkOpen() {
        if (closed) throw new IllegalStateException("CUDA sequence state was closed (its KV pages were released)");
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        int needed = (capacity + pool.blockSize - 1) / pool.blockSize;
        int[] blocks = new int[needed];
        System.arraycopy(blockTable, 0, blocks, 0, needed);
        pool.give(blocks);
    }
}
