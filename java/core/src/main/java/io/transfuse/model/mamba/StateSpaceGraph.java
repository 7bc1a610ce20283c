package io.transfuse.model.mamba;

import io.transfuse.backend.Backend;
import io.transfuse.backend.DecoderBatch;
import io.transfuse.model.DecoderGraph;
import io.transfuse.model.DecoderLimits;
import io.transfuse.model.StateSlots;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Dequantize;
import io.transfuse.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * What the Mamba graphs share: each sequence of a pass carries its state in a slot of {@link MambaStates}
 * ({@link #slots}, set as sequences are admitted), which a recorded decode step must key on, and the SSM's
 * A = -exp(A_log) made once at load.
 */
abstract class StateSpaceGraph extends DecoderGraph {
    /** The state slot of each sequence of the current pass. */
    protected final int[] slots;

    protected StateSpaceGraph(Backend ops, String source, int dim, int vocab, DecoderLimits limits, MambaStates states) {
        super(ops, source, dim, vocab, limits.context(), limits, states);
        slots = new int[limits.maxSequences()];
    }

    /** A = -exp(A_log) with the given shape, F32 on the backend. */
    protected final Tensor minusExp(Tensor aLog, long... shape) {
        float[] a = Dequantize.toFloats(aLog);
        for (int i = 0; i < a.length; i++) a[i] = (float) -Math.exp(a[i]);
        Tensor t = ops.allocate(aLog.name() + " as A", DType.F32, shape);
        ops.write(t, a, 0, a.length);
        return t;
    }

    /** A recorded decode step reads and writes the state slots of its sequences, and zeroes those that start afresh. */
    @Override
    protected final Object replayKey(DecoderBatch b) {
        List<Integer> key = new ArrayList<>();
        for (int s = 0; s < b.sequences(); s++) key.add(slots[s] * 2 + (b.startPos(s) == 0 ? 1 : 0));
        return key;
    }

    @Override
    protected final void admitted(int s, Sequence sequence) {
        slots[s] = ((StateSlots.Slot) sequence).slot;
    }
}
