package io.transfuse.cuda;

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
import io.transfuse.backend.RelBiasPagedChecks;
import io.transfuse.backend.RwkvChecks;
import io.transfuse.backend.Rope;
import io.transfuse.backend.RopeLayout;
import io.transfuse.backend.WindowGrid;
import io.transfuse.cuda.kernels.KernelLibrary;
import io.transfuse.cuda.cudnn.CudnnConv2d;
import io.transfuse.cuda.cudnn.CudnnException;
import io.transfuse.cuda.cudnn.CudnnLibrary;
import io.transfuse.cuda.cudnn.CudnnLocator;
import io.transfuse.cuda.cudnn.CudnnNotSupportedException;
import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.cuda.memory.DeviceBuffer;
import io.transfuse.cuda.runtime.Gemm;
import io.transfuse.cuda.runtime.GpuGraph;
import io.transfuse.cuda.runtime.GpuRuntime;
import io.transfuse.cuda.runtime.GpuStream;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Dequantize;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The op set on a GPU runtime: {@code cuda} (JCuda + cuBLAS on a device) or {@code cuda-emu} (the same
 * kernels on the host emulator). Activations, parameters and the KV cache are of one half type (fp16, or
 * bf16 with {@code -Dtransfuse.cuda.dtype=bf16}), accumulating in fp32; matmuls are cuBLAS GEMMs (fp32
 * compute), everything else the kernels of native/kernels through {@link KernelLibrary}. Weights are
 * converted and uploaded once. Memory belongs to one {@link DeviceArena}, freed on close with the runtime.
 *
 * <p>Recorded steps ({@link #replay}): the first call for a key runs the step directly (so buffers the ops
 * size on first use are allocated outside any capture), the second records it as a graph, later calls
 * replay it. Inside a recording every launch parameter is fixed by the key: attention sizes its decode
 * grid for the cache's full context, not the batch's.
 *
 * <p>The Mamba conv and scan kernels are channel-major ([dim][tokens]); for a multi-token sequence the ops
 * transpose into scratch buffers and back. A one-token step is the same in both layouts.
 */
public final class CudaBackend implements Backend {
    /** Recorded steps kept at once (a decode step per batch size, per Mamba slot set). */
    private static final int MAX_GRAPHS = 64;

    private final String name;
    private final GpuRuntime rt;
    private final KernelLibrary kk;
    private final GpuStream stream;
    private final DType act;
    private final DeviceArena arena;
    private final Map<Object, GpuGraph> graphs = new LinkedHashMap<>(16, 0.75f, true);
    private final Set<Object> ranOnce = new HashSet<>();
    private final DeviceBuffer[] scratch = new DeviceBuffer[6];
    private DeviceBuffer decodeScratch;
    private MemorySegment staging;
    /** Inside {@link #replay}: the step's launches must not depend on the batch's host values (its first run included). */
    private boolean replaying, capturing, closed;
    /** {@link CudnnConv2d#enabled()} when this backend was made (read once: a property changed later does not switch it). */
    private final boolean cudnnWanted = CudnnConv2d.enabled();
    private CudnnConv2d cudnn;
    private boolean cudnnTried;
    private String convEngine;

    /**
     * @param name     {@code cuda} or {@code cuda-emu}
     * @param runtime  the runtime, owned from now on (closed with this backend)
     * @param halfType F16 or BF16: activations, parameters, KV cache
     */
    public CudaBackend(String name, GpuRuntime runtime, DType halfType) {
        if (halfType != DType.F16 && halfType != DType.BF16) throw new IllegalArgumentException("GPU activations are F16 or BF16, not " + halfType);
        this.name = name;
        this.rt = runtime;
        this.kk = runtime.kernels();
        this.stream = runtime.defaultStream();
        this.act = halfType;
        this.arena = new DeviceArena(runtime, name + " backend on " + runtime.properties().name());
    }

    @Override public String name() { return name; }

    @Override public DType activationType() { return act; }

    /** Steps recorded as graphs so far (for tests: later calls replay, they do not record again). */
    public int recordedGraphs() { return graphs.size(); }

    // ---- memory ---------------------------------------------------------------------------------

    /** Device memory free now (cudaMemGetInfo; the emulator's budget less what it handed out). */
    @Override
    public long memoryAvailable() { return rt.freeBytes(); }

    @Override
    public Tensor allocate(String tensorName, DType type, long... shape) {
        long bytes = type.bytesFor(Tensor.elementCount(shape));
        return new Tensor(tensorName, type, shape, arena.allocate(tensorName, Math.max(bytes, 16)));
    }

    @Override
    public Tensor upload(Tensor host, DType type) {
        if (type != DType.F32 && type != DType.F16 && type != DType.BF16) {
            throw new IllegalArgumentException("upload of " + host.describe() + ": the GPU holds F32, F16 or BF16, not " + type);
        }
        Tensor t = allocate(host.name(), type, host.shape());
        long cols = host.cols(), bytes = t.spanBytes();
        // Ordinary host memory (weights are uploaded once; a pinned buffer of the largest would outlive its use).
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(Math.max(bytes, 1), 64);
            Dequantize.forEachRow(host, (r, row) -> {
                for (long j = 0; j < cols; j++) type.put(s, r * cols + j, row.getAtIndex(ValueLayout.JAVA_FLOAT, j));
            });
            rt.copyHostToDevice(stream, s.asSlice(0, bytes), address(t, bytes), bytes);
        }
        return t;
    }

    /** Matmul weights are uploaded once in the activation type (GEMM operands share one type). */
    @Override
    public Tensor weight(Tensor host, WeightUse use) {
        return upload(host, act);
    }

    @Override
    public void write(Tensor dst, int[] values, int from, int count) {
        OpChecks.ints("write", "dst", dst, count);
        long bytes = (long) count * Integer.BYTES;
        MemorySegment s = staging(bytes);
        MemorySegment.copy(values, from, s, ValueLayout.JAVA_INT, 0, count);
        rt.copyHostToDevice(stream, s.asSlice(0, bytes), address(dst, bytes), bytes);
    }

    @Override
    public void write(Tensor dst, float[] values, int from, int count) {
        DType t = floatType("write", dst, count);
        long bytes = (long) count * t.elementBytes();
        MemorySegment s = staging(bytes);
        for (int i = 0; i < count; i++) t.put(s, i, values[from + i]);
        rt.copyHostToDevice(stream, s.asSlice(0, bytes), address(dst, bytes), bytes);
    }

    @Override
    public void read(Tensor src, float[] dst, int at, int count) {
        DType t = floatType("read", src, count);
        long bytes = (long) count * t.elementBytes();
        MemorySegment s = staging(bytes);
        rt.copyDeviceToHost(stream, address(src, bytes), s.asSlice(0, bytes), bytes);
        for (int i = 0; i < count; i++) dst[at + i] = t.get(s, i);
    }

    @Override
    public int attentionHeadDim(int headDim, boolean paged) {
        for (int d : paged ? KernelLibrary.ATTENTION_HEAD_DIMS : KernelLibrary.PREFILL_HEAD_DIMS) if (d >= headDim) return d;
        throw new IllegalArgumentException("head dim " + headDim + " is larger than the CUDA attention kernels support ("
                + KernelLibrary.ATTENTION_HEAD_DIMS[KernelLibrary.ATTENTION_HEAD_DIMS.length - 1] + ")");
    }

    @Override
    public void replay(Object key, Runnable step) {
        checkOpen();
        if (replaying) {
            step.run();
            return;
        }
        GpuGraph g = graphs.get(key);
        if (g == null) {
            replaying = true;
            try {
                if (ranOnce.add(key)) {
                    step.run(); // the first call runs directly: ops allocate what they size on first use
                    return;
                }
                rt.beginCapture(stream);
                capturing = true;
                try {
                    step.run();
                } finally {
                    capturing = false;
                    g = rt.endCapture(stream);
                }
            } finally {
                replaying = false;
            }
            graphs.put(key, g);
            if (graphs.size() > MAX_GRAPHS) {
                var eldest = graphs.entrySet().iterator().next();
                eldest.getValue().close();
                graphs.remove(eldest.getKey());
            }
        }
        g.launch(stream);
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (GpuGraph g : graphs.values()) g.close();
        graphs.clear();
        try {
            if (cudnn != null) cudnn.close();
            arena.close();
        } finally {
            rt.close();
        }
    }

    // ---- dense ----------------------------------------------------------------------------------

    @Override
    public void matmul(Tensor out, Tensor x, Tensor w) {
        OpChecks.matmul("matmul", out, x, w);
        sameType("matmul", x, w);
        if (out.dtype() != act && out.dtype() != DType.F32) throw new IllegalArgumentException("matmul: out " + out.describe() + " must be " + act + " or F32");
        if (x.rows() == 0) return;
        rt.gemm(stream, Gemm.linear(address(out), out.dtype(), address(x), address(w), w.dtype(), rows(x), cols(x), cols(out)));
    }

    @Override
    public void linear(Tensor out, Tensor x, Tensor w, Tensor bias, Activation a) {
        matmul(out, x, w);
        if (bias != null || a != Activation.IDENTITY) biasAct(out, bias, a);
    }

    @Override
    public void biasAct(Tensor x, Tensor bias, Activation a) {
        OpChecks.contiguous("biasAct", x);
        OpChecks.vector("biasAct", "bias", bias, x.cols(), true);
        if (bias != null) sameType("biasAct", x, bias);
        kk.biasAct(stream, address(x), address(x), bias == null ? 0 : address(bias), 0, rows(x), cols(x), 0, a, x.dtype());
    }

    @Override
    public void add(Tensor out, Tensor a, Tensor b) {
        OpChecks.sameShape("add", out, a, b);
        OpChecks.contiguous("add", out, a, b);
        sameType("add", out, a, b);
        kk.biasAct(stream, address(out), address(a), 0, address(b), rows(out), cols(out), 0, Activation.IDENTITY, out.dtype());
    }

    @Override
    public void gatherRows(Tensor out, Tensor table, Tensor rows) {
        OpChecks.ints("gatherRows", "rows", rows, out.rows());
        OpChecks.width("gatherRows", "table", table, -1, out.cols());
        OpChecks.contiguous("gatherRows", out, table);
        sameType("gatherRows", out, table);
        kk.embedding(stream, address(out), address(rows), address(table), rows(out), cols(out), rows(table), out.dtype());
    }

    @Override
    public void rmsNorm(Tensor out, Tensor residual, Tensor x, Tensor weight, float eps) {
        OpChecks.norm("rmsNorm", out, residual, x, weight, null);
        sameType("rmsNorm", out, x, weight, residual);
        kk.rmsnorm(stream, address(out), residual == null ? 0 : address(residual), address(x), address(weight), rows(x), cols(x), eps, act);
    }

    @Override
    public void layerNorm(Tensor out, Tensor residual, Tensor x, Tensor weight, Tensor bias, float eps) {
        OpChecks.norm("layerNorm", out, residual, x, weight, bias);
        sameType("layerNorm", out, x, weight, residual, bias);
        kk.layernorm(stream, address(out), residual == null ? 0 : address(residual), address(x), address(weight),
                bias == null ? 0 : address(bias), rows(x), cols(x), eps, act);
    }

    @Override
    public void glu(Tensor out, Tensor gate, Tensor up, Activation a) {
        OpChecks.sameShape("glu", out, gate, up);
        OpChecks.contiguous("glu", out, gate, up);
        sameType("glu", out, gate, up);
        kk.glu(stream, address(out), address(gate), address(up), rows(out), cols(out), cols(out), a, act);
    }

    // ---- attention ------------------------------------------------------------------------------

    @Override
    public void ropeKv(Tensor q, Tensor k, Tensor v, KvLayer cache, Rope rope, Heads heads, DecoderBatch batch) {
        OpChecks.attention("ropeKv", q, k, v, cache, heads, batch);
        sameType("ropeKv", q, k, v, cache.keys(), cache.values());
        if (rope.invFreq() != null && rope.invFreq().dtype() != DType.F32) throw new IllegalArgumentException("ropeKv: inverse frequencies must be F32");
        int n = batch.tokens(), rot = rope.rotaryDim(), layout = rope.layout().ordinal();
        long invFreq = rot == 0 ? 0 : address(rope.invFreq());
        long kc = address(cache.keys()), vc = address(cache.values()), tables = address(batch.blockTables()),
                pos = address(batch.positions()), seq = address(batch.seqIds());
        if (prefillPath(batch, heads)) {
            // Attention will read the batch's own K: rotate it in place, then store it as it is.
            if (rot > 0) kk.rope(stream, address(q), address(k), pos, invFreq, n, heads.heads(), heads.kvHeads(), heads.headDim(), rot, layout, rope.mscale(), act);
            kk.ropeKvCache(stream, 0, address(k), address(v), kc, vc, tables, pos, seq, 0, n, heads.heads(), heads.kvHeads(),
                    heads.headDim(), 0, layout, 1f, cache.blockSize(), batch.maxBlocks(), act);
        } else {
            kk.ropeKvCache(stream, address(q), address(k), address(v), kc, vc, tables, pos, seq, invFreq, n, heads.heads(),
                    heads.kvHeads(), heads.headDim(), rot, layout, rope.mscale(), cache.blockSize(), batch.maxBlocks(), act);
        }
    }

    @Override
    public void attention(Tensor out, Tensor q, Tensor k, Tensor v, KvLayer cache, Heads heads, DecoderBatch batch, AttentionSpec spec) {
        OpChecks.attention("attention", q, k, v, cache, heads, batch);
        OpChecks.width("attention", "out", out, batch.tokens(), heads.qWidth());
        sameType("attention", out, q, k, v, cache.keys());
        int n = batch.tokens();
        if (prefillPath(batch, heads)) {
            kk.attentionPrefill(stream, address(q), address(k), address(v), address(out), address(batch.cuSeqlens()),
                    address(batch.cuSeqlens()), batch.sequences(), batch.maxCount(), heads.heads(), heads.kvHeads(), heads.headDim(),
                    heads.qWidth(), heads.kvWidth(), spec.scale(), true, spec.window(), spec.softcap(), act);
            return;
        }
        // Every token as its own query over its sequence's pages (flash-decoding; prefill chunks that continue a
        // sequence take this path too). A recording sizes the split grid for the full context.
        int fullContext = batch.maxBlocks() * cache.blockSize();
        int maxContext = replaying ? fullContext : batch.maxContext();
        // The kernel splits only the visible keys: with a window, at most `window` of them.
        int splitLen = splitLen(heads, spec.window() > 0 ? Math.min(fullContext, spec.window()) : fullContext);
        long scratchBytes = kk.decodeWorkspaceBytes(batch.maxTokens(), heads.heads(), heads.headDim(), fullContext, splitLen);
        if (decodeScratch == null || decodeScratch.bytes() < scratchBytes) {
            if (capturing) throw new IllegalStateException("attention: the decode workspace must be sized before a step is recorded");
            if (decodeScratch != null) arena.release(decodeScratch);
            decodeScratch = arena.allocate("flash-decoding split workspace", Math.max(16, scratchBytes));
        }
        kk.attentionDecode(stream, address(q), address(cache.keys()), address(cache.values()), address(out),
                address(batch.tokenBlockTables()), address(batch.contextLens()), n, heads.heads(), heads.kvHeads(), heads.headDim(),
                cache.blockSize(), batch.maxBlocks(), maxContext, splitLen, spec.scale(), spec.window(), spec.softcap(),
                decodeScratch.address(), act);
    }

    /** Whether attention reads the pass's own K and V with the prefill kernel (every sequence from position 0, not in a recorded step). */
    private boolean prefillPath(DecoderBatch batch, Heads heads) {
        return batch.prefillOnly() && !replaying && KernelLibrary.supportsPrefillHeadDim(heads.headDim());
    }

    /**
     * Keys per split CTA of flash-decoding over at most {@code visible} keys per query: one split per sequence on
     * the emulator (each CTA is costly there), else enough to fill the SMs.
     */
    private int splitLen(Heads heads, int visible) {
        if (rt.properties().computeCapability() == 0) return Math.max(64, (visible + 63) / 64 * 64);
        return kk.decodeDefaultSplitLen(1, heads.heads(), heads.kvHeads(), visible, rt.properties().multiprocessors());
    }

    @Override
    public void attentionVarlen(Tensor out, Tensor q, Tensor k, Tensor v, Heads heads, EncoderBatch batch, float scale, boolean causal) {
        OpChecks.varlen("attentionVarlen", out, q, k, v, heads, batch);
        sameType("attentionVarlen", out, q, k, v);
        long cu = address(batch.cuSeqlens());
        kk.attentionPrefill(stream, address(q), address(k), address(v), address(out), cu, cu, batch.sequences(), batch.maxLength(),
                heads.heads(), heads.kvHeads(), heads.headDim(), q.rowStride(), k.rowStride(), scale, causal, act);
    }

    @Override
    public void windowAttention(Tensor out, Tensor q, Tensor k, Tensor v, Tensor bias, Tensor logitScale, WindowGrid grid, int heads,
                                float scale) {
        OpChecks.window("windowAttention", out, q, k, v, bias, logitScale, grid, heads);
        sameType("windowAttention", out, q, k, v);
        kk.windowAttention(stream, address(q), address(k), address(v), address(out), address(bias),
                logitScale == null ? 0 : address(logitScale), grid.height(), grid.width(),
                grid.window(), grid.shift(), heads, Math.toIntExact(out.cols() / heads), q.rowStride(), scale, act);
    }

    // ---- state-space (Mamba) --------------------------------------------------------------------

    @Override
    public void causalConv1d(Tensor out, Tensor x, Tensor state, Tensor weight, Tensor bias, boolean silu, boolean freshState) {
        OpChecks.conv("causalConv1d", out, x, state, weight, bias);
        int n = rows(x), dim = cols(x), width = cols(weight);
        sameType("causalConv1d", out, x, state, weight, bias);
        long w = address(weight), b = bias == null ? 0 : address(bias), st = width > 1 ? address(state) : 0;
        if (freshState && width > 1) rt.memset(stream, st, 0, state.spanBytes());
        if (n == 1 || !freshState) {
            // One token: [1][dim] is both layouts. A continuation chunk: token by token, each step rolling the state.
            for (int i = 0; i < n; i++) {
                kk.causalConv1dUpdate(stream, address(out.row(i)), st, address(x.row(i)), w, b, 1, dim, width, silu, act);
            }
            return;
        }
        long e = act.elementBytes(), bytes = (long) n * dim * e;
        long xT = scratch(0, bytes), yT = scratch(1, bytes);
        kk.transpose(stream, xT, address(x), n, dim, act);
        kk.causalConv1d(stream, yT, st, xT, w, b, 1, dim, n, width, silu, act);
        kk.transpose(stream, address(out), yT, dim, n, act);
    }

    /**
     * cuDNN's fused conv + bias + ReLU when it is enabled ({@value CudnnConv2d#ENABLE_PROPERTY}{@code =on}), found and
     * supports the graph, outside graph capture (building a plan allocates its workspace); else the CUDA-dialect
     * implicit-GEMM kernel (conv2d.cuh), which is also what cuda-emu runs.
     */
    @Override
    public void conv2d(Tensor out, Tensor x, Tensor weight, Tensor bias, Conv2d conv, boolean relu) {
        OpChecks.conv2d("conv2d", out, x, weight, bias, conv);
        sameType("conv2d", out, x, weight, bias);
        long b = bias == null ? 0 : address(bias);
        CudnnConv2d c = capturing ? null : cudnn();
        if (c != null) {
            try {
                c.run(stream.handle(), conv, out.dtype(), address(out), address(x), address(weight), b, relu);
                convEngine = c.describe();
                return;
            } catch (CudnnNotSupportedException e) {
                // no cuDNN engine for this shape or type here: the kernel below computes the same
            }
        }
        kk.conv2d(stream, address(out), address(x), address(weight), b, conv, relu, out.dtype());
        convEngine = "kernel";
    }

    /**
     * What ran the last conv2d: {@code "cuDNN <version> (<library>)"} or {@code "kernel"} (the CUDA-dialect
     * implicit GEMM); null before the first. For tests and reports.
     */
    public String convolutionEngine() { return convEngine; }

    /** The cuDNN convolution on a real GPU when enabled, opened at the first conv; null otherwise (said once when missing). */
    private CudnnConv2d cudnn() {
        if (cudnnTried) return cudnn;
        cudnnTried = true;
        if (!"cuda".equals(name) || !cudnnWanted) return null;
        try {
            cudnn = new CudnnConv2d(CudnnLibrary.open(CudnnLocator.system()), arena);
        } catch (CudnnException e) {
            System.err.println("transfuse: " + e.getMessage());
        }
        return cudnn;
    }

    @Override
    public void selectiveScan(Tensor out, Tensor state, Tensor u, Tensor delta, Tensor a, Tensor b, Tensor c, Tensor d, Tensor z,
                              Tensor deltaBias, boolean softplus, boolean freshState) {
        OpChecks.scan("selectiveScan", out, state, u, delta, a, b, c, d, z, deltaBias);
        int n = rows(u), dim = cols(u), dstate = cols(a);
        sameType("selectiveScan", out, u, delta, b, c, z);
        sameType("selectiveScan", state, a, d, deltaBias);
        if (state.dtype() != DType.F32) throw new IllegalArgumentException("selectiveScan: the state, A, D and deltaBias are F32");
        if (!softplus) throw new UnsupportedOperationException("selectiveScan: the CUDA kernels apply softplus to dt (Mamba-1)");
        long st = address(state), aa = address(a), dd = d == null ? 0 : address(d), db = deltaBias == null ? 0 : address(deltaBias);
        if (n == 1) {
            if (freshState) rt.memset(stream, st, 0, state.spanBytes());
            kk.selectiveStateUpdate(stream, address(out), st, address(u), address(delta), aa, address(b), address(c), dd,
                    z == null ? 0 : address(z), db, 1, dim, dstate, 1, act);
            return;
        }
        long e = act.elementBytes(), rowBytes = (long) n * dim * e, bcBytes = (long) n * dstate * e;
        long uT = scratch(0, rowBytes), dT = scratch(1, rowBytes), zT = z == null ? 0 : scratch(2, rowBytes), bT = scratch(3, bcBytes),
                cT = scratch(4, bcBytes), yT = scratch(5, rowBytes);
        kk.transpose(stream, uT, address(u), n, dim, act);
        kk.transpose(stream, dT, address(delta), n, dim, act);
        if (z != null) kk.transpose(stream, zT, address(z), n, dim, act);
        kk.transpose(stream, bT, address(b), n, dstate, act);
        kk.transpose(stream, cT, address(c), n, dstate, act);
        kk.selectiveScan(stream, yT, st, uT, dT, aa, bT, cT, dd, zT, db, freshState ? 0 : st, 1, dim, n, dstate, 1, act);
        kk.transpose(stream, address(out), yT, dim, n, act);
    }

    @Override
    public void ssdScan(Tensor out, Tensor state, Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor d, Tensor dtBias,
                        boolean freshState) {
        OpChecks.ssd("ssdScan", out, state, x, dt, a, b, c, d, dtBias);
        int n = rows(x), heads = cols(dt), dstate = cols(state), headDim = cols(x) / heads, groups = cols(b) / dstate;
        sameType("ssdScan", out, x, dt, b, c);
        sameType("ssdScan", state, a, d, dtBias);
        if (state.dtype() != DType.F32) throw new IllegalArgumentException("ssdScan: the state, A, D and dtBias are F32");
        long st = address(state), dd = d == null ? 0 : address(d), db = dtBias == null ? 0 : address(dtBias);
        if (n == 1) {
            // decode: the one-step update, in place on the state
            if (freshState) rt.memset(stream, st, 0, state.spanBytes());
            kk.ssdStateUpdate(stream, address(out), st, address(x), address(dt), address(a), address(b), address(c), dd, db, 1,
                    heads, headDim, groups, dstate, act);
            return;
        }
        kk.ssdScan(stream, address(out), st, address(x), address(dt), address(a), address(b), address(c), dd, db, freshState, n,
                heads, headDim, groups, dstate, act);
    }

    @Override
    public void gatedRmsNorm(Tensor out, Tensor x, Tensor z, Tensor weight, int groupSize, float eps) {
        OpChecks.gatedNorm("gatedRmsNorm", out, x, z, weight, groupSize);
        sameType("gatedRmsNorm", out, x, z, weight);
        kk.gatedRmsnorm(stream, address(out), address(x), address(z), address(weight), rows(x), cols(x), groupSize, eps, act);
    }

    // ---- BERT variants (MobileBERT, ModernBERT, nomic-bert, JinaBERT) ----------------------------

    @Override
    public void noNorm(Tensor out, Tensor residual, Tensor x, Tensor weight, Tensor bias) {
        OpChecks.norm("noNorm", out, residual, x, weight, bias);
        sameType("noNorm", out, x, weight, residual, bias);
        kk.noNorm(stream, address(out), residual == null ? 0 : address(residual), address(x), address(weight),
                bias == null ? 0 : address(bias), rows(x), cols(x), act);
    }

    @Override
    public void rope(Tensor q, Tensor k, Tensor positions, Rope rope, Heads heads) {
        OpChecks.encoderRope("rope", q, k, positions, rope, heads);
        sameType("rope", q, k);
        kk.rope(stream, address(q), address(k), address(positions), address(rope.invFreq()), rows(q), heads.heads(), heads.kvHeads(),
                heads.headDim(), rope.rotaryDim(), rope.layout() == RopeLayout.HALF_SPLIT ? 1 : 0, rope.mscale(), act);
    }

    @Override
    public void attentionVarlenMasked(Tensor out, Tensor q, Tensor k, Tensor v, Heads heads, EncoderBatch batch, float scale, int window,
                                      Tensor alibiSlopes) {
        OpChecks.maskedVarlen("attentionVarlenMasked", out, q, k, v, heads, batch, window, alibiSlopes);
        sameType("attentionVarlenMasked", out, q, k, v);
        kk.attentionPrefillMasked(stream, address(q), address(k), address(v), address(out), address(batch.cuSeqlens()), batch.sequences(),
                batch.maxLength(), heads.heads(), heads.kvHeads(), heads.headDim(), q.rowStride(), k.rowStride(), scale, window,
                alibiSlopes == null ? 0 : address(alibiSlopes), act);
    }

    // ---- encoder-decoder (seq2seq) ------------------------------------------------------------

    @Override
    public void attentionRelBias(Tensor out, Tensor q, Tensor k, Tensor v, KeySpans spans, Tensor bias, int biasRadius, Heads heads,
                                 float scale) {
        String op = "attentionRelBias";
        KeySpans.check(op, out, q, k, v, spans, bias, biasRadius, heads);
        sameType(op, out, q, k, v);
        kk.attentionRelBias(stream, address(q), address(k), address(v), address(out), address(spans.table()),
                bias == null ? 0 : address(bias), biasRadius, spans.tokens(), heads.heads(), heads.kvHeads(), heads.headDim(), scale, act);
    }

    // ---- RWKV (issue 17) ------------------------------------------------------------------------

    @Override
    public void tokenShift(Tensor out, Tensor x, Tensor state, boolean freshState) {
        RwkvChecks.tokenShift("tokenShift", out, x, state);
        sameType("tokenShift", out, x, state);
        kk.rwkvTokenShift(stream, address(out), address(state), address(x), rows(x), cols(x), freshState, act);
    }

    @Override
    public void tokenMix(Tensor out, Tensor x, Tensor sx, Tensor mix, Tensor mixBias) {
        RwkvChecks.tokenMix("tokenMix", out, x, sx, mix, mixBias);
        sameType("tokenMix", out, x, sx, mix, mixBias);
        kk.rwkvTokenMix(stream, address(out), address(x), address(sx), address(mix), rows(mix), mixBias == null ? 0 : address(mixBias),
                rows(x), cols(x), act);
    }

    @Override
    public void pointwise(Tensor x, io.transfuse.backend.Pointwise fn) {
        RwkvChecks.pointwise("pointwise", x, fn);
        sameType("pointwise", x);
        kk.rwkvPointwise(stream, address(x), x.elementCount(), fn.code(), act);
    }

    @Override
    public void wkv6(Tensor out, Tensor state, Tensor r, Tensor k, Tensor v, Tensor w, Tensor u, Tensor lnWeight, Tensor lnBias,
                     float eps, boolean freshState) {
        RwkvChecks.wkv6("wkv6", out, state, r, k, v, w, u, lnWeight, lnBias);
        sameType("wkv6", out, r, k, v, w, lnWeight, lnBias);
        int s = cols(state);
        if (freshState) rt.memset(stream, address(state), 0, state.spanBytes());
        kk.rwkvWkv6(stream, address(out), address(state), address(r), address(k), address(v), address(w), address(u), address(lnWeight),
                address(lnBias), rows(out), cols(out) / s, s, eps, act);
    }

    @Override
    public void wkv7(Tensor out, Tensor state, Tensor r, Tensor w, Tensor k, Tensor v, Tensor a, Tensor vFirst, Tensor vMix, Tensor kK,
                     Tensor kA, Tensor rK, Tensor lnWeight, Tensor lnBias, float eps, boolean freshState) {
        RwkvChecks.wkv7("wkv7", out, state, r, w, k, v, a, vFirst, vMix, kK, kA, rK, lnWeight, lnBias);
        sameType("wkv7", out, r, w, k, v, a, vFirst, vMix, kK, kA, rK, lnWeight, lnBias);
        int s = cols(state);
        if (freshState) rt.memset(stream, address(state), 0, state.spanBytes());
        kk.rwkvWkv7(stream, address(out), address(state), address(r), address(w), address(k), address(v), address(a),
                vFirst == null ? 0 : address(vFirst), vMix == null ? 0 : address(vMix), address(kK), address(kA), address(rK),
                address(lnWeight), address(lnBias), rows(out), cols(out) / s, s, eps, act);
    }

    // ---- helpers --------------------------------------------------------------------------------

    /** Scratch buffer {@code slot} of at least {@code bytes}, grown outside recordings (only multi-token ops use scratch). */
    private long scratch(int slot, long bytes) {
        DeviceBuffer s = scratch[slot];
        if (s == null || s.bytes() < bytes) {
            if (capturing) throw new IllegalStateException("scratch memory cannot grow while a step is recorded");
            if (s != null) arena.release(s);
            s = scratch[slot] = arena.allocate("scratch " + slot, Math.max(bytes, 2 * (s == null ? 0 : s.bytes())));
        }
        return s.address(0, bytes);
    }

    /** Pinned host staging of at least {@code bytes} (grown as needed; copies through it complete before it is reused). */
    private MemorySegment staging(long bytes) {
        checkOpen();
        if (staging == null || staging.byteSize() < bytes) {
            if (staging != null) arena.releasePinned(staging);
            staging = arena.allocatePinned(Math.max(bytes, Math.max(1 << 16, staging == null ? 0 : 2 * staging.byteSize())));
        }
        return staging;
    }

    /** The device address of {@code t}'s first element, checking it belongs to this backend. */
    private long address(Tensor t) {
        return address(t, 0);
    }

    private long address(Tensor t, long bytes) {
        if (!(t.storage() instanceof DeviceBuffer b) || b.arena() != arena) {
            throw new IllegalArgumentException("tensor " + t.describe() + " is not in this " + name + " backend's memory (made by another backend?)");
        }
        return b.address(0, bytes);
    }

    private static DType floatType(String op, Tensor t, long count) {
        DType d = t.dtype();
        if ((d != DType.F32 && d != DType.F16 && d != DType.BF16) || !t.isContiguous() || t.elementCount() < count) {
            throw new IllegalArgumentException(op + ": tensor " + t.describe() + " must be contiguous F32/F16/BF16 with at least " + count + " elements");
        }
        return d;
    }

    /** Every non-null tensor has the first one's type. */
    private static void sameType(String op, Tensor first, Tensor... others) {
        for (Tensor t : others) {
            if (t != null && t.dtype() != first.dtype()) {
                throw new IllegalArgumentException(op + ": " + t.describe() + " and " + first.describe() + " must have one element type");
            }
        }
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("the " + name + " backend is closed");
    }

    private static int rows(Tensor t) { return Math.toIntExact(t.rows()); }

    private static int cols(Tensor t) { return Math.toIntExact(t.cols()); }

    // ---- DETR (object detection): max pooling, cross-attention -----------------------------------

    @Override
    public void maxPool2d(Tensor out, Tensor x, Conv2d pool) {
        OpChecks.maxPool2d("maxPool2d", out, x, pool);
        kk.maxPool2d(stream, address(out), address(x), pool, out.dtype());
    }

    /** The prefill kernel with the query batch's and the key batch's own sequence offsets, bidirectional. */
    @Override
    public void crossAttention(Tensor out, Tensor q, Tensor k, Tensor v, Heads heads, EncoderBatch queries, EncoderBatch keys,
                               float scale) {
        OpChecks.crossAttention("crossAttention", out, q, k, v, heads, queries, keys);
        sameType("crossAttention", out, q, k, v);
        kk.attentionPrefill(stream, address(q), address(k), address(v), address(out), address(queries.cuSeqlens()),
                address(keys.cuSeqlens()), queries.sequences(), queries.maxLength(), heads.heads(), heads.kvHeads(), heads.headDim(),
                heads.qWidth(), heads.kvWidth(), scale, false, act);
    }

    // ---- seq2seq decoder on the paged KV cache (issue 17) ---------------------------------------

    @Override
    public void attentionRelBiasPaged(Tensor out, Tensor q, KvLayer cache, DecoderBatch batch, Tensor bias, int biasRadius, Heads heads,
                                      float scale) {
        String op = "attentionRelBiasPaged";
        RelBiasPagedChecks.check(op, out, q, cache, batch, bias, biasRadius, heads);
        sameType(op, out, q, cache.keys(), cache.values());
        kk.attentionRelBiasPaged(stream, address(q), address(cache.keys()), address(cache.values()), address(out),
                address(batch.tokenBlockTables()), address(batch.positions()), bias == null ? 0 : address(bias), biasRadius,
                batch.tokens(), heads.heads(), heads.kvHeads(), heads.headDim(), cache.blockSize(), batch.maxBlocks(), scale, act);
    }
}
