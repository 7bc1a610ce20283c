package io.transfuse.model.rwkv;

import io.transfuse.backend.Backend;
import io.transfuse.model.MemoryBudget;
import io.transfuse.model.StateSlots;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

/**
 * What RWKV sequences carry between forward passes, in slots allocated once at load: per layer the two token-shift
 * states (the last normed input of the time mix and of the channel mix, [slots * 2][dModel], activation type) and the
 * WKV state ([slots * dModel][headSize], F32: per head a [S][S] matrix). A sequence holds one slot from creation to
 * close; its size does not grow with its length. A recurrent state cannot rewind: a pass continues where the
 * sequence stopped or restarts it at position 0. Thread-safe.
 */
final class RwkvStates extends StateSlots {
    private final Tensor[] shift, wkv;
    private final int dModel;

    RwkvStates(Backend ops, RwkvConfig c, int slots) {
        super("RWKV", slots);
        this.dModel = c.dModel();
        long perSlot = ops.activationType().bytesFor(2L * dModel) + DType.F32.bytesFor((long) dModel * c.headSize());
        MemoryBudget.require(ops, c.source(), "the RWKV state slots (" + slots + " sequences x " + c.layers()
                + " layers of token-shift and WKV states)", MemoryBudget.product(slots, c.layers(), 1, perSlot), MemoryBudget.SLOT_ADVICE);
        shift = new Tensor[c.layers()];
        wkv = new Tensor[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            shift[l] = ops.allocate("layer " + l + " token-shift states", ops.activationType(), 2L * slots, dModel);
            wkv[l] = ops.allocate("layer " + l + " WKV states", DType.F32, (long) slots * dModel, c.headSize());
        }
    }

    /** The time mix's (k = 0) or the channel mix's (k = 1) token-shift state [1][dModel] of layer l in a slot. */
    Tensor shift(int layer, int k, int slot) { return shift[layer].row(2L * slot + k); }

    /** The WKV state [dModel][headSize] of layer l in a slot. */
    Tensor wkv(int layer, int slot) { return wkv[layer].rows((long) slot * dModel, dModel); }
}
