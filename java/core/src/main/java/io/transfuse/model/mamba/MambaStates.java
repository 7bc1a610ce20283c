package io.transfuse.model.mamba;

import io.transfuse.backend.Backend;
import io.transfuse.model.Decoder;
import io.transfuse.model.MemoryBudget;
import io.transfuse.model.SequenceStateExhaustedException;
import io.transfuse.model.SequenceStore;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

import java.util.BitSet;

/**
 * What Mamba sequences carry between forward passes, in slots allocated once at load: per layer the conv
 * state ([slots * dInner][dConv - 1], the last dConv-1 inputs of the causal conv, of the activation type)
 * and the SSM state ([slots * dInner][dState], F32). A sequence holds one slot from creation to close; its
 * size does not grow with its length. A recurrent state cannot rewind: a pass continues where the
 * sequence stopped or restarts it at position 0. Thread-safe.
 */
final class MambaStates implements SequenceStore {
    private final MambaConfig c;
    private final Tensor[] conv, ssm;
    private final int slots;
    private final BitSet used = new BitSet();

    MambaStates(Backend ops, MambaConfig c, int slots) {
        this.c = c;
        this.slots = slots;
        long perChannel = ops.activationType().bytesFor(c.dConv() - 1) + DType.F32.bytesFor(c.dState());
        MemoryBudget.require(ops, c.source(), "the Mamba state slots (" + slots + " sequences x " + c.layers() + " layers x "
                + c.dInner() + " channels of a conv and an SSM state)", MemoryBudget.product(slots, c.layers(), c.dInner(), perChannel),
                MemoryBudget.SLOT_ADVICE);
        conv = new Tensor[c.layers()];
        ssm = new Tensor[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            conv[l] = ops.allocate("layer " + l + " conv states", ops.activationType(), (long) slots * c.dInner(), c.dConv() - 1);
            ssm[l] = ops.allocate("layer " + l + " SSM states", DType.F32, (long) slots * c.dInner(), c.dState());
        }
    }

    /** The conv state [dInner][dConv-1] of layer l in a slot. */
    Tensor conv(int layer, int slot) { return conv[layer].rows((long) slot * c.dInner(), c.dInner()); }

    /** The SSM state [dInner][dState] of layer l in a slot. */
    Tensor ssm(int layer, int slot) { return ssm[layer].rows((long) slot * c.dInner(), c.dInner()); }

    @Override
    public synchronized Slot newSequence(int capacity) {
        int slot = used.nextClearBit(0);
        if (slot >= slots) {
            throw new SequenceStateExhaustedException("all " + slots + " Mamba state slots are in use (close unused sessions, or load with more sequences)");
        }
        used.set(slot);
        return new Slot(slot, capacity);
    }

    @Override
    public int maxBlocks() { return 0; }

    @Override
    public int[] admit(Decoder.Sequence sequence, int startPos, int count) {
        if (!(sequence instanceof Slot s) || s.owner() != this) throw new IllegalArgumentException("the sequence does not belong to this Mamba model");
        if (s.closed) throw new IllegalStateException("the sequence was closed (its state slot was released)");
        if (startPos != 0 && startPos != s.position) {
            throw new IllegalArgumentException("a Mamba state continues at position " + s.position + " or restarts at 0; cannot run from position " + startPos);
        }
        return null;
    }

    @Override
    public void advance(Decoder.Sequence sequence, int startPos, int count) {
        ((Slot) sequence).position = startPos + count;
    }

    private synchronized void release(int slot) { used.clear(slot); }

    /** One sequence's slot and how far it has run. */
    final class Slot implements Decoder.Sequence {
        final int slot;
        private final int capacity;
        private int position;
        private boolean closed;

        private Slot(int slot, int capacity) {
            this.slot = slot;
            this.capacity = capacity;
        }

        MambaStates owner() { return MambaStates.this; }

        @Override public int capacity() { return capacity; }

        /** Tokens seen since the sequence (re)started. */
        int position() { return position; }

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            release(slot);
        }
    }
}
