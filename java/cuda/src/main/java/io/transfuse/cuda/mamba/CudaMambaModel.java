package io.transfuse.cuda.mamba;

import io.transfuse.cuda.kernels.KernelLibrary;
import io.transfuse.cuda.llama.CudaOptions;
import io.transfuse.cuda.llama.HalfConvert;
import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.cuda.runtime.ElemType;
import io.transfuse.cuda.runtime.Gemm;
import io.transfuse.cuda.runtime.GpuGraph;
import io.transfuse.cuda.runtime.GpuRuntime;
import io.transfuse.cuda.runtime.GpuStream;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.Decoder;
import io.transfuse.model.MambaConfig;
import io.transfuse.model.MambaModel;
import io.transfuse.model.MambaWeights;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.Map;

/**
 * The Mamba-1 language model on a GPU runtime (cuda or cuda-emu), the equations of
 * {@link MambaModel} on the fused kernels, for n tokens of one sequence:
 * <pre>
 *   res = embed(tokens)                                               [n][dModel], token-major
 *   per layer:  xb = rmsnorm(res += delta)                            (tf_rmsnorm, fused residual)
 *               xz = W_in xb^T              [2 dInner][n]             (GEMM writing channel-major)
 *               u  = silu(conv1d(x half))   [dInner][n]               (tf_causal_conv1d | _update)
 *               dt_low, B, C = W_x u        [dtRank + 2 dState][n]    (GEMM)
 *               dt = W_dt dt_low            [dInner][n]               (GEMM)
 *               y  = scan(u, softplus(dt + b_dt), A, B, C, D) * silu(z)  (tf_selective_scan | _state_update)
 *               delta = y^T W_out^T         [n][dModel]               (GEMM reading channel-major)
 *   logits = rmsnorm(res += delta) W_head^T (last token, fp32)
 * </pre>
 * No transposes: the scan and conv kernels want channel-major [channel][token] rows while the
 * residual stream is token-major, and cuBLAS's column-major GEMM writes either layout by the choice
 * of operand order (a row-major [channels][n] matrix is a column-major n x channels one).
 *
 * <p>A sequence starting at position 0 runs as one prefill pass (up to {@link CudaOptions#maxTokens}
 * tokens): the conv and the scan start from zero state and write their final states into the
 * sequence's slot. Every further token, including the rest of a long prompt and continuation chunks,
 * goes through the single-token decode step, which reads and updates the slot in place; that step is
 * recorded once per slot as a graph and replayed. The SSM state is fp32; activations, the conv state
 * and the residual stream are of the graph's element type (fp16 or bf16). One sequence per call (no
 * batched decode across sequences yet; {@link CudaOptions#maxBatch} is unused). Not thread-safe.
 */
public final class CudaMambaModel implements Decoder {
    private final MambaConfig c;
    private final GpuRuntime rt;
    private final KernelLibrary kk;
    private final GpuStream stream;
    private final CudaOptions o;
    private final ElemType t;
    private final int vocabRows, context;
    private final DeviceArena arena;
    private final MambaDeviceWeights w;
    private final MambaStatePool pool;
    private final MambaWorkspace ws;
    private final Map<Integer, GpuGraph> decodeGraphs = new HashMap<>();
    private boolean ownsRuntime;

