package io.transfuse.model.llama;

import io.transfuse.backend.Activation;
import io.transfuse.backend.AttentionSpec;
import io.transfuse.backend.Backend;
import io.transfuse.backend.Backend.WeightUse;
import io.transfuse.backend.DecoderBatch;
import io.transfuse.backend.Heads;
import io.transfuse.backend.Rope;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.DecoderGraph;
import io.transfuse.model.DecoderLimits;
import io.transfuse.model.HeadPadding;
import io.transfuse.model.KvCache;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Dequantize;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * The Llama decoder (Touvron et al. 2023) and its descendants ({@link LlamaVariant}), once for every backend.
 * For the packed tokens of a batch, with each variant's deltas in brackets:
 * <pre>
 *   res = embed(tokens)                                          [Gemma: * sqrt(dim)]
 *   per layer:  xb = rmsnorm(res += delta)                       (the first layer: rmsnorm(res))
 *               q, k, v = xb Wq^T, xb Wk^T, xb Wv^T              [Qwen2: + biases; Phi-3: one fused matrix]
 *                                                                [Qwen3, Gemma 3: rmsnorm over each head of q, k]
 *               cache &lt;- rope(k), v;  rope(q)                     (paged; [Gemma 3: local layers their own base])
 *               delta = attention(q, cache) Wo^T                  (causal, grouped-query; [sliding window, soft-cap])
 *                                                                [Gemma 2/3: delta = rmsnorm(delta)]
 *               xb = rmsnorm(res += delta)
 *               delta = (act(xb Wgate^T) * xb Wup^T) Wdown^T      (act: SiLU, [Gemma: tanh GELU])
 *                                                                [Gemma 2/3: delta = rmsnorm(delta)]
 *   logits = rmsnorm(res += delta)[last token of each sequence] Wout^T   [Gemma 2: cap * tanh(logits / cap)]
 * </pre>
 * A decode step (one token per sequence) runs as a recorded step ({@link DecoderGraph}). Heads are padded to the
 * backend's attention head dim ({@link HeadPadding}). Activations live in a workspace planned at load for the
 * batch limits.
 */
public final class LlamaModel extends DecoderGraph {
    private final LlamaConfig c;
    private final Heads heads;
    private final Rope globalRope, localRope;
    private final AttentionSpec[] attention;
    private final float qkNormEps;
    private final KvCache cache;
    private final Layer[] layers;
    private final Tensor embedding, outputNorm, output;
    /** [maxTokens][dim] filled with sqrt(dim) (Gemma's embedding scale, applied as glu(res, scale, identity)); else null. */
    private final Tensor embeddingScale;
    // Workspace, [maxTokens][width]: res is the residual stream, xb the normed input of the next matmuls,
    // delta every block's output (added into res by the next norm).
    private final Tensor res, xb, delta, q, k, v, att, gate, up;

    private record Layer(Tensor attnNorm, Tensor wq, Tensor wk, Tensor wv, Tensor bq, Tensor bk, Tensor bv, Tensor qNorm,
                         Tensor kNorm, Tensor wo, Tensor postAttnNorm, Tensor ffnNorm, Tensor wGate, Tensor wUp, Tensor wDown,
                         Tensor postFfnNorm) {}

    /** Builds the graph on {@code ops}, which it owns from now on (closed with it). */
    public LlamaModel(LlamaConfig config, LlamaWeights w, Backend ops, DecoderLimits limits) {
        this(config, w, ops, limits, new KvCache(ops, config.source(), config.layers(),
                config.kvHeads() * ops.attentionHeadDim(config.headDim(), true), limits));
    }

