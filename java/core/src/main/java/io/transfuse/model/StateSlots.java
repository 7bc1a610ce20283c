package io.transfuse.model;

import java.util.BitSet;

/**
 * The sequence bookkeeping of a recurrent model (Mamba, Mamba-2, RWKV), whose per-sequence state lives in slots
 * allocated once at load: a sequence holds one slot from creation to close, and its size does not grow with its
 * length. A recurrent state cannot rewind: a pass continues where the sequence stopped or restarts it at position 0.
 * Subclasses own the state tensors, indexed by {@link Slot#slot}. Thread-safe.
 */
public abstract class StateSlots implements SequenceStore {
    private final String model;
    private final int slots;
    private final BitSet used = new BitSet();

    /** @param model the model's name in messages ("Mamba", "RWKV"); @param slots the sequences served at once */
    protected StateSlots(String model, int slots) {
        this.model = model;
        this.slots = slots;
    }

    @Override
    public final synchronized Slot newSequence(int capacity) {
        int slot = used.nextClearBit(0);
        if (slot >= slots) {
            throw new SequenceStateExhaustedException("all " + slots + " " + model + " state slots are in use (close unused sessions, "
                    + "or load with more sequences)");
        }
        used.set(slot);
        return new Slot(slot, capacity);
    }

    @Override
    public final int maxBlocks() { return 0; }

    @Override
    public final int[] admit(Decoder.Sequence sequence, int startPos, int count) {
        if (!(sequence instanceof Slot s) || s.owner() != this) {
            throw new IllegalArgumentException("the sequence does not belong to this " + model + " model");
        }
        if (s.closed) throw new IllegalStateException("the sequence was closed (its state slot was released)");
        if (startPos != 0 && startPos != s.position) {
            throw new IllegalArgumentException(model + " state continues at position " + s.position + " or restarts at 0; cannot run "
                    + "from position " + startPos);
        }
        return null;
    }

    @Override
    public final void advance(Decoder.Sequence sequence, int startPos, int count) {
        ((Slot) sequence).position = startPos + count;
    }

    private synchronized void release(int slot) { used.clear(slot); }

    /** One sequence's slot and how far it has run. */
    public final class Slot implements Decoder.Sequence {
        /** The slot's index into the state tensors. */
        public final int slot;
        private final int capacity;
        private int position;
        private boolean closed;

        private Slot(int slot, int capacity) {
            this.slot = slot;
            this.capacity = capacity;
        }

        StateSlots owner() { return StateSlots.this; }

        @Override public int capacity() { return capacity; }

        /** Tokens seen since the sequence (re)started. */
        public int position() { return position; }

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            release(slot);
        }
    }
}
