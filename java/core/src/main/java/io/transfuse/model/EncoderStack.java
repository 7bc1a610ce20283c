package io.transfuse.model;

import io.transfuse.backend.Activation;
import io.transfuse.backend.Backend;
import io.transfuse.backend.Backend.WeightUse;
import io.transfuse.backend.EncoderBatch;
import io.transfuse.backend.Heads;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Dequantize;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * The transformer encoder layer of "Attention Is All You Need" as BERT and ViT use it, written once:
 * bidirectional multi-head self-attention and a GELU feed-forward block, each with a residual connection
 * and a LayerNorm, either after the block (post-LN, BERT) or before it (pre-LN, ViT):
 * <pre>
 *   post-LN:  x = LN1(x + attention(x) Wo + bo);   x = LN2(x + gelu(x W1 + b1) W2 + b2)
 *   pre-LN:   x = x + attention(LN1(x)) Wo + bo;   x = x + gelu(LN2(x) W1 + b1) W2 + b2
 * </pre>
 * Q, K and V are one fused projection (their weights stacked at load), read by the attention as column
 * views of its output. Sequences are packed without padding ({@link EncoderBatch}); each attends only to
 * itself. Heads are padded to the backend's attention head dim ({@link HeadPadding}). The residual stream
 * x is the caller's; the workspace is planned at load for {@code maxTokens} rows.
 */
public final class EncoderStack {
    /** Where the LayerNorms sit. */
    public enum Norm { POST, PRE }

    /**
     * One layer as a checkpoint stores it: linear weights [out][in], biases (null when the model has
     * none, e.g. ViT with qkv_bias false) and LayerNorm parameters. ln1 belongs to the attention block, ln2 to
     * the feed-forward block.
     */
    public record LayerWeights(Tensor wq, Tensor bq, Tensor wk, Tensor bk, Tensor wv, Tensor bv, Tensor wo, Tensor bo,
                               Tensor ln1w, Tensor ln1b, Tensor w1, Tensor b1, Tensor w2, Tensor b2, Tensor ln2w, Tensor ln2b) {}

    private record Layer(Tensor wQkv, Tensor bQkv, Tensor wo, Tensor bo, Tensor ln1w, Tensor ln1b, Tensor w1, Tensor b1,
                         Tensor w2, Tensor b2, Tensor ln2w, Tensor ln2b) {}

    private final Backend ops;
    private final Norm norm;
    private final Activation activation;
    private final Heads heads;
    private final float eps, scale;
    private final int dim;
    private final Layer[] layers;
    private final Tensor qkv, att, delta, h, inter;

    /**
     * @param heads     attention heads of the model (dim / heads each)
     * @param ffn       width of the feed-forward block
     * @param hostArena where the fused Q/K/V weights are kept when the backend reads them in place
     *                  ({@link Backend#weight}): it must live as long as {@code ops}
     */
    public EncoderStack(Backend ops, String source, List<LayerWeights> weights, Norm norm, int dim, int heads, int ffn, float eps,
                        int maxTokens, TrackedArena hostArena) {
        this(ops, source, weights, norm, Activation.GELU_ERF, dim, heads, ffn, eps, maxTokens, hostArena);
    }

