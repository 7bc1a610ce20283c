package io.transfuse.cuda.mamba;

import io.transfuse.model.Decoder;

/**
 * One Mamba sequence on the device: a slot of the model's {@link MambaStatePool} (conv and SSM state
 * per layer) and how many tokens it has seen. Its size does not depend on the sequence length;
 * {@code capacity} only bounds positions. Closing gives the slot back.
 */
public final class CudaMambaState implements Decoder.SequenceState {
    private final MambaStatePool pool;
    private final int capacity;
    final int slot;
    private int position;
    private boolean closed;

    CudaMambaState(MambaStatePool pool, int capacity) {
        this.pool = pool;
        this.capacity = capacity;
        this.slot = pool.take();
    }

    @Override public int capacity() { return capacity; }

    /** Tokens seen since the sequence (re)started at position 0. */
    public int position() { return position; }

    void advance(int tokens) { position += tokens; }

    void restart() { position = 0; }

    boolean belongsTo(MambaStatePool p) { return pool == p; }

    void checkOpen() {
        if (closed) throw new IllegalStateException("CUDA Mamba state was closed (its state slot was released)");
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        pool.give(slot);
    }
}
