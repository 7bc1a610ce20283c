package io.transfuse.model;

import io.transfuse.memory.TrackedArena;

import java.lang.foreign.MemorySegment;

/**
 * Keys and values of every layer for positions 0..capacity-1, allocated once per generation
 * session: per layer a [capacity][kvHeads * headDim] F32 block for K and one for V.
 */
public final class KvCache implements Decoder.SequenceState {
    private final MemorySegment[] keys;
    private final MemorySegment[] values;
    private final int capacity;
    private final int rowBytes;

    public KvCache(LlamaConfig config, int capacity, TrackedArena arena) {
        if (capacity <= 0 || capacity > config.contextLength()) {
            throw new IllegalArgumentException("KV cache capacity must be in 1.." + config.contextLength() + ", got " + capacity);
        }
        this.capacity = capacity;
        this.rowBytes = config.kvDim() * Float.BYTES;
        this.keys = new MemorySegment[config.layers()];
        this.values = new MemorySegment[config.layers()];
        for (int l = 0; l < config.layers(); l++) {
            keys[l] = arena.allocate((long) capacity * rowBytes);
            values[l] = arena.allocate((long) capacity * rowBytes);
        }
    }

    @Override
    public int capacity() { return capacity; }

    public MemorySegment keys(int layer) { return keys[layer]; }

    public MemorySegment values(int layer) { return values[layer]; }

    /** Rows [from, from + count) of a layer's K or V block. */
    public MemorySegment rows(MemorySegment block, int from, int count) {
        return block.asSlice((long) from * rowBytes, (long) count * rowBytes);
    }
}