    private LlamaModel(LlamaConfig config, LlamaWeights w, Backend ops, DecoderLimits limits, KvCache cache) {
        super(ops, config.source(), config.dim(), config.vocabSize(), limits.context(), limits, cache);
        this.c = config;
        this.cache = cache;
        int hd = c.headDim(), D = ops.attentionHeadDim(hd, true);
        this.heads = new Heads(c.heads(), c.kvHeads(), D);
        // A per-head RMSNorm over D padded lanes (zeros) averages over D, not hd: eps * hd/D and weights * sqrt(hd/D)
        // make it the norm over hd exactly (sum/D + eps*hd/D = (hd/D)(sum/hd + eps)).
        this.qkNormEps = c.rmsEps() * hd / D;
        DType act = ops.activationType();
        embedding = ops.weight(w.tokenEmbedding(), WeightUse.STREAMED);
        output = w.output() == w.tokenEmbedding() ? embedding : ops.weight(w.output(), WeightUse.DECODE);
        outputNorm = ops.upload(w.outputNorm(), act);
        layers = new Layer[c.layers()];
        try (TrackedArena padding = new TrackedArena("head padding of " + c.source())) {
            for (int l = 0; l < layers.length; l++) {
                LlamaWeights.Layer L = w.layers()[l];
                Tensor wq = L.wq(), wk = L.wk(), wv = L.wv(), wo = L.wo(), bq = L.bq(), bk = L.bk(), bv = L.bv();
                if (D != hd) {
                    wq = HeadPadding.rows(wq, c.heads(), hd, D, padding);
                    wk = HeadPadding.rows(wk, c.kvHeads(), hd, D, padding);
                    wv = HeadPadding.rows(wv, c.kvHeads(), hd, D, padding);
                    wo = HeadPadding.columns(wo, c.heads(), hd, D, padding);
                    if (bq != null) {
                        bq = HeadPadding.vector(bq, c.heads(), hd, D, padding);
                        bk = HeadPadding.vector(bk, c.kvHeads(), hd, D, padding);
                        bv = HeadPadding.vector(bv, c.kvHeads(), hd, D, padding);
                    }
                }
                layers[l] = new Layer(ops.upload(L.attnNorm(), act), weight(wq), weight(wk), weight(wv),
                        upload(bq), upload(bk), upload(bv), headNorm(L.qNorm(), hd, D, padding), headNorm(L.kNorm(), hd, D, padding),
                        weight(wo), upload(L.postAttnNorm()), ops.upload(L.ffnNorm(), act), weight(L.wGate()), weight(L.wUp()),
                        weight(L.wDown()), upload(L.postFfnNorm()));
            }
        }
        int context = limits.context();
        globalRope = rope(false, context);
        localRope = c.rope().localTheta() > 0 ? rope(true, context) : globalRope;
        attention = new AttentionSpec[c.layers()];
        for (int l = 0; l < attention.length; l++) {
            attention[l] = new AttentionSpec(c.attention().scale(), c.slidingLayer(l) ? c.attention().window() : 0, c.attention().softcap());
        }
        int n = limits.maxTokens();
        if (c.variant().scaledEmbeddings()) {
            float[] s = new float[n * c.dim()];
            Arrays.fill(s, (float) Math.sqrt(c.dim()));
            embeddingScale = ops.allocate("embedding scale", act, n, c.dim());
            ops.write(embeddingScale, s, 0, s.length);
        } else {
            embeddingScale = null;
        }
        res = ops.allocate("residual stream", act, n, c.dim());
        xb = ops.allocate("normed activations", act, n, c.dim());
        delta = ops.allocate("block outputs", act, n, c.dim());
        q = ops.allocate("queries", act, n, heads.qWidth());
        k = ops.allocate("keys", act, n, heads.kvWidth());
        v = ops.allocate("values", act, n, heads.kvWidth());
        att = ops.allocate("attention outputs", act, n, heads.qWidth());
        gate = ops.allocate("FFN gate", act, n, c.hiddenDim());
        up = ops.allocate("FFN up", act, n, c.hiddenDim());
    }

    /** {@code out = x w^T (+ bias)}: the plain matmul unless the variant has biases. */
    private void project(Tensor out, Tensor x, Tensor w, Tensor bias) {
        if (bias == null) ops.matmul(out, x, w);
        else ops.linear(out, x, w, bias, Activation.IDENTITY);
    }

