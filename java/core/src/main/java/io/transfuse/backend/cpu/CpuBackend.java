package io.transfuse.backend.cpu;

import io.transfuse.backend.Activation;
import io.transfuse.backend.Backend;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.RopeLayout;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** The {@link Backend} over libtransfuse_cpu (OpenMP + SIMD), the embedded default. */
public final class CpuBackend implements Backend {
    private CpuBackend() {}

    /** @param threads OpenMP threads for the kernels, 0 = one per core. */
    public static CpuBackend create(int threads) {
        if (threads > 0) CpuOps.setThreads(threads);
        return new CpuBackend();
    }

    @Override
    public String name() { return "cpu"; }

    @Override
    public void matmul(MemorySegment out, MemorySegment x, MemorySegment w, DType wType, int tokens, int inDim, int outDim) {
        CpuOps.matmul(out, x, w, wType, tokens, inDim, outDim);
    }

    @Override
    public void matmulBias(MemorySegment out, MemorySegment x, MemorySegment w, DType wType, int tokens, int inDim,
                           int outDim, MemorySegment bias, Activation act) {
        CpuOps.matmulBias(out, x, w, wType, tokens, inDim, outDim, bias, act);
    }

    /**
     * F32 weights are packed once for prefill: on CPUs with AMX-BF16 into AMX tiles (DType.F32_AMX, see
     * CpuOps.packF32Amx; f32-accurate, 6 bytes per weight), else into column panels (DType.F32_PANELS,
     * see CpuOps.packF32), which skip the per-call repacking that plain F32 needs for the outer-product
     * kernel. Other types stay as they are.
     */
    @Override
    public Tensor prepareMatmulWeight(Tensor w, TrackedArena arena) {
        if (w.dtype() != DType.F32 || w.rank() != 2) return w;
        int outDim = Math.toIntExact(w.dim(0)), inDim = Math.toIntExact(w.dim(1));
        if (CpuOps.f32AmxEnabled()) {
            MemorySegment tiles = arena.allocate(CpuOps.packedF32AmxBytes(inDim, outDim));
            CpuOps.packF32Amx(tiles, w.data(), inDim, outDim);
            return new Tensor(w.name(), DType.F32_AMX, w.shape(), tiles);
        }
        MemorySegment panels = arena.allocate(CpuOps.packedF32Bytes(inDim, outDim));
        CpuOps.packF32(panels, w.data(), inDim, outDim);
        return new Tensor(w.name(), DType.F32_PANELS, w.shape(), panels);
    }

    // The ABI-2 adapters below (rope, attention, the encoder ops) keep the old Backend contract on top of the
    // new ops until the Backend interface is rebuilt around batches and the paged cache.

    @Override
    public void rmsnorm(MemorySegment out, MemorySegment x, MemorySegment weight, int tokens, int dim, float eps) {
        CpuOps.rmsNorm(out, null, x, weight, tokens, dim, eps);
    }

