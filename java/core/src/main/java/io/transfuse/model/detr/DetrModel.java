package io.transfuse.model.detr;

import io.transfuse.backend.Activation;
import io.transfuse.backend.Backend;
import io.transfuse.backend.Backend.WeightUse;
import io.transfuse.backend.EncoderBatch;
import io.transfuse.backend.Heads;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.DetectorGraph;
import io.transfuse.model.vit.ImagePreprocessor;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

import java.util.Arrays;

/**
 * DETR (Carion et al. 2020, "End-to-End Object Detection with Transformers"), once for every backend:
 * <pre>
 *   f = ResNet50(image)                                   [HW][2048], NHWC rows are tokens ({@link ResNetBackbone})
 *   m = f W_p + b_p                                       the 1x1 input projection
 *   p = sine(mask)                                        2-D position embedding ({@link SinePositionEmbedding})
 *   per encoder layer (post-LN):  m = LN(m + Attn(q = m + p, k = m + p, v = m));  m = LN(m + relu(m W_1 + b_1) W_2 + b_2)
 *   x = 0, o = the learned object queries                  [Q][d]
 *   per decoder layer:            x = LN(x + Attn(q = x + o, k = x + o, v = x))
 *                                 x = LN(x + Attn(q = x + o, k = m + p, v = m))     cross-attention to the memory
 *                                 x = LN(x + FFN(x))
 *   x = LN(x);  logits = x W_c + b_c;  boxes = sigmoid(MLP_3(x))      (cx, cy, w, h) relative to the image
 * </pre>
 * Attention is HF's DetrAttention: separate Q/K/V/out projections, scale head_dim^-1/2, positions added to the
 * query and key inputs only. One image per forward pass, so the pixel mask is all ones; the embedding honours a
 * mask all the same. Logits and boxes come back as F32.
 */
public final class DetrModel implements DetectorGraph {
    private final DetrConfig c;
    private final Backend ops;
    private final ResNetBackbone backbone;
    private final Tensor projW, projB, queryPos, decNormW, decNormB, classW, classB;
    private final Tensor[] boxW, boxB;
    private final Layer[] encoder;
    private final Layer[] decoder;
    private final Heads encHeads, decHeads;
    private final int maxTokens;
    // workspace: m memory, pos, mp = m + p, and per-row scratch sized for max(tokens, queries)
    private final Tensor memory, pos, memPos, qIn, q, k, v, att, delta, inter, x, box1, box2, logits, boxes;
    private final EncoderBatch tokenBatch, queryBatch;
    private int posH = -1, posW = -1;
    private boolean closed;

    /** One attention's projections on the backend. */
    private record Attn(Tensor wq, Tensor bq, Tensor wk, Tensor bk, Tensor wv, Tensor bv, Tensor wo, Tensor bo) {}

    /** A layer: self-attention, optional cross-attention (decoder), FFN, and its LayerNorms (ln[0..2]). */
    private record Layer(Attn self, Attn cross, Tensor fc1, Tensor fc1b, Tensor fc2, Tensor fc2b, Tensor[] lnW, Tensor[] lnB) {}

