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
import io.transfuse.tensor.Tensor;

/**
 * The Llama decoder (Touvron et al. 2023), once for every backend. For the packed tokens of a batch:
 * <pre>
 *   res = embed(tokens)
 *   per layer:  xb = rmsnorm(res += delta)                       (the first layer: rmsnorm(res))
 *               q, k, v = xb Wq^T, xb Wk^T, xb Wv^T
 *               cache <- rope(k), v;  rope(q)                     (paged, at each token's sequence and position)
 *               delta = attention(q, cache) Wo^T                  (causal, grouped-query)
 *               xb = rmsnorm(res += delta)
 *               delta = (silu(xb Wgate^T) * xb Wup^T) Wdown^T
 *   logits = rmsnorm(res += delta)[last token of each sequence] Wout^T
 * </pre>
 * A decode step (one token per sequence) runs as a recorded step ({@link DecoderGraph}). Heads are padded to the backend's attention head dim
 * ({@link HeadPadding}). Activations live in a workspace planned at load for the batch limits.
 */
public final class LlamaModel extends DecoderGraph {
    private final LlamaConfig c;
    private final Heads heads;
    private final Rope rope;
    private final float scale;
    private final KvCache cache;
    private final Layer[] layers;
    private final Tensor embedding, outputNorm, output;
    // Workspace, [maxTokens][width]: res is the residual stream, xb the normed input of the next matmuls,
    // delta every block's output (added into res by the next norm).
    private final Tensor res, xb, delta, q, k, v, att, gate, up;

    private record Layer(Tensor attnNorm, Tensor wq, Tensor wk, Tensor wv, Tensor wo, Tensor ffnNorm, Tensor wGate,
                         Tensor wUp, Tensor wDown) {}

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
        this.scale = (float) (1.0 / Math.sqrt(hd));
        DType act = ops.activationType();
        embedding = ops.weight(w.tokenEmbedding(), WeightUse.STREAMED);
        output = w.output() == w.tokenEmbedding() ? embedding : ops.weight(w.output(), WeightUse.STREAMED);
        outputNorm = ops.upload(w.outputNorm(), act);
        layers = new Layer[c.layers()];
        try (TrackedArena padding = new TrackedArena("head padding of " + c.source())) {
            for (int l = 0; l < layers.length; l++) {
                LlamaWeights.Layer L = w.layers()[l];
                Tensor wq = L.wq(), wk = L.wk(), wv = L.wv(), wo = L.wo();
                if (D != hd) {
                    wq = HeadPadding.rows(wq, c.heads(), hd, D, padding);
                    wk = HeadPadding.rows(wk, c.kvHeads(), hd, D, padding);
                    wv = HeadPadding.rows(wv, c.kvHeads(), hd, D, padding);
                    wo = HeadPadding.columns(wo, c.heads(), hd, D, padding);
                }
                layers[l] = new Layer(ops.upload(L.attnNorm(), act), weight(wq), weight(wk), weight(wv), weight(wo),
                        ops.upload(L.ffnNorm(), act), weight(L.wGate()), weight(L.wUp()), weight(L.wDown()));
            }
        }
        float[] freq = c.ropeInverseFrequencies();
        Tensor invFreq = ops.allocate("rope inverse frequencies", DType.F32, freq.length);
        ops.write(invFreq, freq, 0, freq.length);
        rope = new Rope(invFreq, hd, c.ropeLayout(), 1f);
        int n = limits.maxTokens();
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

    private Tensor weight(Tensor w) { return ops.weight(w, WeightUse.STREAMED); }

    public LlamaConfig config() { return c; }

    /** The paged KV cache (for tests and the engine: free blocks). */
    public KvCache cache() { return cache; }

    @Override
    protected void compute(DecoderBatch b) {
        int n = b.tokens();
        Tensor res = this.res.rows(0, n), xb = this.xb.rows(0, n), delta = this.delta.rows(0, n), q = this.q.rows(0, n),
                k = this.k.rows(0, n), v = this.v.rows(0, n), att = this.att.rows(0, n), gate = this.gate.rows(0, n),
                up = this.up.rows(0, n);
        float eps = c.rmsEps();
        ops.gatherRows(res, embedding, b.ids());
        for (int l = 0; l < layers.length; l++) {
            Layer L = layers[l];
            ops.rmsNorm(xb, l == 0 ? null : res, l == 0 ? res : delta, L.attnNorm, eps);
            ops.matmul(q, xb, L.wq);
            ops.matmul(k, xb, L.wk);
            ops.matmul(v, xb, L.wv);
            ops.ropeKv(q, k, v, cache.layer(l), rope, heads, b);
            ops.attention(att, q, k, v, cache.layer(l), heads, b, AttentionSpec.of(scale));
            ops.matmul(delta, att, L.wo);
            ops.rmsNorm(xb, res, delta, L.ffnNorm, eps);
            ops.matmul(gate, xb, L.wGate);
            ops.matmul(up, xb, L.wUp);
            ops.glu(gate, gate, up, Activation.SILU);
            ops.matmul(delta, gate, L.wDown);
        }
        ops.rmsNorm(xb, res, delta, outputNorm, eps);
        head(xb, output, b);
    }
}
