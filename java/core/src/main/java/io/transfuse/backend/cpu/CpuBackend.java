package io.transfuse.backend.cpu;

import io.transfuse.backend.Activation;
import io.transfuse.backend.Backend;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.RopeLayout;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.MemorySegment;

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
        CpuOps.matmulBias(out, x, w, wType, tokens, inDim, outDim, bias, act == Activation.GELU_ERF);
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

    @Override
    public void rmsnorm(MemorySegment out, MemorySegment x, MemorySegment weight, int tokens, int dim, float eps) {
        CpuOps.rmsnorm(out, x, weight, tokens, dim, eps);
    }

    @Override
    public void rope(MemorySegment x, int tokens, int heads, int headDim, int startPos, MemorySegment invFreq, RopeLayout layout) {
        CpuOps.rope(x, tokens, heads, headDim, headDim, startPos, invFreq, layout);
    }

    @Override
    public void attention(MemorySegment out, MemorySegment q, MemorySegment k, MemorySegment v,
                          int tokens, int startPos, int heads, int kvHeads, int headDim) {
        CpuOps.attention(out, q, k, v, tokens, startPos, heads, kvHeads, headDim, kvHeads * headDim);
    }

    @Override
    public void siluGlu(MemorySegment out, MemorySegment gate, MemorySegment up, long n) {
        CpuOps.siluGlu(out, gate, up, n);
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


    @Override
    public void layerNorm(MemorySegment out, MemorySegment x, MemorySegment xBias, MemorySegment residual, MemorySegment weight,
                          MemorySegment bias, int tokens, int dim, float eps) {
        CpuOps.layerNorm(out, x, xBias, residual, weight, bias, tokens, dim, eps);
    }

    @Override
    public void addBias(MemorySegment x, MemorySegment bias, int rows, int dim) {
        CpuOps.addBias(x, bias, rows, dim);
    }

    @Override
    public void gelu(MemorySegment x, long n) {
        CpuOps.gelu(x, n);
    }

    @Override
    public void biasGelu(MemorySegment x, MemorySegment bias, int rows, int dim) {
        CpuOps.biasGelu(x, bias, rows, dim);
    }

    @Override
    public void attentionBidirectional(MemorySegment out, MemorySegment q, MemorySegment k, MemorySegment v, MemorySegment lengths,
                                       int batch, int seqLen, int heads, int headDim, int qkvStride) {
        CpuOps.attentionBidirectional(out, q, k, v, lengths, batch, seqLen, heads, headDim, qkvStride);
    }
}
