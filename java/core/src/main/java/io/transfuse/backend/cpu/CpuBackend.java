package io.transfuse.backend.cpu;

import io.transfuse.backend.Activation;
import io.transfuse.backend.AttentionSpec;
import io.transfuse.backend.Backend;
import io.transfuse.backend.Conv2d;
import io.transfuse.backend.DecoderBatch;
import io.transfuse.backend.EncoderBatch;
import io.transfuse.backend.Heads;
import io.transfuse.backend.KeySpans;
import io.transfuse.backend.KvLayer;
import io.transfuse.backend.OpChecks;
import io.transfuse.backend.Pointwise;
import io.transfuse.backend.RelBiasPagedChecks;
import io.transfuse.backend.RwkvChecks;
import io.transfuse.backend.Rope;
import io.transfuse.backend.RopeLayout;
import io.transfuse.backend.WindowGrid;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Dequantize;
import io.transfuse.tensor.HostStorage;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The op set on libtransfuse_cpu (thread pool + SIMD), the embedded default. Activations are F32 in host
 * memory; weights are read where they lie (a memory-mapped file) in their stored type (F32, F16, BF16,
 * Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K), or repacked at load for compute-bound use. Fused ops are native where fusing saves a pass
 * over memory (norms with the residual add, matmul with bias and activation, RoPE with the KV write).
 * Memory is owned by one arena, freed on close; large allocations (the KV cache) are committed lazily.
 *
 * <p>The KV cache is F16 by default (values rounded to nearest even as they are written, widened to F32 as
 * they are read; all arithmetic F32): batched decode reads every cached key and value each step and is
 * bound by memory bandwidth, so halves take half the time, as in llama.cpp's default cache. The system
 * property {@value #KV_CACHE_PROPERTY}{@code =f32} (read when a backend is created), or
 * {@link #create(int, DType)}, keeps an exact F32 cache for whoever needs it (the two differ by the f16
 * rounding of K and V, relative 2^-11, which moves logits by about 1e-3).
 */
public final class CpuBackend implements Backend {
    /** System property choosing the KV cache's element type: {@code f16} (the default) or {@code f32}. */
    public static final String KV_CACHE_PROPERTY = "transfuse.cpu.kvCache";

    private final TrackedArena arena = new TrackedArena("CPU backend");
    private final DType kvCacheType;

    private CpuBackend(DType kvCacheType) { this.kvCacheType = kvCacheType; }

    /**
     * A backend whose KV cache type comes from the system property {@value #KV_CACHE_PROPERTY} (F16 when unset).
     *
     * @param threads threads for the kernels, 0 = one per core
     */
    public static CpuBackend create(int threads) {
        return create(threads, kvCacheTypeFromProperty());
    }

    /**
     * @param threads     threads for the kernels, 0 = one per core
     * @param kvCacheType the KV cache's element type: F16 or F32
     */
    public static CpuBackend create(int threads, DType kvCacheType) {
        if (kvCacheType != DType.F16 && kvCacheType != DType.F32) {
            throw new IllegalArgumentException("the CPU KV cache is F16 or F32, not " + kvCacheType);
        }
        if (threads > 0) CpuOps.setThreads(threads);
        return new CpuBackend(kvCacheType);
    }

    private static DType kvCacheTypeFromProperty() {
        String v = System.getProperty(KV_CACHE_PROPERTY, "f16").trim();
        return switch (v.toLowerCase(java.util.Locale.ROOT)) {
            case "f16" -> DType.F16;
            case "f32" -> DType.F32;
            default -> throw new IllegalArgumentException("system property " + KV_CACHE_PROPERTY + " must be f16 or f32, got '" + v + "'");
        };
    }

    @Override public String name() { return "cpu"; }

    @Override public DType activationType() { return DType.F32; }

    @Override public DType kvCacheType() { return kvCacheType; }

    /** The machine's memory, a container's limit, or the system property {@value HostMemory#LIMIT_PROPERTY}, whichever is least. */
    @Override public long memoryAvailable() { return HostMemory.limit(); }

    // ---- memory ---------------------------------------------------------------------------------

    @Override
    public Tensor allocate(String name, DType type, long... shape) {
        return new Tensor(name, type, shape, arena.allocateLazily(type.bytesFor(Tensor.elementCount(shape))));
    }

    @Override
    public Tensor upload(Tensor host, DType type) {
        if (type != DType.F32) throw new IllegalArgumentException("the CPU backend keeps parameters as F32, not " + type + " (" + host.describe() + ")");
        return Dequantize.toF32Tensor(host, arena);
    }

    /**
     * Q8_0 and Q4_0 weights are repacked into 16-row groups (DType.Q8_0_R16, Q4_0_R16) where the kernels prefer it
     * (AVX-512 VNNI; Q8_0 without AMX; CpuOps.rows16Type): the same bytes per decode step, a third of the vector work per
     * multiply-add for batched decode and prefill. Other STREAMED weights are used as they are (read in place,
     * in their stored type). BATCHED F32 weights are
     * packed once: on CPUs with AMX-BF16 into AMX tiles (DType.F32_AMX, see CpuOps.packF32Amx; f32-accurate,
     * 6 bytes per weight), else into column panels (DType.F32_PANELS), which skip the per-call repacking that
     * plain F32 needs for the outer-product kernel. DECODE F32 weights go into panels too, never AMX tiles:
     * decode is bandwidth-bound and would read 1.5x the bytes from the AMX layout, while the panels hold the
     * same bytes and their kernel reads one token's weights as fast as plain rows and runs batched decode
     * ~1.8x faster (transfuse_cpu_bench f32: 16 tokens of 768 x 2048 from DRAM 342 vs 635 us, 1 token 184 vs 202).
     */
    @Override
    public Tensor weight(Tensor w, WeightUse use) {
        host("weight", w);
        switch (w.dtype()) {
            case F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K -> { }
            default -> throw new IllegalArgumentException("weight " + w.describe() + ": the CPU backend reads F32, F16, BF16, "
                    + "Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K or Q6_K");
        }
        DType rows16 = w.rank() == 2 && w.isContiguous() ? CpuOps.rows16Type(w.dtype()) : null;
        if (rows16 != null) {
            int outDim = Math.toIntExact(w.rows()), inDim = Math.toIntExact(w.cols());
            MemorySegment groups = arena.allocate(CpuOps.packedRows16Bytes(rows16, inDim, outDim));
            CpuOps.packRows16(rows16, groups, w.data(), inDim, outDim);
            return new Tensor(w.name(), rows16, w.shape(), groups);
        }
        if (use == WeightUse.STREAMED || w.dtype() != DType.F32) return w;
        Tensor m = w.rank() == 2 ? w : w.reshape(w.rows(), w.cols());
        int outDim = Math.toIntExact(m.rows()), inDim = Math.toIntExact(m.cols());
        if (use == WeightUse.BATCHED && CpuOps.f32AmxEnabled()) {
            MemorySegment tiles = arena.allocate(CpuOps.packedF32AmxBytes(inDim, outDim));
            CpuOps.packF32Amx(tiles, m.data(), inDim, outDim);
            return new Tensor(w.name(), DType.F32_AMX, m.shape(), tiles);
        }
        MemorySegment panels = arena.allocate(CpuOps.packedF32Bytes(inDim, outDim));
        CpuOps.packF32(panels, m.data(), inDim, outDim);
        return new Tensor(w.name(), DType.F32_PANELS, m.shape(), panels);
    }

    @Override
    public void write(Tensor dst, int[] values, int from, int count) {
        OpChecks.ints("write", "dst", dst, count);
        MemorySegment.copy(values, from, host("write", dst), ValueLayout.JAVA_INT, 0, count);
    }

    @Override
    public void write(Tensor dst, float[] values, int from, int count) {
        if (isF16("write", dst, count)) { // a KV cache: rounded to nearest even, as the kernels store
            MemorySegment s = host("write", dst);
            for (int i = 0; i < count; i++) s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, Float.floatToFloat16(values[from + i]));
            return;
        }
        f32("write", dst, count);
        MemorySegment.copy(values, from, host("write", dst), ValueLayout.JAVA_FLOAT, 0, count);
    }

    @Override
    public void read(Tensor src, float[] dst, int at, int count) {
        if (isF16("read", src, count)) { // a KV cache
            MemorySegment s = host("read", src);
            for (int i = 0; i < count; i++) dst[at + i] = Float.float16ToFloat(s.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
            return;
        }
        f32("read", src, count);
        MemorySegment.copy(host("read", src), ValueLayout.JAVA_FLOAT, 0, dst, at, count);
    }

    @Override
    public int attentionHeadDim(int headDim, boolean paged) {
        if (headDim < 1 || headDim > CpuOps.MAX_HEAD_DIM) {
            throw new IllegalArgumentException("head dim " + headDim + " is outside the CPU attention's 1.." + CpuOps.MAX_HEAD_DIM);
        }
        return headDim;
    }

    @Override
    public void replay(Object key, Runnable step) { step.run(); }

    @Override
    public void close() { arena.close(); }

    // ---- ops ------------------------------------------------------------------------------------

    @Override
    public void matmul(Tensor out, Tensor x, Tensor w) {
        OpChecks.matmul("matmul", out, x, w);
        CpuOps.matmul(host("matmul", out), host("matmul", x), host("matmul", w), w.dtype(), rows(x), cols(x), cols(out));
    }

    @Override
    public void linear(Tensor out, Tensor x, Tensor w, Tensor bias, Activation act) {
        OpChecks.matmul("linear", out, x, w);
        OpChecks.vector("linear", "bias", bias, out.cols(), true);
        CpuOps.matmulBias(host("linear", out), host("linear", x), host("linear", w), w.dtype(), rows(x), cols(x), cols(out),
                orNull(bias), act);
    }

    @Override
    public void biasAct(Tensor x, Tensor bias, Activation act) {
        OpChecks.contiguous("biasAct", x);
        OpChecks.vector("biasAct", "bias", bias, x.cols(), true);
        CpuOps.biasAct(host("biasAct", x), orNull(bias), rows(x), cols(x), act);
    }

    @Override
    public void add(Tensor out, Tensor a, Tensor b) {
        OpChecks.sameShape("add", out, a, b);
        OpChecks.contiguous("add", out, a, b);
        CpuOps.add(host("add", out), host("add", a), host("add", b), out.elementCount());
    }

    @Override
    public void gatherRows(Tensor out, Tensor table, Tensor rows) {
        OpChecks.ints("gatherRows", "rows", rows, out.rows());
        OpChecks.width("gatherRows", "table", table, -1, out.cols());
        OpChecks.contiguous("gatherRows", out, table);
        CpuOps.embedding(host("gatherRows", out), host("gatherRows", table), table.dtype(), host("gatherRows", rows), rows(out), cols(out));
    }

    @Override
    public void rmsNorm(Tensor out, Tensor residual, Tensor x, Tensor weight, float eps) {
        OpChecks.norm("rmsNorm", out, residual, x, weight, null);
        CpuOps.rmsNorm(host("rmsNorm", out), orNull(residual), host("rmsNorm", x), host("rmsNorm", weight), rows(x), cols(x), eps);
    }

    @Override
    public void layerNorm(Tensor out, Tensor residual, Tensor x, Tensor weight, Tensor bias, float eps) {
        OpChecks.norm("layerNorm", out, residual, x, weight, bias);
        CpuOps.layerNorm(host("layerNorm", out), orNull(residual), host("layerNorm", x), host("layerNorm", weight), orNull(bias),
                rows(x), cols(x), eps);
    }

    @Override
    public void glu(Tensor out, Tensor gate, Tensor up, Activation act) {
        OpChecks.sameShape("glu", out, gate, up);
        OpChecks.contiguous("glu", out, gate, up);
        CpuOps.glu(host("glu", out), host("glu", gate), host("glu", up), out.elementCount(), act);
    }

    @Override
    public void ropeKv(Tensor q, Tensor k, Tensor v, KvLayer cache, Rope rope, Heads heads, DecoderBatch batch) {
        OpChecks.attention("ropeKv", q, k, v, cache, heads, batch);
        CpuOps.ropeKvCache(host("ropeKv", q), host("ropeKv", k), host("ropeKv", v), host("ropeKv", cache.keys()),
                host("ropeKv", cache.values()), kvType("ropeKv", cache), host("ropeKv", batch.blockTables()), host("ropeKv", batch.positions()),
                host("ropeKv", batch.seqIds()), rope.rotaryDim() == 0 ? null : host("ropeKv", rope.invFreq()), batch.tokens(),
                heads.heads(), heads.kvHeads(), heads.headDim(), rope.rotaryDim(), rope.layout(), rope.mscale(), cache.blockSize(),
                batch.maxBlocks());
    }

    @Override
    public void attention(Tensor out, Tensor q, Tensor k, Tensor v, KvLayer cache, Heads heads, DecoderBatch batch, AttentionSpec spec) {
        OpChecks.attention("attention", q, k, v, cache, heads, batch);
        OpChecks.width("attention", "out", out, batch.tokens(), heads.qWidth());
        OpChecks.contiguous("attention", out);
        CpuOps.attentionPaged(host("attention", out), host("attention", q), host("attention", cache.keys()),
                host("attention", cache.values()), kvType("attention", cache), host("attention", batch.tokenBlockTables()), host("attention", batch.contextLens()),
                batch.tokens(), heads.heads(), heads.kvHeads(), heads.headDim(), cache.blockSize(), batch.maxBlocks(), spec.scale(),
                spec.window(), spec.softcap());
    }

    @Override
    public void attentionVarlen(Tensor out, Tensor q, Tensor k, Tensor v, Heads heads, EncoderBatch batch, float scale, boolean causal) {
        OpChecks.varlen("attentionVarlen", out, q, k, v, heads, batch);
        CpuOps.attentionVarlen(host("attentionVarlen", out), host("attentionVarlen", q), host("attentionVarlen", k),
                host("attentionVarlen", v), host("attentionVarlen", batch.cuSeqlens()), batch.sequences(), heads.heads(),
                heads.kvHeads(), heads.headDim(), q.rowStride(), k.rowStride(), scale, causal);
    }

    @Override
    public void windowAttention(Tensor out, Tensor q, Tensor k, Tensor v, Tensor bias, Tensor logitScale, WindowGrid grid, int heads,
                                float scale) {
        OpChecks.window("windowAttention", out, q, k, v, bias, logitScale, grid, heads);
        String op = "windowAttention";
        CpuOps.windowAttention(host(op, out), host(op, q), host(op, k), host(op, v), host(op, bias), orNull(logitScale),
                grid.height(), grid.width(),
                grid.window(), grid.shift(), heads, Math.toIntExact(out.cols() / heads), q.rowStride(), scale);
    }

    @Override
    public void causalConv1d(Tensor out, Tensor x, Tensor state, Tensor weight, Tensor bias, boolean silu, boolean freshState) {
        OpChecks.conv("causalConv1d", out, x, state, weight, bias);
        int dim = cols(x), width = cols(weight);
        MemorySegment s = host("causalConv1d", state);
        if (freshState) s.fill((byte) 0);
        CpuOps.causalConv1d(host("causalConv1d", out), s, host("causalConv1d", x), host("causalConv1d", weight), orNull(bias),
                rows(x), dim, width, silu);
    }

    @Override
    public void conv2d(Tensor out, Tensor x, Tensor weight, Tensor bias, Conv2d conv, boolean relu) {
        OpChecks.conv2d("conv2d", out, x, weight, bias, conv);
        if (out.dtype() != DType.F32) throw new IllegalArgumentException("conv2d: the CPU convolves F32 tensors, not " + out.describe());
        CpuOps.conv2d(host("conv2d", out), host("conv2d", x), host("conv2d", weight), bias == null ? null : host("conv2d", bias), conv,
                relu);
    }

    @Override
    public void selectiveScan(Tensor out, Tensor state, Tensor u, Tensor delta, Tensor a, Tensor b, Tensor c, Tensor d, Tensor z,
                              Tensor deltaBias, boolean softplus, boolean freshState) {
        OpChecks.scan("selectiveScan", out, state, u, delta, a, b, c, d, z, deltaBias);
        int dim = cols(u), dstate = cols(a);
        MemorySegment s = host("selectiveScan", state);
        if (freshState) s.fill((byte) 0);
        CpuOps.selectiveScan(host("selectiveScan", out), s, host("selectiveScan", u), host("selectiveScan", delta),
                host("selectiveScan", a), host("selectiveScan", b), host("selectiveScan", c), orNull(d), orNull(z), orNull(deltaBias),
                rows(u), dim, dstate, softplus);
    }

    @Override
    public void ssdScan(Tensor out, Tensor state, Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor d, Tensor dtBias,
                        boolean freshState) {
        OpChecks.ssd("ssdScan", out, state, x, dt, a, b, c, d, dtBias);
        int heads = cols(dt), dstate = cols(state);
        MemorySegment s = host("ssdScan", state);
        if (freshState) s.fill((byte) 0);
        CpuOps.ssdScan(host("ssdScan", out), s, host("ssdScan", x), host("ssdScan", dt), host("ssdScan", a), host("ssdScan", b),
                host("ssdScan", c), orNull(d), orNull(dtBias), rows(x), heads, cols(x) / heads, cols(b) / dstate, dstate);
    }

    @Override
    public void gatedRmsNorm(Tensor out, Tensor x, Tensor z, Tensor weight, int groupSize, float eps) {
        OpChecks.gatedNorm("gatedRmsNorm", out, x, z, weight, groupSize);
        CpuOps.gatedRmsNorm(host("gatedRmsNorm", out), host("gatedRmsNorm", x), host("gatedRmsNorm", z),
                host("gatedRmsNorm", weight), rows(x), cols(x), groupSize, eps);
    }

    // ---- DETR (object detection): max pooling, cross-attention -----------------------------------

    @Override
    public void maxPool2d(Tensor out, Tensor x, Conv2d pool) {
        OpChecks.maxPool2d("maxPool2d", out, x, pool);
        if (out.dtype() != DType.F32) throw new IllegalArgumentException("maxPool2d: the CPU pools F32 tensors, not " + out.describe());
        CpuOps.maxPool2d(host("maxPool2d", out), host("maxPool2d", x), pool);
    }

    /**
     * Each sequence's queries over its keys through the paged-attention kernel: the sequence's keys and values are one
     * F32 "cache block" of len_k rows (contiguous [len_k][kvHeads][headDim] is that layout), every query row's block
     * table is that block and its context length len_k, so each query sees all keys and no others.
     */
    @Override
    public void crossAttention(Tensor out, Tensor q, Tensor k, Tensor v, Heads heads, EncoderBatch queries, EncoderBatch keys,
                               float scale) {
        String op = "crossAttention";
        OpChecks.crossAttention(op, out, q, k, v, heads, queries, keys);
        if (out.dtype() != DType.F32 || q.dtype() != DType.F32 || k.dtype() != DType.F32 || v.dtype() != DType.F32) {
            throw new IllegalArgumentException(op + ": the CPU attends over F32 tensors, got q " + q.describe() + ", k " + k.describe());
        }
        int maxQueries = 0;
        for (int b = 0; b < queries.sequences(); b++) maxQueries = Math.max(maxQueries, queries.length(b));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment table = arena.allocate(ValueLayout.JAVA_INT, maxQueries); // zeros: block 0
            MemorySegment lens = arena.allocate(ValueLayout.JAVA_INT, maxQueries);
            for (int b = 0; b < queries.sequences(); b++) {
                int nq = queries.length(b), nk = keys.length(b), q0 = queries.start(b), k0 = keys.start(b);
                lens.fill((byte) 0);
                for (int i = 0; i < nq; i++) lens.setAtIndex(ValueLayout.JAVA_INT, i, nk);
                CpuOps.attentionPaged(host(op, out.rows(q0, nq)), host(op, q.rows(q0, nq)), host(op, k.rows(k0, nk)),
                        host(op, v.rows(k0, nk)), DType.F32, table.asSlice(0, 4L * nq), lens.asSlice(0, 4L * nq), nq, heads.heads(),
                        heads.kvHeads(), heads.headDim(), nk, 1, scale, 0, 0f);
            }
        }
    }

    // ---- BERT variants (MobileBERT, ModernBERT, nomic-bert, JinaBERT) ----------------------------

    @Override
    public void noNorm(Tensor out, Tensor residual, Tensor x, Tensor weight, Tensor bias) {
        OpChecks.norm("noNorm", out, residual, x, weight, bias);
        CpuOps.noNorm(host("noNorm", out), orNull(residual), host("noNorm", x), host("noNorm", weight), orNull(bias), rows(x), cols(x));
    }

    @Override
    public void rope(Tensor q, Tensor k, Tensor positions, Rope rope, Heads heads) {
        OpChecks.encoderRope("rope", q, k, positions, rope, heads);
        CpuOps.rope(host("rope", q), host("rope", k), host("rope", positions), host("rope", rope.invFreq()), rows(q), heads.heads(),
                heads.kvHeads(), heads.headDim(), rope.rotaryDim(), rope.layout() == RopeLayout.HALF_SPLIT ? 1 : 0, rope.mscale());
    }

    @Override
    public void attentionVarlenMasked(Tensor out, Tensor q, Tensor k, Tensor v, Heads heads, EncoderBatch batch, float scale, int window,
                                      Tensor alibiSlopes) {
        String op = "attentionVarlenMasked";
        OpChecks.maskedVarlen(op, out, q, k, v, heads, batch, window, alibiSlopes);
        // Without a mask this is plain bidirectional attention: the tiled per-ISA kernel is several times faster than
        // the masked loop (ModernBERT's global layers, nomic-bert).
        if (window == 0 && alibiSlopes == null) {
            attentionVarlen(out, q, k, v, heads, batch, scale, false);
            return;
        }
        CpuOps.attentionVarlenMasked(host(op, out), host(op, q), host(op, k), host(op, v), host(op, batch.cuSeqlens()), batch.sequences(),
                heads.heads(), heads.kvHeads(), heads.headDim(), q.rowStride(), k.rowStride(), scale, window,
                alibiSlopes == null ? null : host(op, alibiSlopes));
    }

    // ---- RWKV (issue 17) ------------------------------------------------------------------------

    @Override
    public void tokenShift(Tensor out, Tensor x, Tensor state, boolean freshState) {
        RwkvChecks.tokenShift("tokenShift", out, x, state);
        CpuRwkvOps.tokenShift(host("tokenShift", out), host("tokenShift", state), host("tokenShift", x), rows(x), cols(x), freshState);
    }

    @Override
    public void tokenMix(Tensor out, Tensor x, Tensor sx, Tensor mix, Tensor mixBias) {
        RwkvChecks.tokenMix("tokenMix", out, x, sx, mix, mixBias);
        CpuRwkvOps.tokenMix(host("tokenMix", out), host("tokenMix", x), host("tokenMix", sx), host("tokenMix", mix), rows(mix),
                orNull(mixBias), rows(x), cols(x));
    }

    @Override
    public void pointwise(Tensor x, Pointwise fn) {
        RwkvChecks.pointwise("pointwise", x, fn);
        CpuRwkvOps.pointwise(host("pointwise", x), x.elementCount(), fn.code());
    }

    @Override
    public void wkv6(Tensor out, Tensor state, Tensor r, Tensor k, Tensor v, Tensor w, Tensor u, Tensor lnWeight, Tensor lnBias,
                     float eps, boolean freshState) {
        RwkvChecks.wkv6("wkv6", out, state, r, k, v, w, u, lnWeight, lnBias);
        int s = cols(state);
        MemorySegment st = host("wkv6", state);
        if (freshState) st.fill((byte) 0);
        CpuRwkvOps.wkv6(host("wkv6", out), st, host("wkv6", r), host("wkv6", k), host("wkv6", v), host("wkv6", w), host("wkv6", u),
                host("wkv6", lnWeight), host("wkv6", lnBias), rows(out), cols(out) / s, s, eps);
    }

    @Override
    public void wkv7(Tensor out, Tensor state, Tensor r, Tensor w, Tensor k, Tensor v, Tensor a, Tensor vFirst, Tensor vMix, Tensor kK,
                     Tensor kA, Tensor rK, Tensor lnWeight, Tensor lnBias, float eps, boolean freshState) {
        RwkvChecks.wkv7("wkv7", out, state, r, w, k, v, a, vFirst, vMix, kK, kA, rK, lnWeight, lnBias);
        int s = cols(state);
        MemorySegment st = host("wkv7", state);
        if (freshState) st.fill((byte) 0);
        CpuRwkvOps.wkv7(host("wkv7", out), st, host("wkv7", r), host("wkv7", w), host("wkv7", k), host("wkv7", v), host("wkv7", a),
                orNull(vFirst), orNull(vMix), host("wkv7", kK), host("wkv7", kA), host("wkv7", rK), host("wkv7", lnWeight),
                host("wkv7", lnBias), rows(out), cols(out) / s, s, eps);
    }

    // ---- helpers --------------------------------------------------------------------------------

    /** The host segment of {@code t}, or an error naming it when it lives on a device. */
    private static MemorySegment host(String op, Tensor t) {
        if (!(t.storage() instanceof HostStorage h)) {
            throw new IllegalArgumentException(op + ": tensor " + t.describe() + " is not in host memory (made by another backend?)");
        }
        return h.segment();
    }

    private static MemorySegment orNull(Tensor t) {
        return t == null ? null : host("op", t);
    }

    /** True for a contiguous F16 tensor of at least {@code count} elements; an error for a short or strided one. */
    private static boolean isF16(String op, Tensor t, long count) {
        if (t.dtype() != DType.F16) return false;
        if (!t.isContiguous() || t.elementCount() < count) {
            throw new IllegalArgumentException(op + ": tensor " + t.describe() + " must be contiguous with at least " + count + " elements");
        }
        return true;
    }

    /** The element type of a KV layer's tensors (both the same). */
    private static DType kvType(String op, KvLayer cache) {
        DType t = cache.keys().dtype();
        if (cache.values().dtype() != t) {
            throw new IllegalArgumentException(op + ": the key cache " + cache.keys().describe() + " and the value cache "
                    + cache.values().describe() + " must have one element type");
        }
        return t;
    }

    private static void f32(String op, Tensor t, long count) {
        if (t.dtype() != DType.F32 || !t.isContiguous() || t.elementCount() < count) {
            throw new IllegalArgumentException(op + ": tensor " + t.describe() + " must be contiguous F32 with at least " + count + " elements");
        }
    }

    private static int rows(Tensor t) { return Math.toIntExact(t.rows()); }

    private static int cols(Tensor t) { return Math.toIntExact(t.cols()); }

    // ---- encoder-decoder (seq2seq) ------------------------------------------------------------

    @Override
    public void attentionRelBias(Tensor out, Tensor q, Tensor k, Tensor v, KeySpans spans, Tensor bias, int biasRadius, Heads heads,
                                 float scale) {
        String op = "attentionRelBias";
        KeySpans.check(op, out, q, k, v, spans, bias, biasRadius, heads);
        for (Tensor t : new Tensor[] {out, q, k, v}) f32(op, t, t.elementCount());
        CpuOps.attentionRelBias(host(op, out), host(op, q), host(op, k), host(op, v), host(op, spans.table()),
                bias == null ? null : host(op, bias), biasRadius, spans.tokens(), k.rows(), heads.heads(), heads.kvHeads(),
                heads.headDim(), scale);
    }

    // ---- seq2seq decoder on the paged KV cache (issue 17) ---------------------------------------

    @Override
    public void attentionRelBiasPaged(Tensor out, Tensor q, KvLayer cache, DecoderBatch batch, Tensor bias, int biasRadius, Heads heads,
                                      float scale) {
        String op = "attentionRelBiasPaged";
        RelBiasPagedChecks.check(op, out, q, cache, batch, bias, biasRadius, heads);
        f32(op, q, q.elementCount());
        CpuOps.attentionRelBiasPaged(host(op, out), host(op, q), host(op, cache.keys()), host(op, cache.values()),
                host(op, batch.tokenBlockTables()), host(op, batch.positions()), bias == null ? null : host(op, bias), biasRadius,
                batch.tokens(), heads.heads(), heads.kvHeads(), heads.headDim(), cache.blockSize(), batch.maxBlocks(), scale);
    }
}