    /**
     * Uploads the weights and plans the workspace and the state slots ({@code options.maxSequences()}).
     *
     * @param context positions a sequence may hold (the state does not grow with them)
     */
    public CudaMambaModel(MambaConfig config, MambaWeights weights, GpuRuntime runtime, CudaOptions options, int context) {
        if (context < 1) throw new IllegalArgumentException("context must be positive, got " + context);
        this.c = config;
        this.rt = runtime;
        this.kk = runtime.kernels();
        this.stream = runtime.defaultStream();
        this.o = options;
        this.t = options.dtype();
        this.context = context;
        this.vocabRows = (int) weights.head().dim(0);
        this.arena = new DeviceArena(runtime, "CUDA Mamba model " + config.source());
        try {
            w = new MambaDeviceWeights(config, weights, arena, t);
            pool = new MambaStatePool(arena, config, t, options.maxSequences());
            ws = new MambaWorkspace(arena, config, t, options.maxTokens(), vocabRows);
            if (ws.ones != null) fillOnes(options.maxTokens());
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** Makes {@link #close} also close the runtime (when the model was its only user). Returns this. */
    public CudaMambaModel owningRuntime() {
        ownsRuntime = true;
        return this;
    }

    public MambaConfig config() { return c; }

    /** The element type of weights and activations. */
    public ElemType dtype() { return t; }

    /** Device bytes this model holds (weights, workspace, state slots). */
    public long deviceBytes() { return arena.bytes(); }

    /** Decode graphs recorded so far, one per state slot used (for tests: replay, not re-recording, serves later tokens). */
    public int recordedGraphs() { return decodeGraphs.size(); }

    @Override public String source() { return c.source(); }

    /** The head's rows: vocab_size, or more when the checkpoint pads its embedding (as {@link MambaModel}). */
    @Override public int vocabSize() { return vocabRows; }

    @Override public int contextLength() { return context; }

    @Override
    public CudaMambaState newState(int capacity, TrackedArena unused) {
        if (capacity < 1 || capacity > context) throw new IllegalArgumentException("sequence capacity " + capacity + " must be in [1, " + context + "]");
        return new CudaMambaState(pool, capacity);
    }

    /**
     * Runs {@code tokens[from, from + count)}: startPos 0 starts the sequence afresh, any other startPos
     * must be where the state stopped (a recurrent state cannot rewind).
     */
    @Override
    public void forward(int[] tokens, int from, int count, int startPos, SequenceState state, float[] logits) {
        if (!(state instanceof CudaMambaState s) || !s.belongsTo(pool)) {
            throw new IllegalArgumentException("the state was not made by this CUDA Mamba model (" + c.source() + ")");
        }
        s.checkOpen();
        if (count < 1) throw new IllegalArgumentException("count must be positive, got " + count);
        if (from < 0 || from + count > tokens.length) throw new IllegalArgumentException("tokens [" + from + ", " + (from + count) + ") exceed the array of " + tokens.length);
        if (startPos != 0 && startPos != s.position()) {
            throw new IllegalArgumentException("a Mamba state continues at position " + s.position() + " or restarts at 0; cannot run from position " + startPos);
        }
        if ((long) startPos + count > s.capacity()) {
            throw new IllegalArgumentException("positions up to " + ((long) startPos + count) + " exceed the sequence capacity " + s.capacity());
        }
        if (logits.length < vocabRows) throw new IllegalArgumentException("logits hold " + logits.length + " values, fewer than " + vocabRows);
        for (int i = from; i < from + count; i++) checkToken(tokens[i]);
        int done = 0;
        if (startPos == 0) {
            s.restart();
            done = Math.min(count, o.maxTokens());
            prefill(s, tokens, from, done);
        }
        for (; done < count; done++) decode(s, tokens[from + done]);
        rt.copyDeviceToHost(stream, ws.logits.address(), ws.hostLogits, (long) vocabRows * Float.BYTES);
        MemorySegment.copy(ws.hostLogits, ValueLayout.JAVA_FLOAT, 0, logits, 0, vocabRows);
    }

    /** The first n tokens of a sequence in one pass; leaves the logits of the last in the workspace. */
    private void prefill(CudaMambaState s, int[] tokens, int from, int n) {
        uploadIds(tokens, from, n);
        layers(n, s.slot, true);
        long lastRow = (long) (n - 1) * c.dModel() * t.bytes();
        rt.gemm(stream, Gemm.linear(ws.logits.address(), ElemType.F32, ws.xb.address(lastRow, (long) c.dModel() * t.bytes()),
                w.head.address(), t, 1, c.dModel(), vocabRows));
        s.advance(n);
    }

    /** One token through the decode step of the state's slot (recorded at its first use, then replayed). */
    private void decode(CudaMambaState s, int token) {
        uploadIds(new int[] {token}, 0, 1);
        GpuGraph g = decodeGraphs.get(s.slot);
        if (g == null) {
            rt.beginCapture(stream);
            try {
                layers(1, s.slot, false);
                rt.gemm(stream, Gemm.linear(ws.logits.address(), ElemType.F32, ws.xb.address(), w.head.address(), t, 1, c.dModel(), vocabRows));
            } finally {
                g = rt.endCapture(stream);
            }
            decodeGraphs.put(s.slot, g);
        }
        g.launch(stream);
        s.advance(1);
    }

    /** The n tokens in {@code ids} through every layer and the final norm, leaving normed rows in xb. */
    private void layers(int n, int slot, boolean prefill) {
        int dm = c.dModel(), di = c.dInner(), ds = c.dState(), r = c.dtRank(), width = c.dConv();
        long e = t.bytes();
        long res = ws.res.address(), xb = ws.xb.address(), delta = ws.delta.address(), xz = ws.xz.address(), u = ws.u.address(),
                xDbl = ws.xDbl.address(), dt = ws.dt.address();
        long x = xz, z = xz + (long) di * n * e, y = xz; // y overwrites x (dead after the conv)
        long bm = xDbl + (long) r * n * e, cm = xDbl + (long) (r + ds) * n * e;
        kk.embedding(stream, res, ws.ids.address(), w.embedding.address(), n, dm, vocabRows, t);
        for (int l = 0; l < c.layers(); l++) {
            kk.rmsnorm(stream, xb, l == 0 ? 0 : res, l == 0 ? res : delta, w.norm[l].address(), n, dm, c.eps(), t);
            // xz (row-major [2 di][n] = column-major n x 2di) = xb (n x dm) W_in^T (dm x 2di)
            rt.gemm(stream, new Gemm(true, false, n, 2 * di, dm, 1f, xb, t, dm, 0, w.inProj[l].address(), t, dm, 0, 0f, xz, t, n, 0, 1));
            if (w.inBias[l] != null) {
                rt.gemm(stream, new Gemm(false, false, n, 2 * di, 1, 1f, ws.ones.address(), t, n, 0, w.inBias[l].address(), t, 1, 0, 1f, xz, t, n, 0, 1));
            }
            long convW = w.convWeight[l].address(), convB = w.convBias[l] == null ? 0 : w.convBias[l].address();
            if (prefill) {
                kk.causalConv1d(stream, u, pool.conv(l, slot), x, convW, convB, 1, di, n, width, true, t);
            } else {
                kk.causalConv1dUpdate(stream, u, pool.conv(l, slot), x, convW, convB, 1, di, width, true, t);
            }
            // xDbl (row-major [r + 2 ds][n]) = u (n x di, column-major) W_x^T (di x (r + 2 ds))
            rt.gemm(stream, new Gemm(false, false, n, r + 2 * ds, di, 1f, u, t, n, 0, w.xProj[l].address(), t, di, 0, 0f, xDbl, t, n, 0, 1));
            // dt (row-major [di][n]) = dt_low (the first r rows of xDbl: n x r) W_dt^T (r x di)
            rt.gemm(stream, new Gemm(false, false, n, di, r, 1f, xDbl, t, n, 0, w.dtProj[l].address(), t, r, 0, 0f, dt, t, n, 0, 1));
            long a = w.a[l].address(), dSkip = w.d[l].address(), dtBias = w.dtBias[l].address(), ssm = pool.ssm(l, slot);
            if (prefill) {
                kk.selectiveScan(stream, y, ssm, u, dt, a, bm, cm, dSkip, z, dtBias, 0, 1, di, n, ds, 1, t);
            } else {
                kk.selectiveStateUpdate(stream, y, ssm, u, dt, a, bm, cm, dSkip, z, dtBias, 1, di, ds, 1, t);
            }
            // delta (row-major [n][dm] = column-major dm x n) = W_out (dm x di) y (di x n; y is row-major [di][n])
            rt.gemm(stream, new Gemm(true, true, dm, n, di, 1f, w.outProj[l].address(), t, di, 0, y, t, n, 0, 0f, delta, t, dm, 0, 1));
            if (w.outBias[l] != null) {
                rt.gemm(stream, new Gemm(false, false, dm, n, 1, 1f, w.outBias[l].address(), t, dm, 0, ws.ones.address(), t, 1, 0, 1f, delta, t, dm, 0, 1));
            }
        }
        kk.rmsnorm(stream, xb, res, delta, w.normF.address(), n, dm, c.eps(), t);
    }

    private void uploadIds(int[] tokens, int from, int n) {
        long bytes = (long) n * Integer.BYTES;
        MemorySegment.copy(tokens, from, ws.hostInts, ValueLayout.JAVA_INT, 0, n);
        rt.copyHostToDevice(stream, ws.hostInts.asSlice(0, bytes), ws.ids.address(0, bytes), bytes);
    }

    private void fillOnes(int n) {
        try (Arena host = Arena.ofConfined()) {
            MemorySegment ones = host.allocate((long) n * t.bytes(), 16);
            for (int i = 0; i < n; i++) HalfConvert.put(ones, i, 1f, t);
            rt.copyHostToDevice(stream, ones, ws.ones.address(), ones.byteSize());
        }
    }

    private void checkToken(int id) {
        if (id < 0 || id >= vocabRows) throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + vocabRows);
    }

    @Override
    public void close() {
        for (GpuGraph g : decodeGraphs.values()) g.close();
        decodeGraphs.clear();
        try {
            arena.close();
        } finally {
            if (ownsRuntime) rt.close();
        }
    }
}
