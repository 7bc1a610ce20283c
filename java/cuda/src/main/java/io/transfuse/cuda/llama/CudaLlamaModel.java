package io.transfuse.cuda.llama;

import io.transfuse.backend.Activation;
import io.transfuse.cuda.kernels.KernelLibrary;
import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.cuda.memory.DeviceBuffer;
import io.transfuse.cuda.runtime.ElemType;
import io.transfuse.cuda.runtime.Gemm;
import io.transfuse.cuda.runtime.GpuGraph;
import io.transfuse.cuda.runtime.GpuRuntime;
import io.transfuse.cuda.runtime.GpuStream;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.Decoder;
import io.transfuse.model.LlamaConfig;
import io.transfuse.model.LlamaWeights;
import io.transfuse.model.RopeLayout;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.Map;

/**
 * The Llama decoder on a GPU runtime (cuda or cuda-emu), the same equations as
 * {@link io.transfuse.model.LlamaModel} with fused kernels:
 * <pre>
 *   res = embed(tokens)
 *   per layer:  xb = rmsnorm(res += delta)                 (tf_rmsnorm, fused residual)
 *               q, k, v = xb Wq^T, xb Wk^T, xb Wv^T         (GEMMs)
 *               rope(q); cache <- rope(k), v                 (tf_rope_kv_cache, paged)
 *               attn = flash prefill (varlen) | flash-decoding over the pages
 *               delta = attn Wo^T;  xb = rmsnorm(res += delta)
 *               delta = silu(xb Wgate^T) * (xb Wup^T) Wdown^T   (one gate_up GEMM + tf_glu + GEMM)
 *   logits = rmsnorm(res += delta) Wout^T                   (fp32 logits)
 * </pre>
 * Prefill of several sequences of different lengths is one packed (varlen) pass; a decode step of B
 * sequences is recorded once per B as a graph and replayed for every token, with only the inputs
 * (ids, positions, context lengths, block tables) uploaded before each replay. Heads are padded to a
 * supported head dim (see {@link DeviceWeights}). Not thread-safe.
 */
public final class CudaLlamaModel implements Decoder {
    private final LlamaConfig c;
    private final GpuRuntime rt;
    private final KernelLibrary kk;
    private final GpuStream stream;
    private final CudaOptions o;
    private final ElemType t;
    private final int headDim, context, splitLen, maxBlocksPerSeq;
    private final float scale;
    private final DeviceArena arena;
    private final DeviceWeights w;
    private final KvBlockPool pool;
    private final Workspace ws;
    private final Map<Integer, GpuGraph> decodeGraphs = new HashMap<>();
    private boolean ownsRuntime;