    private Tensor weight(Tensor w) { return ops.weight(w, WeightUse.DECODE); }

    private Tensor upload(Tensor t) { return t == null ? null : ops.upload(t, ops.activationType()); }

    /** A per-head norm weight [hd], padded to D lanes with zeros and scaled by sqrt(hd/D) (see {@link #qkNormEps}). */
    private Tensor headNorm(Tensor w, int hd, int D, TrackedArena arena) {
        if (w == null) return null;
        if (D == hd) return upload(w);
        float[] f = Dequantize.toFloats(w);
        MemorySegment out = arena.allocateFloats(D);
        float s = (float) Math.sqrt((double) hd / D);
        for (int i = 0; i < hd; i++) out.setAtIndex(ValueLayout.JAVA_FLOAT, i, f[i] * s);
        return upload(new Tensor(w.name() + " (padded to " + D + ")", DType.F32, new long[] {D}, out));
    }

    private Rope rope(boolean local, int context) {
        float[] freq = c.ropeInverseFrequencies(local, context);
        Tensor invFreq = ops.allocate(local ? "local rope inverse frequencies" : "rope inverse frequencies", DType.F32, freq.length);
        ops.write(invFreq, freq, 0, freq.length);
        return new Rope(invFreq, c.rope().rotaryDim(), c.rope().layout(), c.ropeMscale(local, context));
    }

    public LlamaConfig config() { return c; }

    /** The paged KV cache (for tests and the engine: free blocks). */
    public KvCache cache() { return cache; }

    @Override
    protected float logitSoftcap() { return c.finalSoftcap(); }

    @Override
    protected void compute(DecoderBatch b) {
        int n = b.tokens();
        Tensor res = this.res.rows(0, n), xb = this.xb.rows(0, n), delta = this.delta.rows(0, n), q = this.q.rows(0, n),
                k = this.k.rows(0, n), v = this.v.rows(0, n), att = this.att.rows(0, n), gate = this.gate.rows(0, n),
                up = this.up.rows(0, n);
        float eps = c.rmsEps();
        ops.gatherRows(res, embedding, b.ids());
        if (embeddingScale != null) ops.glu(res, embeddingScale.rows(0, n), res, Activation.IDENTITY);
        for (int l = 0; l < layers.length; l++) {
            Layer L = layers[l];
            ops.rmsNorm(xb, l == 0 ? null : res, l == 0 ? res : delta, L.attnNorm, eps);
            project(q, xb, L.wq, L.bq);
            project(k, xb, L.wk, L.bk);
            project(v, xb, L.wv, L.bv);
            if (L.qNorm != null) {
                Tensor qh = q.reshape((long) n * heads.heads(), heads.headDim()), kh = k.reshape((long) n * heads.kvHeads(), heads.headDim());
                ops.rmsNorm(qh, null, qh, L.qNorm, qkNormEps);
                ops.rmsNorm(kh, null, kh, L.kNorm, qkNormEps);
            }
            ops.ropeKv(q, k, v, cache.layer(l), c.slidingLayer(l) ? localRope : globalRope, heads, b);
            ops.attention(att, q, k, v, cache.layer(l), heads, b, attention[l]);
            ops.matmul(delta, att, L.wo);
            if (L.postAttnNorm != null) ops.rmsNorm(delta, null, delta, L.postAttnNorm, eps);
            ops.rmsNorm(xb, res, delta, L.ffnNorm, eps);
            ops.matmul(gate, xb, L.wGate);
            ops.matmul(up, xb, L.wUp);
            ops.glu(gate, gate, up, c.variant().ffnActivation());
            ops.matmul(delta, gate, L.wDown);
            if (L.postFfnNorm != null) ops.rmsNorm(delta, null, delta, L.postFfnNorm, eps);
        }
        ops.rmsNorm(xb, res, delta, outputNorm, eps);
        head(xb, output, b);
    }
}
