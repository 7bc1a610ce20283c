package io.transfuse.model;

import io.transfuse.memory.TrackedArena;

import java.lang.foreign.MemorySegment;

/**
 * What a Mamba sequence carries between forward calls, per layer: the conv state (the last
 * dConv-1 inputs of the causal conv, [dInner][dConv-1]) and the SSM state ([dInner][dState]),
 * both F32, plus how many tokens it has seen. Its size does not depend on the sequence length;
 * {@code capacity} only bounds the positions, as the generation API expects.
 */
public final class MambaState implements Decoder.SequenceState {
    private final MemorySegment[] conv;
    private final MemorySegment[] ssm;
    private final int capacity;
    private int position;

    public MambaState(MambaConfig c, int capacity, TrackedArena arena) {
        if (capacity <= 0) throw new IllegalArgumentException("state capacity must be positive, got " + capacity);
        this.capacity = capacity;
        conv = new MemorySegment[c.layers()];
        ssm = new MemorySegment[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            // width 1 keeps no conv state: an empty slice of the SSM block stands in
            ssm[l] = arena.allocateFloats((long) c.dInner() * c.dState());
            conv[l] = c.dConv() > 1 ? arena.allocateFloats((long) c.dInner() * (c.dConv() - 1)) : ssm[l].asSlice(0, 0);
        }
    }

    @Override
    public int capacity() { return capacity; }

    /** Tokens seen since the last reset. */
    public int position() { return position; }

    public MemorySegment conv(int layer) { return conv[layer]; }

    public MemorySegment ssm(int layer) { return ssm[layer]; }

    /** Back to an empty sequence: zero states. */
    void reset() {
        for (MemorySegment s : conv) s.fill((byte) 0);
        for (MemorySegment s : ssm) s.fill((byte) 0);
        position = 0;
    }

    void advance(int tokens) { position += tokens; }
}