    /**
     * As above with the feed-forward block's activation ({@code GELU_ERF} or {@code GELU_TANH}). Layers
     * given the same {@link LayerWeights} object (ALBERT's shared layers) share one copy on the backend.
     */
    public EncoderStack(Backend ops, String source, List<LayerWeights> weights, Norm norm, Activation activation, int dim, int heads,
                        int ffn, float eps, int maxTokens, TrackedArena hostArena) {
        if (dim % heads != 0) throw new ModelFormatException(source + ": hidden size " + dim + " is not a multiple of " + heads + " heads");
        this.ops = ops;
        this.norm = norm;
        this.activation = activation;
        this.dim = dim;
        this.eps = eps;
        int d = dim / heads, D = ops.attentionHeadDim(d, false);
        this.heads = new Heads(heads, heads, D);
        this.scale = (float) (1.0 / Math.sqrt(d));
        DType act = ops.activationType();
        layers = new Layer[weights.size()];
        java.util.Map<LayerWeights, Layer> built = new java.util.IdentityHashMap<>();
        for (int l = 0; l < layers.length; l++) {
            LayerWeights w = weights.get(l);
            if (built.containsKey(w)) {
                layers[l] = built.get(w); // shared weights (ALBERT): uploaded once
                continue;
            }
            try (TrackedArena staging = new TrackedArena(source + " layer " + l + " staging")) {
                Tensor wq = w.wq(), wk = w.wk(), wv = w.wv(), wo = w.wo(), bq = w.bq(), bk = w.bk(), bv = w.bv();
                if (D != d) {
                    wq = HeadPadding.rows(wq, heads, d, D, staging);
                    wk = HeadPadding.rows(wk, heads, d, D, staging);
                    wv = HeadPadding.rows(wv, heads, d, D, staging);
                    wo = HeadPadding.columns(wo, heads, d, D, staging);
                    if (bq != null) {
                        bq = HeadPadding.vector(bq, heads, d, D, staging);
                        bk = HeadPadding.vector(bk, heads, d, D, staging);
                        bv = HeadPadding.vector(bv, heads, d, D, staging);
                    }
                }
                // Stacked in scratch memory; kept in hostArena only when the backend reads it in place.
                Tensor fused = stackRows(source + " layer " + l + " fused QKV", staging, wq, wk, wv);
                Tensor wQkv = ops.weight(fused, WeightUse.BATCHED);
                if (wQkv == fused) wQkv = ops.weight(stackRows(fused.name(), hostArena, fused), WeightUse.BATCHED);
                Tensor bias = bq == null ? null : ops.upload(stackRows(source + " layer " + l + " fused QKV bias", staging,
                        Dequantize.toF32Tensor(bq.reshape(1, bq.elementCount()), staging),
                        Dequantize.toF32Tensor(bk.reshape(1, bk.elementCount()), staging),
                        Dequantize.toF32Tensor(bv.reshape(1, bv.elementCount()), staging)), act);
                layers[l] = new Layer(wQkv, bias, ops.weight(wo, WeightUse.BATCHED),
                        upload(w.bo()), upload(w.ln1w()), upload(w.ln1b()), ops.weight(w.w1(), WeightUse.BATCHED), upload(w.b1()),
                        ops.weight(w.w2(), WeightUse.BATCHED), upload(w.b2()), upload(w.ln2w()), upload(w.ln2b()));
                built.put(w, layers[l]);
            }
        }
        qkv = ops.allocate("fused QKV", act, maxTokens, 3L * this.heads.qWidth());
        att = ops.allocate("attention outputs", act, maxTokens, this.heads.qWidth());
        delta = ops.allocate("block outputs", act, maxTokens, dim);
        h = ops.allocate("normed activations", act, maxTokens, dim);
        inter = ops.allocate("feed-forward hidden", act, maxTokens, ffn);
    }

    private Tensor upload(Tensor t) { return t == null ? null : ops.upload(t, ops.activationType()); }

    /** Runs every layer over the residual stream x [batch.tokens()][dim], in place. */
    public void forward(Tensor x, EncoderBatch batch) {
        int n = batch.tokens(), width = heads.qWidth();
        Tensor qkv = this.qkv.rows(0, n), att = this.att.rows(0, n), delta = this.delta.rows(0, n), h = this.h.rows(0, n),
                inter = this.inter.rows(0, n);
        Tensor q = qkv.columns(0, width), k = qkv.columns(width, width), v = qkv.columns(2L * width, width);
        for (int l = 0; l < layers.length; l++) {
            Layer L = layers[l];
            if (norm == Norm.POST) {
                ops.linear(qkv, x, L.wQkv, L.bQkv, Activation.IDENTITY);
                ops.attentionVarlen(att, q, k, v, heads, batch, scale, false);
                ops.linear(delta, att, L.wo, L.bo, Activation.IDENTITY);
                ops.layerNorm(x, x, delta, L.ln1w, L.ln1b, eps);
                ops.linear(inter, x, L.w1, L.b1, activation);
                ops.linear(delta, inter, L.w2, L.b2, Activation.IDENTITY);
                ops.layerNorm(x, x, delta, L.ln2w, L.ln2b, eps);
            } else {
                // The previous layer's output is added to x by this layer's first norm.
                ops.layerNorm(h, l == 0 ? null : x, l == 0 ? x : delta, L.ln1w, L.ln1b, eps);
                ops.linear(qkv, h, L.wQkv, L.bQkv, Activation.IDENTITY);
                ops.attentionVarlen(att, q, k, v, heads, batch, scale, false);
                ops.linear(delta, att, L.wo, L.bo, Activation.IDENTITY);
                ops.layerNorm(h, x, delta, L.ln2w, L.ln2b, eps);
                ops.linear(inter, h, L.w1, L.b1, activation);
                ops.linear(delta, inter, L.w2, L.b2, Activation.IDENTITY);
            }
        }
        if (norm == Norm.PRE && layers.length > 0) ops.add(x, x, delta);
    }

    public int dim() { return dim; }

    /** The blocks' rows stacked into one [sum of rows][in] host tensor of their common type (a copy in arena). */
    public static Tensor stackRows(String name, TrackedArena arena, Tensor... blocks) {
        DType type = blocks[0].dtype();
        long rows = 0, cols = blocks[0].cols();
        for (Tensor b : blocks) {
            if (b.dtype() != type || b.cols() != cols) {
                throw new ModelFormatException(name + ": " + blocks[0].describe() + " and " + b.describe()
                        + " cannot be stacked (different types or widths)");
            }
            rows += b.rows();
        }
        MemorySegment out = arena.allocate(type.bytesFor(rows * cols));
        long at = 0;
        for (Tensor b : blocks) {
            long bytes = b.spanBytes();
            MemorySegment.copy(b.data(), 0, out, at, bytes);
            at += bytes;
        }
        return new Tensor(name, type, new long[] {rows, cols}, out);
    }
}