    /**
     * Uploads the weights and plans the workspace and the KV page pool.
     *
     * @param context positions a sequence may hold (at most the model's)
     */
    public CudaLlamaModel(LlamaConfig config, LlamaWeights weights, GpuRuntime runtime, CudaOptions options, int context) {
        this.c = config;
        this.rt = runtime;
        this.kk = runtime.kernels();
        this.stream = runtime.defaultStream();
        this.o = options;
        this.t = options.dtype();
        this.context = context;
        int hd = config.headDim();
        this.headDim = hd <= 64 ? 64 : hd <= 128 ? 128 : -1;
        if (headDim < 0) {
            throw new IllegalArgumentException(config.source() + ": head dim " + hd + " is larger than the CUDA attention kernels support (128)");
        }
        this.scale = (float) (1.0 / Math.sqrt(hd));
        this.maxBlocksPerSeq = (context + options.blockSize() - 1) / options.blockSize();
        // One split per sequence on the emulator (each CTA is costly there); on a GPU, enough splits to fill the SMs.
        int sms = runtime.properties().multiprocessors();
        this.splitLen = runtime.properties().computeCapability() == 0
                ? Math.max(64, (context + 63) / 64 * 64)
                : kk.decodeDefaultSplitLen(1, c.heads(), c.kvHeads(), context, sms);
        this.arena = new DeviceArena(runtime, "CUDA Llama model " + config.source());
        try {
            w = DeviceWeights.upload(config, weights, arena, t, headDim);
            pool = new KvBlockPool(arena, c.layers(), options.maxSequences() * maxBlocksPerSeq, options.blockSize(), c.kvHeads(), headDim, t);
            ws = new Workspace(arena, c, t, headDim, options.maxTokens(), options.maxBatch(), maxBlocksPerSeq,
                    kk.decodeWorkspaceBytes(options.maxBatch(), c.heads(), headDim, context, splitLen));
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** Makes {@link #close} also close the runtime (when the model was its only user). Returns this. */
    public CudaLlamaModel owningRuntime() {
        ownsRuntime = true;
        return this;
    }

    public LlamaConfig config() { return c; }

    /** The element type of weights and activations. */
    public ElemType dtype() { return t; }

    /** Device bytes this model holds (weights, workspace, KV pages). */
    public long deviceBytes() { return arena.bytes(); }

    /** Decode graphs recorded so far, by batch size (for tests: replay, not re-recording, serves later tokens). */
    public int recordedGraphs() { return decodeGraphs.size(); }

    @Override public String source() { return c.source(); }

    @Override public int vocabSize() { return c.vocabSize(); }

    @Override public int contextLength() { return context; }

    @Override
    public CudaSequence newState(int capacity, TrackedArena unused) {
        return newSequence(capacity);
    }

    /** A sequence of up to {@code capacity} positions, holding KV pages until closed. */
    public CudaSequence newSequence(int capacity) {
        if (capacity < 1 || capacity > context) throw new IllegalArgumentException("sequence capacity " + capacity + " must be in [1, " + context + "]");
        return new CudaSequence(pool, capacity, maxBlocksPerSeq);
    }

    @Override
    public void forward(int[] tokens, int from, int count, int startPos, SequenceState state, float[] logits) {
        CudaSequence s = (CudaSequence) state;
        if (count < 1 || startPos < 0 || startPos + count > s.capacity()) {
            throw new IllegalArgumentException("positions " + startPos + ".." + (startPos + count) + " exceed the sequence capacity " + s.capacity());
        }
        if (startPos == 0 && count > 1 && count <= o.maxTokens()) {
            int[] prompt = java.util.Arrays.copyOfRange(tokens, from, from + count);
            prefill(new CudaSequence[] {s}, new int[][] {prompt}, new float[][] {logits});
            return;
        }
        // A single token, or a continuation chunk: token by token through the recorded decode step.
        for (int i = 0; i < count; i++) {
            decode(new CudaSequence[] {s}, new int[] {tokens[from + i]}, new int[] {startPos + i}, i == count - 1 ? new float[][] {logits} : null);
        }
    }

    /**
     * Prefill of several sequences at once: {@code prompts[b]} at positions 0.. of {@code seqs[b]};
     * {@code logits[b]} ([vocab]) receives the logits after its last token.
     */
    public void prefill(CudaSequence[] seqs, int[][] prompts, float[][] logits) {
        int b = checkBatch(seqs, prompts.length, logits);
        int n = 0, maxLen = 0;
        int[] cu = new int[b + 1];
        for (int i = 0; i < b; i++) {
            if (prompts[i].length < 1 || prompts[i].length > seqs[i].capacity()) {
                throw new IllegalArgumentException("prompt " + i + " has " + prompts[i].length + " tokens; the sequence holds 1.." + seqs[i].capacity());
            }
            n += prompts[i].length;
            maxLen = Math.max(maxLen, prompts[i].length);
            cu[i + 1] = n;
        }
        if (n > o.maxTokens()) throw new IllegalArgumentException(n + " prompt tokens exceed the workspace of " + o.maxTokens() + " tokens per call");
        int[] ids = new int[n], pos = new int[n], seq = new int[n];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < prompts[i].length; j++) {
                int at = cu[i] + j;
                ids[at] = checkToken(prompts[i][j]);
                pos[at] = j;
                seq[at] = i;
            }
        }
        uploadInputs(seqs, ids, pos, seq, cu, null);
        layers(n, true, b, maxLen);
        for (int i = 0; i < b; i++) {
            long lastRow = (long) (cu[i + 1] - 1) * c.dim() * t.bytes();
            rt.gemm(stream, Gemm.linear(logitsRow(i), ElemType.F32, ws.xb.address(lastRow, (long) c.dim() * t.bytes()),
                    w.output.address(), t, 1, c.dim(), c.vocabSize()));
        }
        readLogits(b, logits);
    }

    /**
     * One decode step for several sequences: {@code tokens[b]} at position {@code positions[b]} of
     * {@code seqs[b]}; {@code logits[b]} receives its logits ({@code logits} may be null to skip).
     * The step runs as a graph recorded at the first step of each batch size.
     */
    public void decode(CudaSequence[] seqs, int[] tokens, int[] positions, float[][] logits) {
        int b = checkBatch(seqs, tokens.length, logits);
        int[] ctx = new int[b], seq = new int[b];
        for (int i = 0; i < b; i++) {
            checkToken(tokens[i]);
            if (positions[i] < 0 || positions[i] >= seqs[i].capacity()) {
                throw new IllegalArgumentException("position " + positions[i] + " is outside the capacity " + seqs[i].capacity() + " of sequence " + i);
            }
            ctx[i] = positions[i] + 1;
            seq[i] = i;
        }
        uploadInputs(seqs, tokens, positions, seq, null, ctx);
        GpuGraph g = decodeGraphs.get(b);
        if (g == null) {
            rt.beginCapture(stream);
            try {
                layers(b, false, b, 1);
                rt.gemm(stream, Gemm.linear(ws.logits.address(), ElemType.F32, ws.xb.address(), w.output.address(), t, b, c.dim(), c.vocabSize()));
            } finally {
                g = rt.endCapture(stream);
            }
            decodeGraphs.put(b, g);
        }
        g.launch(stream);
        if (logits != null) readLogits(b, logits);
    }

    /** The n packed tokens through every layer and the final norm, leaving normed rows in xb. */
    private void layers(int n, boolean prefill, int batch, int maxLen) {
        int dim = c.dim(), hd = c.headDim(), H = c.heads(), Hkv = c.kvHeads(), D = headDim, hidden = c.hiddenDim();
        int layout = c.ropeLayout() == RopeLayout.ADJACENT_PAIRS ? 0 : 1;
        long res = ws.res.address(), xb = ws.xb.address(), delta = ws.delta.address(), q = ws.q.address(), k = ws.k.address(),
                v = ws.v.address(), attn = ws.attn.address(), gu = ws.gateUp.address(), hb = ws.hidden.address();
        kk.embedding(stream, res, ws.ids.address(), w.embedding.address(), n, dim, c.vocabSize(), t);
        for (int l = 0; l < c.layers(); l++) {
            kk.rmsnorm(stream, xb, l == 0 ? 0 : res, l == 0 ? res : delta, w.attnNorm[l].address(), n, dim, c.rmsEps(), t);
            rt.gemm(stream, Gemm.linear(q, t, xb, w.wq[l].address(), t, n, dim, H * D));
            rt.gemm(stream, Gemm.linear(k, t, xb, w.wk[l].address(), t, n, dim, Hkv * D));
            rt.gemm(stream, Gemm.linear(v, t, xb, w.wv[l].address(), t, n, dim, Hkv * D));
            long kc = pool.keys[l].address(), vc = pool.values[l].address();
            kk.ropeKvCache(stream, q, k, v, kc, vc, ws.blockTable.address(), ws.positions.address(), ws.seqIds.address(),
                    w.invFreq.address(), n, H, Hkv, D, hd, layout, pool.blockSize, maxBlocksPerSeq, t);
            if (prefill) {
                // The packed K must be rotated too (the fused kernel stored a rotated copy in the pages only).
                kk.rope(stream, 0, k, ws.positions.address(), w.invFreq.address(), n, H, Hkv, D, hd, layout, t);
                kk.attentionPrefill(stream, q, k, v, attn, ws.cuSeqlens.address(), ws.cuSeqlens.address(), batch, maxLen, H, Hkv, D,
                        (long) H * D, (long) Hkv * D, scale, true, t);
            } else {
                kk.attentionDecode(stream, q, kc, vc, attn, ws.blockTable.address(), ws.contextLens.address(), batch, H, Hkv, D,
                        pool.blockSize, maxBlocksPerSeq, context, splitLen, scale, ws.decodeScratch.address(), t);
            }
            rt.gemm(stream, Gemm.linear(delta, t, attn, w.wo[l].address(), t, n, H * D, dim));
            kk.rmsnorm(stream, xb, res, delta, w.ffnNorm[l].address(), n, dim, c.rmsEps(), t);
            rt.gemm(stream, Gemm.linear(gu, t, xb, w.wGateUp[l].address(), t, n, dim, 2 * hidden));
            kk.glu(stream, hb, gu, gu + (long) hidden * t.bytes(), n, hidden, 2L * hidden, Activation.SILU, t);
            rt.gemm(stream, Gemm.linear(delta, t, hb, w.wDown[l].address(), t, n, hidden, dim));
        }
        kk.rmsnorm(stream, xb, res, delta, w.outputNorm.address(), n, dim, c.rmsEps(), t);
    }

    /** Stages the inputs of one call in pinned memory and uploads them (outside any graph). */
    private void uploadInputs(CudaSequence[] seqs, int[] ids, int[] pos, int[] seq, int[] cu, int[] ctx) {
        MemorySegment h = ws.hostInts;
        long at = 0;
        at = put(h, at, ids, ws.ids);
        at = put(h, at, pos, ws.positions);
        at = put(h, at, seq, ws.seqIds);
        if (cu != null) at = put(h, at, cu, ws.cuSeqlens);
        if (ctx != null) at = put(h, at, ctx, ws.contextLens);
        int[] table = new int[seqs.length * maxBlocksPerSeq];
        for (int i = 0; i < seqs.length; i++) System.arraycopy(seqs[i].blockTable, 0, table, i * maxBlocksPerSeq, maxBlocksPerSeq);
        put(h, at, table, ws.blockTable);
    }

    private long put(MemorySegment host, long at, int[] values, DeviceBuffer dst) {
        long bytes = (long) values.length * Integer.BYTES;
        MemorySegment.copy(values, 0, host, ValueLayout.JAVA_INT, at, values.length);
        rt.copyHostToDevice(stream, host.asSlice(at, bytes), dst.address(0, bytes), bytes);
        return at + bytes;
    }

    private long logitsRow(int b) {
        long row = (long) c.vocabSize() * Float.BYTES;
        return ws.logits.address(b * row, row);
    }

    private void readLogits(int b, float[][] out) {
        long bytes = (long) b * c.vocabSize() * Float.BYTES;
        rt.copyDeviceToHost(stream, ws.logits.address(0, bytes), ws.hostLogits, bytes);
        for (int i = 0; i < b; i++) {
            MemorySegment.copy(ws.hostLogits, ValueLayout.JAVA_FLOAT, (long) i * c.vocabSize() * Float.BYTES, out[i], 0, c.vocabSize());
        }
    }

    private int checkBatch(CudaSequence[] seqs, int n, float[][] logits) {
        if (seqs.length < 1 || seqs.length != n || (logits != null && logits.length != n)) {
            throw new IllegalArgumentException("batch: " + seqs.length + " sequences, " + n + " inputs" + (logits != null ? ", " + logits.length + " logits rows" : ""));
        }
        if (n > o.maxBatch()) throw new IllegalArgumentException("batch of " + n + " sequences exceeds the planned maximum of " + o.maxBatch());
        for (int i = 0; i < n; i++) {
            seqs[i].checkOpen();
            if (logits != null && logits[i].length < c.vocabSize()) throw new IllegalArgumentException("logits row " + i + " holds fewer than " + c.vocabSize() + " values");
        }
        return n;
    }

    private int checkToken(int id) {
        if (id < 0 || id >= c.vocabSize()) throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + c.vocabSize());
        return id;
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
