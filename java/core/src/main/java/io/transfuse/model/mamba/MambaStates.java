package io.transfuse.model.mamba;

import io.transfuse.backend.Backend;
import io.transfuse.model.MemoryBudget;
import io.transfuse.model.StateSlots;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

/**
 * What Mamba sequences carry between forward passes, in slots allocated once at load: per layer the
 * states of one or more causal convs (each [slots * channels][width - 1], the last width-1 inputs, of the
 * activation type) and the SSM state ([slots * rows][cols], F32). Mamba-1: one conv over dInner channels
 * and a [dInner][dState] SSM state per slot; Mamba-2: convs over x, B and C and a [heads * headDim][dState]
 * state. A sequence holds one slot from creation to close; its size does not grow with its length. A
 * recurrent state cannot rewind: a pass continues where the sequence stopped or restarts it at position 0.
 * Thread-safe.
 */
final class MambaStates extends StateSlots {
    private final Tensor[][] conv;
    private final Tensor[] ssm;
    private final int[] convChannels;
    private final int ssmRows;

    /** Mamba-1's slots: one conv over dInner channels, a [dInner][dState] SSM state. */
    MambaStates(Backend ops, MambaConfig c, int slots) {
        this(ops, c.source(), "Mamba", c.layers(), slots, new int[] {c.dInner()}, c.dConv(), c.dInner(), c.dState());
    }

    /**
     * @param convChannels the channels of each conv of a layer (its state [slots * channels][convWidth - 1])
     * @param ssmRows      rows of a slot's SSM state per layer ([slots * ssmRows][ssmCols], F32)
     */
    MambaStates(Backend ops, String source, String model, int layers, int slots, int[] convChannels, int convWidth, int ssmRows,
                int ssmCols) {
        super(model, slots);
        this.convChannels = convChannels.clone();
        this.ssmRows = ssmRows;
        long perSlot = DType.F32.bytesFor((long) ssmRows * ssmCols);
        for (int ch : convChannels) perSlot += ops.activationType().bytesFor((long) ch * (convWidth - 1));
        MemoryBudget.require(ops, source, "the " + model + " state slots (" + slots + " sequences x " + layers + " layers of conv and SSM states)",
                MemoryBudget.product(slots, layers, 1, perSlot), MemoryBudget.SLOT_ADVICE);
        conv = new Tensor[layers][convChannels.length];
        ssm = new Tensor[layers];
        for (int l = 0; l < layers; l++) {
            for (int k = 0; k < convChannels.length; k++) {
                conv[l][k] = ops.allocate("layer " + l + " conv states" + (convChannels.length > 1 ? " " + k : ""), ops.activationType(),
                        (long) slots * convChannels[k], convWidth - 1);
            }
            ssm[l] = ops.allocate("layer " + l + " SSM states", DType.F32, (long) slots * ssmRows, ssmCols);
        }
    }

    /** The state [channels][width-1] of conv {@code k} of layer l in a slot. */
    Tensor conv(int layer, int k, int slot) { return conv[layer][k].rows((long) slot * convChannels[k], convChannels[k]); }

    /** The state [dInner][dConv-1] of Mamba-1's conv of layer l in a slot. */
    Tensor conv(int layer, int slot) { return conv(layer, 0, slot); }

    /** The SSM state of layer l in a slot. */
    Tensor ssm(int layer, int slot) { return ssm[layer].rows((long) slot * ssmRows, ssmRows); }
}