    /**
     * Builds the graph on {@code ops}, which it owns from now on (closed with it).
     *
     * @param maxHeight the tallest, @param maxWidth the widest image the preprocessor makes (the workspace is planned for
     *                  every image within both orientations of these)
     */
    public DetrModel(DetrConfig config, DetrWeights w, Backend ops, int maxHeight, int maxWidth) {
        this.c = config;
        this.ops = ops;
        DType act = ops.activationType();
        int d = c.dModel();
        encHeads = heads(c.encoderHeads(), d, ops);
        decHeads = heads(c.decoderHeads(), d, ops);
        long[] cap = ResNetBackbone.plan(maxHeight, maxWidth), other = ResNetBackbone.plan(maxWidth, maxHeight);
        for (int i = 0; i < cap.length; i++) cap[i] = Math.max(cap[i], other[i]);
        int[] fa = ResNetBackbone.featureSize(maxHeight, maxWidth);
        maxTokens = fa[0] * fa[1];
        try (TrackedArena staging = new TrackedArena(c.source() + " staging")) {
            backbone = new ResNetBackbone(w, ops, cap, staging);
            projW = lin(w.projection().reshape(d, DetrConfig.STAGE_WIDTHS[3])); // a 1x1 conv is a linear layer on NHWC rows
            projB = ops.upload(w.projectionBias(), act);
            queryPos = ops.upload(w.queryPositions(), act);
            encoder = new Layer[c.encoderLayers()];
            for (int i = 0; i < encoder.length; i++) {
                DetrWeights.EncoderLayer l = w.encoder()[i];
                encoder[i] = new Layer(attn(l.self()), null, lin(l.fc1()), vec(l.fc1Bias()), lin(l.fc2()), vec(l.fc2Bias()),
                        new Tensor[] {vec(l.ln1Weight()), vec(l.ln2Weight())}, new Tensor[] {vec(l.ln1Bias()), vec(l.ln2Bias())});
            }
            decoder = new Layer[c.decoderLayers()];
            for (int i = 0; i < decoder.length; i++) {
                DetrWeights.DecoderLayer l = w.decoder()[i];
                decoder[i] = new Layer(attn(l.self()), attn(l.cross()), lin(l.fc1()), vec(l.fc1Bias()), lin(l.fc2()), vec(l.fc2Bias()),
                        new Tensor[] {vec(l.ln1Weight()), vec(l.ln2Weight()), vec(l.ln3Weight())},
                        new Tensor[] {vec(l.ln1Bias()), vec(l.ln2Bias()), vec(l.ln3Bias())});
            }
            decNormW = vec(w.decoderNormWeight());
            decNormB = vec(w.decoderNormBias());
            classW = lin(w.classWeight());
            classB = ops.upload(w.classBias(), DType.F32); // the class head writes F32 logits
            boxW = new Tensor[3];
            boxB = new Tensor[3];
            for (int i = 0; i < 3; i++) {
                boxW[i] = lin(w.boxWeights()[i]);
                boxB[i] = ops.upload(w.boxBiases()[i], i == 2 ? DType.F32 : act);
            }
        }
        int rows = Math.max(maxTokens, c.numQueries()), ffn = Math.max(c.encoderFfn(), c.decoderFfn());
        memory = ops.allocate("DETR memory", act, maxTokens, d);
        pos = ops.allocate("DETR position embedding", act, maxTokens, d);
        memPos = ops.allocate("DETR memory + positions", act, maxTokens, d);
        qIn = ops.allocate("DETR attention inputs", act, rows, d);
        q = ops.allocate("DETR queries", act, rows, d);
        k = ops.allocate("DETR keys", act, rows, d);
        v = ops.allocate("DETR values", act, rows, d);
        att = ops.allocate("DETR attention outputs", act, rows, d);
        delta = ops.allocate("DETR layer outputs", act, rows, d);
        inter = ops.allocate("DETR FFN hidden", act, (long) rows * ffn, 1);
        x = ops.allocate("DETR decoder state", act, c.numQueries(), d);
        box1 = ops.allocate("DETR box MLP 1", act, c.numQueries(), d);
        box2 = ops.allocate("DETR box MLP 2", act, c.numQueries(), d);
        logits = ops.allocate("DETR logits", DType.F32, c.numQueries(), c.classes());
        boxes = ops.allocate("DETR boxes", DType.F32, c.numQueries(), 4);
        tokenBatch = new EncoderBatch(ops, maxTokens, 1, 0);
        queryBatch = new EncoderBatch(ops, c.numQueries(), 1, 0);
        queryBatch.clear();
        queryBatch.add(c.numQueries());
        queryBatch.commit();
    }

    private static Heads heads(int n, int d, Backend ops) {
        int hd = d / n;
        if (ops.attentionHeadDim(hd, false) != hd) {
            throw new IllegalArgumentException("DETR: head dim " + hd + " (d_model " + d + " / " + n + " heads) is not one the " + ops.name()
                    + " backend's attention runs unpadded (it would need " + ops.attentionHeadDim(hd, false) + ")");
        }
        return new Heads(n, n, hd);
    }

    private Attn attn(DetrWeights.Attention a) {
        return new Attn(lin(a.wq()), vec(a.bq()), lin(a.wk()), vec(a.bk()), lin(a.wv()), vec(a.bv()), lin(a.wo()), vec(a.bo()));
    }

    private Tensor lin(Tensor w) { return ops.weight(w, WeightUse.BATCHED); }

    private Tensor vec(Tensor t) { return ops.upload(t, ops.activationType()); }

    public DetrConfig config() { return c; }

    @Override
    public String[] labels() { return c.labels().clone(); }

