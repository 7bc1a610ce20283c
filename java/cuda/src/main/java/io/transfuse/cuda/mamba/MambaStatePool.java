package io.transfuse.cuda.mamba;

import io.transfuse.TransfuseException;
import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.cuda.memory.DeviceBuffer;
import io.transfuse.cuda.runtime.ElemType;
import io.transfuse.model.MambaConfig;

import java.util.BitSet;

/**
 * The recurrent state of every sequence the model may hold at once, allocated at load: per layer a
 * conv state [slots][dInner][dConv-1] (of the graph's element type, the layout of tf_causal_conv1d's
 * state) and an SSM state [slots][dInner][dState] (fp32, tf_selective_scan's). A sequence takes one
 * slot for its lifetime; fixed slot addresses let each slot's decode step be recorded once as a graph.
 */
final class MambaStatePool {
    final int slots;
    private final long convBytes, ssmBytes;
    private final DeviceBuffer[] conv, ssm;
    private final BitSet used = new BitSet();

    MambaStatePool(DeviceArena arena, MambaConfig c, ElemType t, int slots) {
        this.slots = slots;
        // dConv 1 keeps no conv state; the kernels then never touch it, but a buffer must still exist.
        this.convBytes = (long) c.dInner() * (c.dConv() - 1) * t.bytes();
        this.ssmBytes = (long) c.dInner() * c.dState() * Float.BYTES;
        conv = new DeviceBuffer[c.layers()];
        ssm = new DeviceBuffer[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            conv[l] = arena.allocate("layer " + l + " conv states", Math.max(16, slots * convBytes));
            ssm[l] = arena.allocate("layer " + l + " SSM states", slots * ssmBytes);
        }
    }

    /** Device address of the conv state of {@code slot} in {@code layer}. */
    long conv(int layer, int slot) {
        return convBytes == 0 ? conv[layer].address() : conv[layer].address(slot * convBytes, convBytes);
    }

    /** Device address of the SSM state of {@code slot} in {@code layer}. */
    long ssm(int layer, int slot) {
        return ssm[layer].address(slot * ssmBytes, ssmBytes);
    }

    /** A free slot, or an error naming the limit. */
    synchronized int take() {
        int s = used.nextClearBit(0);
        if (s >= slots) {
            throw new TransfuseException("Mamba state slots exhausted: all " + slots + " sequences this CUDA model was planned for are open (close unused sessions)");
        }
        used.set(s);
        return s;
    }

    synchronized void give(int slot) { used.clear(slot); }
}
