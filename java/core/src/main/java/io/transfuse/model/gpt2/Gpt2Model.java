package io.transfuse.model.gpt2;

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
 * GPT-2 (Radford et al. 2019), once for every backend: learned absolute positions, pre-LN LayerNorm
 * blocks, a fused Q/K/V projection with biases, a GELU MLP and a head tied to the token embedding.
 * For the packed tokens of a batch:
 * <pre>
 *   x = wte[token] + wpe[position]
 *   per layer:  h = LN1(x += delta)                        (the first layer: LN1(x))
 *               q, k, v = h Wqkv^T + bqkv                  (the rows of c_attn, as three projections)
 *               cache &lt;- k, v;  delta = attention(q, cache) Wo^T + bo     (causal; no rotary embedding)
 *               h = LN2(x += delta)
 *               delta = gelu(h W1^T + b1) W2^T + b2
 *   logits = LN_f(x += delta)[last token of each sequence] wte^T
 * </pre>
 * A decode step runs as a recorded step ({@link DecoderGraph}); heads are padded to the backend's
 * attention head dim ({@link HeadPadding}).
 */
public final class Gpt2Model extends DecoderGraph {
    private final Gpt2Config c;
    private final Heads heads;
    private final float scale;
    private final KvCache cache;
    private final Layer[] layers;
    private final Tensor wte, wpe, normF, normFBias, output;
    // Workspace [maxTokens][width]: x the residual stream, h the normed input, delta every block's output,
    // pos the position embeddings of the batch.
    private final Tensor x, h, delta, pos, q, k, v, att, mlp;

    private record Layer(Tensor ln1, Tensor ln1Bias, Tensor wq, Tensor bq, Tensor wk, Tensor bk, Tensor wv, Tensor bv, Tensor wo,
                         Tensor bo, Tensor ln2, Tensor ln2Bias, Tensor wUp, Tensor bUp, Tensor wDown, Tensor bDown) {}

    /** Builds the graph on {@code ops}, which it owns from now on (closed with it). */
    public Gpt2Model(Gpt2Config config, Gpt2Weights w, Backend ops, DecoderLimits limits) {
        this(config, w, ops, limits, new KvCache(ops, config.source(), config.layers(),
                config.heads() * ops.attentionHeadDim(config.headDim(), true), limits));
    }

    private Gpt2Model(Gpt2Config config, Gpt2Weights w, Backend ops, DecoderLimits limits, KvCache cache) {
        super(ops, config.source(), config.dim(), config.vocabSize(), limits.context(), limits, cache);
        this.c = config;
        this.cache = cache;
        int d = c.dim(), hd = c.headDim(), D = ops.attentionHeadDim(hd, true), H = c.heads();
        this.heads = new Heads(H, H, D);
        this.scale = (float) (1.0 / Math.sqrt(hd));
        DType act = ops.activationType();
        wte = ops.weight(w.tokenEmbedding(), WeightUse.STREAMED);
        output = w.output() == w.tokenEmbedding() ? wte : ops.weight(w.output(), WeightUse.DECODE);
        wpe = ops.upload(w.positionEmbedding(), act);
        normF = ops.upload(w.normF(), act);
        normFBias = ops.upload(w.normFBias(), act);
        layers = new Layer[c.layers()];
        try (TrackedArena padding = new TrackedArena("head padding of " + c.source())) {
            for (int l = 0; l < layers.length; l++) {
                Gpt2Weights.Layer L = w.layers()[l];
                Tensor[] qkv = new Tensor[3], bias = new Tensor[3];
                for (int i = 0; i < 3; i++) {
                    qkv[i] = L.wqkv().rows((long) i * d, d);
                    bias[i] = L.bqkv().reshape(3, d).row(i).reshape(d);
                    if (D != hd) {
                        qkv[i] = HeadPadding.rows(qkv[i], H, hd, D, padding);
                        bias[i] = HeadPadding.vector(bias[i], H, hd, D, padding);
                    }
                }
                Tensor wo = D != hd ? HeadPadding.columns(L.wo(), H, hd, D, padding) : L.wo();
                layers[l] = new Layer(ops.upload(L.ln1(), act), ops.upload(L.ln1Bias(), act),
                        weight(qkv[0]), ops.upload(bias[0], act), weight(qkv[1]), ops.upload(bias[1], act),
                        weight(qkv[2]), ops.upload(bias[2], act), weight(wo), ops.upload(L.bo(), act),
                        ops.upload(L.ln2(), act), ops.upload(L.ln2Bias(), act), weight(L.wUp()), ops.upload(L.bUp(), act),
                        weight(L.wDown()), ops.upload(L.bDown(), act));
            }
        }
        int n = limits.maxTokens();
        x = ops.allocate("residual stream", act, n, d);
        h = ops.allocate("normed activations", act, n, d);
        delta = ops.allocate("block outputs", act, n, d);
        pos = ops.allocate("position embeddings", act, n, d);
        q = ops.allocate("queries", act, n, heads.qWidth());
        k = ops.allocate("keys", act, n, heads.kvWidth());
        v = ops.allocate("values", act, n, heads.kvWidth());
        att = ops.allocate("attention outputs", act, n, heads.qWidth());
        mlp = ops.allocate("MLP hidden", act, n, c.ffn());
    }

    private Tensor weight(Tensor t) { return ops.weight(t, WeightUse.DECODE); }

    public Gpt2Config config() { return c; }

    @Override
    protected void compute(DecoderBatch b) {
        int n = b.tokens();
        Tensor x = this.x.rows(0, n), h = this.h.rows(0, n), delta = this.delta.rows(0, n), pos = this.pos.rows(0, n),
                q = this.q.rows(0, n), k = this.k.rows(0, n), v = this.v.rows(0, n), att = this.att.rows(0, n), mlp = this.mlp.rows(0, n);
        float eps = c.eps();
        ops.gatherRows(x, wte, b.ids());
        ops.gatherRows(pos, wpe, b.positions());
        ops.add(x, x, pos);
        for (int l = 0; l < layers.length; l++) {
            Layer L = layers[l];
            ops.layerNorm(h, l == 0 ? null : x, l == 0 ? x : delta, L.ln1, L.ln1Bias, eps);
            ops.linear(q, h, L.wq, L.bq, Activation.IDENTITY);
            ops.linear(k, h, L.wk, L.bk, Activation.IDENTITY);
            ops.linear(v, h, L.wv, L.bv, Activation.IDENTITY);
            ops.ropeKv(q, k, v, cache.layer(l), Rope.NONE, heads, b);
            ops.attention(att, q, k, v, cache.layer(l), heads, b, AttentionSpec.of(scale));
            ops.linear(delta, att, L.wo, L.bo, Activation.IDENTITY);
            ops.layerNorm(h, x, delta, L.ln2, L.ln2Bias, eps);
            ops.linear(mlp, h, L.wUp, L.bUp, c.activation());
            ops.linear(delta, mlp, L.wDown, L.bDown, Activation.IDENTITY);
        }
        ops.layerNorm(h, x, delta, normF, normFBias, eps);
        head(h, output, b);
    }
}
