package io.transfuse.cuda.mamba;

import io.transfuse.cuda.llama.HalfConvert;
import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.cuda.memory.DeviceBuffer;
import io.transfuse.cuda.runtime.ElemType;
import io.transfuse.cuda.runtime.GpuRuntime;
import io.transfuse.model.MambaConfig;
import io.transfuse.model.MambaWeights;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.DoubleUnaryOperator;

/**
 * A Mamba model's weights on the device, uploaded once. Matrices, norms and the conv filter are
 * converted to the graph's element type (F16 or BF16); what the selective-scan kernels read as fp32
 * stays fp32: A = -exp(A_log) (computed here, as the CPU model does), D and the dt bias.
 */
final class MambaDeviceWeights {
    final DeviceBuffer embedding, head, normF;
    /** Per layer; inBias, convBias and outBias are null when the model has none. */
    final DeviceBuffer[] norm, inProj, inBias, convWeight, convBias, xProj, dtProj, dtBias, a, d, outProj, outBias;

    MambaDeviceWeights(MambaConfig c, MambaWeights w, DeviceArena arena, ElemType t) {
        int dm = c.dModel(), di = c.dInner(), ds = c.dState(), r = c.dtRank(), layers = c.layers();
        int rows = (int) w.embedding().dim(0);
        embedding = upload(arena, "embedding", w.embedding(), rows, dm, t, null);
        head = w.head() == w.embedding() ? embedding : upload(arena, "lm_head", w.head(), rows, dm, t, null);
        normF = upload(arena, "norm_f", w.normF(), 1, dm, t, null);
        norm = new DeviceBuffer[layers];
        inProj = new DeviceBuffer[layers];
        inBias = new DeviceBuffer[layers];
        convWeight = new DeviceBuffer[layers];
        convBias = new DeviceBuffer[layers];
        xProj = new DeviceBuffer[layers];
        dtProj = new DeviceBuffer[layers];
        dtBias = new DeviceBuffer[layers];
        a = new DeviceBuffer[layers];
        d = new DeviceBuffer[layers];
        outProj = new DeviceBuffer[layers];
        outBias = new DeviceBuffer[layers];
        for (int l = 0; l < layers; l++) {
            MambaWeights.Layer L = w.layers()[l];
            String p = "layer " + l + " ";
            norm[l] = upload(arena, p + "norm", L.norm(), 1, dm, t, null);
            inProj[l] = upload(arena, p + "in_proj", L.inProj(), 2 * di, dm, t, null);
            inBias[l] = L.inProjBias() == null ? null : upload(arena, p + "in_proj bias", L.inProjBias(), 1, 2 * di, t, null);
            // [dInner][1][dConv] is [dInner][dConv], the layout tf_causal_conv1d takes.
            convWeight[l] = upload(arena, p + "conv1d", L.convWeight(), di, c.dConv(), t, null);
            convBias[l] = L.convBias() == null ? null : upload(arena, p + "conv1d bias", L.convBias(), 1, di, t, null);
            xProj[l] = upload(arena, p + "x_proj", L.xProj(), r + 2 * ds, di, t, null);
            dtProj[l] = upload(arena, p + "dt_proj", L.dtProj(), di, r, t, null);
            dtBias[l] = upload(arena, p + "dt_proj bias", L.dtBias(), 1, di, ElemType.F32, null);
            a[l] = upload(arena, p + "A = -exp(A_log)", L.aLog(), di, ds, ElemType.F32, x -> -Math.exp(x));
            d[l] = upload(arena, p + "D", L.d(), 1, di, ElemType.F32, null);
            outProj[l] = upload(arena, p + "out_proj", L.outProj(), dm, di, t, null);
            outBias[l] = L.outProjBias() == null ? null : upload(arena, p + "out_proj bias", L.outProjBias(), 1, dm, t, null);
        }
    }

    /** The [rows][cols] tensor {@code src} (any file dtype), mapped through {@code f} when given, as type {@code t} on the device. */
    private static DeviceBuffer upload(DeviceArena arena, String name, Tensor src, int rows, int cols, ElemType t, DoubleUnaryOperator f) {
        long bytes = (long) rows * cols * t.bytes();
        DeviceBuffer b = arena.allocate(name, bytes);
        try (Arena host = Arena.ofConfined()) {
            MemorySegment staging = host.allocate(bytes, 64);
            HalfConvert.forEachRow(src, rows, cols, (row, values) -> {
                for (int j = 0; j < cols; j++) {
                    float v = values.getAtIndex(ValueLayout.JAVA_FLOAT, j);
                    HalfConvert.put(staging, (long) row * cols + j, f == null ? v : (float) f.applyAsDouble(v), t);
                }
            });
            GpuRuntime rt = arena.runtime();
            rt.copyHostToDevice(rt.defaultStream(), staging, b.address(), bytes);
        }
        return b;
    }
}
