package io.transfuse.cuda.llama;

import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.cuda.memory.DeviceBuffer;
import io.transfuse.cuda.runtime.ElemType;
import io.transfuse.cuda.runtime.GpuRuntime;
import io.transfuse.model.LlamaConfig;
import io.transfuse.model.LlamaWeights;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A Llama model's weights on the device, uploaded once and converted to one element type.
 *
 * <p>Head padding: the attention kernels exist for head dims 64 and 128 only, so a model with a
 * smaller head dim d (stories260K: 8) runs with heads padded to D (the next supported size) with
 * zeros. Wq and Wk get zero output rows d..D-1 in every head, Wv too, and Wo zero input columns, so
 * q, k and v carry zeros in the padding: the dot products q.k (scores) are unchanged, the softmax
 * scale stays 1/sqrt(d), the padded output lanes are zero and Wo ignores them. RoPE rotates only
 * the first d lanes (rotary_dim = d). The cost is D/d more attention and QKV/O work, which matters
 * only for such toy models.
 */
final class DeviceWeights {
    final DeviceBuffer embedding, output, outputNorm, invFreq;
    final DeviceBuffer[] attnNorm, ffnNorm, wq, wk, wv, wo, wGateUp, wDown;

    private DeviceWeights(LlamaConfig c, LlamaWeights w, DeviceArena arena, ElemType t, int paddedHeadDim) {
        int dim = c.dim(), hd = c.headDim(), hidden = c.hiddenDim(), layers = c.layers();
        GpuRuntime rt = arena.runtime();
        embedding = upload(arena, "token embedding", t, c.vocabSize(), dim, put -> copyRow(w.tokenEmbedding(), c.vocabSize(), dim, put));
        output = w.output() == w.tokenEmbedding() ? embedding
                : upload(arena, "output", t, c.vocabSize(), dim, put -> copyRow(w.output(), c.vocabSize(), dim, put));
        outputNorm = upload(arena, "output norm", t, 1, dim, put -> copyRow(w.outputNorm(), 1, dim, put));
        attnNorm = new DeviceBuffer[layers];
        ffnNorm = new DeviceBuffer[layers];
        wq = new DeviceBuffer[layers];
        wk = new DeviceBuffer[layers];
        wv = new DeviceBuffer[layers];
        wo = new DeviceBuffer[layers];
        wGateUp = new DeviceBuffer[layers];
        wDown = new DeviceBuffer[layers];
        int D = paddedHeadDim;
        for (int l = 0; l < layers; l++) {
            LlamaWeights.Layer L = w.layers()[l];
            String p = "layer " + l + " ";
            attnNorm[l] = upload(arena, p + "attention norm", t, 1, dim, put -> copyRow(L.attnNorm(), 1, dim, put));
            ffnNorm[l] = upload(arena, p + "ffn norm", t, 1, dim, put -> copyRow(L.ffnNorm(), 1, dim, put));
            // Output row (head h, lane i < d) of the padded projection is source row h*d + i.
            wq[l] = upload(arena, p + "wq", t, c.heads() * D, dim, put -> padRows(L.wq(), c.heads() * hd, dim, hd, D, put));
            wk[l] = upload(arena, p + "wk", t, c.kvHeads() * D, dim, put -> padRows(L.wk(), c.kvHeads() * hd, dim, hd, D, put));
            wv[l] = upload(arena, p + "wv", t, c.kvHeads() * D, dim, put -> padRows(L.wv(), c.kvHeads() * hd, dim, hd, D, put));
            wo[l] = upload(arena, p + "wo", t, dim, c.heads() * D, put -> HalfConvert.forEachRow(L.wo(), dim, dim,
                    (row, f) -> { for (int j = 0; j < dim; j++) put.set(row, (j / hd) * D + j % hd, f.getAtIndex(ValueLayout.JAVA_FLOAT, j)); }));
            // Gate and up as one [2*hidden][dim] matrix: one GEMM gives the layout tf_glu expects.
            wGateUp[l] = upload(arena, p + "w_gate_up", t, 2 * hidden, dim, put -> {
                copyRow(L.wGate(), hidden, dim, put);
                HalfConvert.forEachRow(L.wUp(), hidden, dim, (row, f) -> { for (int j = 0; j < dim; j++) put.set(hidden + row, j, f.getAtIndex(ValueLayout.JAVA_FLOAT, j)); });
            });
            wDown[l] = upload(arena, p + "w_down", t, dim, hidden, put -> copyRow(L.wDown(), dim, hidden, put));
        }
        float[] freq = c.ropeInverseFrequencies();
        invFreq = arena.allocate("rope inverse frequencies", (long) freq.length * Float.BYTES);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocateFrom(ValueLayout.JAVA_FLOAT, freq);
            rt.copyHostToDevice(rt.defaultStream(), host, invFreq.address(), host.byteSize());
        }
    }

    static DeviceWeights upload(LlamaConfig c, LlamaWeights w, DeviceArena arena, ElemType t, int paddedHeadDim) {
        return new DeviceWeights(c, w, arena, t, paddedHeadDim);
    }

    /** Writes element (row, col) of a host staging matrix. */
    @FunctionalInterface
    private interface Put {
        void set(int row, int col, float v);
    }

    @FunctionalInterface
    private interface Fill {
        void fill(Put put);
    }

    /** Builds a zero-filled [rows][cols] matrix of type t on the host with {@code fill}, then copies it to a new device buffer. */
    private static DeviceBuffer upload(DeviceArena arena, String name, ElemType t, int rows, int cols, Fill fill) {
        long bytes = (long) rows * cols * t.bytes();
        DeviceBuffer b = arena.allocate(name, bytes);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(bytes, 64);
            fill.fill((r, col, v) -> HalfConvert.put(host, (long) r * cols + col, v, t));
            GpuRuntime rt = arena.runtime();
            rt.copyHostToDevice(rt.defaultStream(), host, b.address(), bytes);
        }
        return b;
    }

    private static void copyRow(Tensor src, int rows, int cols, Put put) {
        HalfConvert.forEachRow(src, rows, cols, (row, f) -> { for (int j = 0; j < cols; j++) put.set(row, j, f.getAtIndex(ValueLayout.JAVA_FLOAT, j)); });
    }

    private static void padRows(Tensor src, int rows, int cols, int hd, int D, Put put) {
        HalfConvert.forEachRow(src, rows, cols, (row, f) -> {
            int dst = (row / hd) * D + row % hd;
            for (int j = 0; j < cols; j++) put.set(dst, j, f.getAtIndex(ValueLayout.JAVA_FLOAT, j));
        });
    }
}