    @Override
    public Outputs detect(ImagePreprocessor.Pixels image) {
        if (closed) throw new IllegalStateException("detector " + c.source() + " was closed");
        int h = image.height(), w = image.width(), d = c.dModel(), nq = c.numQueries();
        int[] fs = ResNetBackbone.featureSize(h, w);
        int n = fs[0] * fs[1];
        if (n > maxTokens) {
            throw new IllegalArgumentException("an image of " + w + "x" + h + " gives " + n + " feature tokens; the workspace holds "
                    + maxTokens + " (" + c.source() + ")");
        }
        float[] nhwc = new float[h * w * 3];
        float[] chw = image.data();
        for (int ch = 0; ch < 3; ch++) for (int i = 0; i < h * w; i++) nhwc[i * 3 + ch] = chw[ch * h * w + i];
        Tensor feature = backbone.run(nhwc, h, w);
        Tensor m = memory.rows(0, n), p = pos.rows(0, n), mp = memPos.rows(0, n);
        ops.linear(m, feature, projW, projB, Activation.IDENTITY);
        setPositions(fs[0], fs[1]);
        tokenBatch.clear();
        tokenBatch.add(n);
        tokenBatch.commit();
        float scaleE = (float) (1 / Math.sqrt(encHeads.headDim())), scaleD = (float) (1 / Math.sqrt(decHeads.headDim()));
        for (Layer l : encoder) {
            ops.add(qIn.rows(0, n), m, p);
            selfAttention(l.self, m, qIn.rows(0, n), n, encHeads, tokenBatch, scaleE);
            ops.layerNorm(m, m, delta.rows(0, n), l.lnW[0], l.lnB[0], DetrConfig.LAYER_NORM_EPS);
            ffn(l, m, n);
            ops.layerNorm(m, m, delta.rows(0, n), l.lnW[1], l.lnB[1], DetrConfig.LAYER_NORM_EPS);
        }
        ops.add(mp, m, p);
        ops.write(x, new float[nq * d], 0, nq * d);
        for (Layer l : decoder) {
            ops.add(qIn.rows(0, nq), x, queryPos);
            selfAttention(l.self, x, qIn.rows(0, nq), nq, decHeads, queryBatch, scaleD);
            ops.layerNorm(x, x, delta.rows(0, nq), l.lnW[0], l.lnB[0], DetrConfig.LAYER_NORM_EPS);
            ops.add(qIn.rows(0, nq), x, queryPos);
            Attn a = l.cross;
            ops.linear(q.rows(0, nq), qIn.rows(0, nq), a.wq, a.bq, Activation.IDENTITY);
            ops.linear(k.rows(0, n), mp, a.wk, a.bk, Activation.IDENTITY);
            ops.linear(v.rows(0, n), m, a.wv, a.bv, Activation.IDENTITY);
            ops.crossAttention(att.rows(0, nq), q.rows(0, nq), k.rows(0, n), v.rows(0, n), decHeads, queryBatch, tokenBatch, scaleD);
            ops.linear(delta.rows(0, nq), att.rows(0, nq), a.wo, a.bo, Activation.IDENTITY);
            ops.layerNorm(x, x, delta.rows(0, nq), l.lnW[1], l.lnB[1], DetrConfig.LAYER_NORM_EPS);
            ffn(l, x, nq);
            ops.layerNorm(x, x, delta.rows(0, nq), l.lnW[2], l.lnB[2], DetrConfig.LAYER_NORM_EPS);
        }
        ops.layerNorm(x, null, x, decNormW, decNormB, DetrConfig.LAYER_NORM_EPS);
        ops.linear(logits, x, classW, classB, Activation.IDENTITY);
        ops.linear(box1, x, boxW[0], boxB[0], Activation.RELU);
        ops.linear(box2, box1, boxW[1], boxB[1], Activation.RELU);
        ops.linear(boxes, box2, boxW[2], boxB[2], Activation.IDENTITY);
        float[] l = new float[nq * c.classes()], b = new float[nq * 4];
        ops.read(logits, l, 0, l.length);
        ops.read(boxes, b, 0, b.length);
        for (int i = 0; i < b.length; i++) b[i] = (float) (1 / (1 + Math.exp(-b[i])));
        return new Outputs(l, b, nq, c.classes());
    }

    /** delta = self-attention of rows {@code h} (values) with {@code withPos} (= h + positions) as query and key input. */
    private void selfAttention(Attn a, Tensor h, Tensor withPos, int n, Heads heads, EncoderBatch batch, float scale) {
        ops.linear(q.rows(0, n), withPos, a.wq, a.bq, Activation.IDENTITY);
        ops.linear(k.rows(0, n), withPos, a.wk, a.bk, Activation.IDENTITY);
        ops.linear(v.rows(0, n), h, a.wv, a.bv, Activation.IDENTITY);
        ops.attentionVarlen(att.rows(0, n), q.rows(0, n), k.rows(0, n), v.rows(0, n), heads, batch, scale, false);
        ops.linear(delta.rows(0, n), att.rows(0, n), a.wo, a.bo, Activation.IDENTITY);
    }

    /** delta = relu(h W_1 + b_1) W_2 + b_2. */
    private void ffn(Layer l, Tensor h, int n) {
        Tensor hidden = flat(inter, n, l.fc1.rows()); // encoder and decoder FFN widths may differ
        ops.linear(hidden, h, l.fc1, l.fc1b, Activation.RELU);
        ops.linear(delta.rows(0, n), hidden, l.fc2, l.fc2b, Activation.IDENTITY);
    }

    /** The first rows * cols elements of a flat [n][1] buffer as a contiguous [rows][cols]. */
    private static Tensor flat(Tensor buffer, long rows, long cols) {
        return buffer.rows(0, rows * cols).reshape(rows, cols);
    }

    /** The sine embedding of an all-ones mask for an fh x fw feature map, written when the size changes. */
    private void setPositions(int fh, int fw) {
        if (fh == posH && fw == posW) return;
        byte[] mask = new byte[fh * fw];
        Arrays.fill(mask, (byte) 1);
        float[] e = SinePositionEmbedding.of(mask, fh, fw, c.dModel());
        ops.write(pos.rows(0, (long) fh * fw), e, 0, e.length);
        posH = fh;
        posW = fw;
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        ops.close();
    }
}