    /** In place on x: x is the "k" of a one-sequence cache write (block size 1), then copied back. */
    @Override
    public void rope(MemorySegment x, int tokens, int heads, int headDim, int startPos, MemorySegment invFreq, RopeLayout layout) {
        long bytes = (long) tokens * heads * headDim * 4;
        int positions = startPos + tokens;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment kc = a.allocate(bytes), vc = a.allocate(bytes);
            MemorySegment table = a.allocate(4L * positions), pos = a.allocate(4L * tokens), seq = a.allocate(4L * tokens);
            for (int t = 0; t < tokens; t++) {
                table.setAtIndex(ValueLayout.JAVA_INT, startPos + t, t);
                pos.setAtIndex(ValueLayout.JAVA_INT, t, startPos + t);
            }
            CpuOps.ropeKvCache(null, x, x, kc, vc, table, pos, seq, invFreq, tokens, heads, heads, headDim, headDim, layout,
                    1f, 1, positions);
            MemorySegment.copy(kc, 0, x, 0, bytes);
        }
    }

    /** The contiguous cache as one block of startPos + tokens positions, one table row per token. */
    @Override
    public void attention(MemorySegment out, MemorySegment q, MemorySegment k, MemorySegment v,
                          int tokens, int startPos, int heads, int kvHeads, int headDim) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment table = a.allocate(4L * tokens), ctx = a.allocate(4L * tokens);
            for (int t = 0; t < tokens; t++) ctx.setAtIndex(ValueLayout.JAVA_INT, t, startPos + t + 1);
            CpuOps.attentionPaged(out, q, k, v, table, ctx, tokens, heads, kvHeads, headDim, startPos + tokens, 1,
                    (float) (1 / Math.sqrt(headDim)), 0);
        }
    }

    @Override
    public void siluGlu(MemorySegment out, MemorySegment gate, MemorySegment up, long n) {
        CpuOps.glu(out, gate, up, n, Activation.SILU);
    }

    @Override
    public void add(MemorySegment out, MemorySegment a, MemorySegment b, long n) {
        CpuOps.add(out, a, b, n);
    }

    @Override
    public void embedding(MemorySegment out, MemorySegment table, DType type, MemorySegment ids, int tokens, int dim) {
        CpuOps.embedding(out, table, type, ids, tokens, dim);
    }

    @Override
    public void causalConv1d(MemorySegment out, MemorySegment convState, MemorySegment x, MemorySegment weight,
                             MemorySegment bias, int tokens, int dim, int width, boolean silu) {
        CpuOps.causalConv1d(out, convState, x, weight, bias, tokens, dim, width, silu);
    }

    @Override
    public void selectiveScan(MemorySegment out, MemorySegment state, MemorySegment u, MemorySegment delta,
                              MemorySegment a, MemorySegment b, MemorySegment c, MemorySegment d, MemorySegment z,
                              MemorySegment deltaBias, int tokens, int dim, int dstate, boolean deltaSoftplus) {
        CpuOps.selectiveScan(out, state, u, delta, a, b, c, d, z, deltaBias, tokens, dim, dstate, deltaSoftplus);
    }


    /** out = LN(x + xBias + residual), residual unchanged unless it is out. */
    @Override
    public void layerNorm(MemorySegment out, MemorySegment x, MemorySegment xBias, MemorySegment residual, MemorySegment weight,
                          MemorySegment bias, int tokens, int dim, float eps) {
        if (xBias != null) CpuOps.biasAct(x, xBias, tokens, dim, Activation.IDENTITY);
        if (residual == null) {
            CpuOps.layerNorm(out, null, x, weight, bias, tokens, dim, eps);
        } else if (out.address() == x.address()) {
            CpuOps.layerNorm(out, out, residual, weight, bias, tokens, dim, eps);
        } else {
            if (out.address() != residual.address()) MemorySegment.copy(residual, 0, out, 0, (long) tokens * dim * 4);
            CpuOps.layerNorm(out, out, x, weight, bias, tokens, dim, eps);
        }
    }

    @Override
    public void addBias(MemorySegment x, MemorySegment bias, int rows, int dim) {
        CpuOps.biasAct(x, bias, rows, dim, Activation.IDENTITY);
    }

    @Override
    public void gelu(MemorySegment x, long n) {
        if (n > 0) CpuOps.biasAct(x, null, 1, Math.toIntExact(n), Activation.GELU_ERF);
    }

    @Override
    public void biasGelu(MemorySegment x, MemorySegment bias, int rows, int dim) {
        CpuOps.biasAct(x, bias, rows, dim, Activation.GELU_ERF);
    }

    /** The padded batch as 2 * batch packed sequences (each real part, then its padding), padding rows zeroed after. */
    @Override
    public void attentionBidirectional(MemorySegment out, MemorySegment q, MemorySegment k, MemorySegment v, MemorySegment lengths,
                                       int batch, int seqLen, int heads, int headDim, int qkvStride) {
        long width = (long) heads * headDim;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cu = a.allocate(4L * (2 * batch + 1));
            for (int b = 0; b < batch; b++) {
                cu.setAtIndex(ValueLayout.JAVA_INT, 2 * b + 1, b * seqLen + lengths.getAtIndex(ValueLayout.JAVA_INT, b));
                cu.setAtIndex(ValueLayout.JAVA_INT, 2 * b + 2, (b + 1) * seqLen);
            }
            CpuOps.attentionVarlen(out, q, k, v, cu, 2 * batch, heads, heads, headDim, qkvStride, qkvStride,
                    (float) (1 / Math.sqrt(headDim)), false);
        }
        for (int b = 0; b < batch; b++) {
            int len = lengths.getAtIndex(ValueLayout.JAVA_INT, b);
            out.asSlice(((long) b * seqLen + len) * width * 4, (seqLen - len) * width * 4).fill((byte) 0);
        }
    }
}
