package io.transfuse.model.swin;

import io.transfuse.backend.Activation;
import io.transfuse.backend.Backend;
import io.transfuse.backend.Backend.WeightUse;
import io.transfuse.backend.WindowGrid;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.ClassifierGraph;
import io.transfuse.model.EncoderStack;
import io.transfuse.model.vit.ImagePreprocessor;
import io.transfuse.model.vit.Patches;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Dequantize;
import io.transfuse.tensor.Tensor;

/**
 * The Swin Transformer classifier (Liu et al. 2021), once for every backend (Swin-V2, Liu et al. 2022, below):
 * <pre>
 *   x = LN(patches W_p + b_p)                                  patch embedding (a stride-p convolution: im2col + matmul)
 *   per stage s, per block b (pre-LN, window w_s, shift 0 in even blocks, w_s / 2 in odd ones):
 *     x = x + (W-MSA or SW-MSA)(LN1(x)) W_o + b_o              one windowAttention op: roll, windows, bias, mask fused
 *     x = x + gelu(LN2(x) W_1 + b_1) W_2 + b_2
 *   between stages: x = LN(concat(x[2i, 2j], x[2i+1, 2j], x[2i, 2j+1], x[2i+1, 2j+1])) W_r    (patch merging: a row
 *                   gather, then LayerNorm and a 4C -> 2C linear)
 *   logits = mean over tokens of LN(x), times W_c + b_c
 * </pre>
 * Swin-V2 differs in three places: attention is cosine attention times a per-head logit scale with the bias
 * 16 sigmoid(MLP(log-spaced relative coordinates)) (computed once at load, {@link SwinV2PositionBias}); the norms
 * follow the attention and the MLP (x = x + LN1(attention(x)), x = x + LN2(mlp(x))); merging reduces, then normalises.
 * As in HF's SwinLayer, a stage whose token grid is not larger than the window uses one window of the grid and
 * no shift. The token mean (a few thousand values) is taken on the host between the final LayerNorm and the head.
 * The workspace is planned at load for the config's image size; other sizes up to it work when every stage's grid
 * is a whole number of windows ({@link SwinConfig#gridProblem}).
 */
public final class SwinModel implements ClassifierGraph {
    private final SwinConfig c;
    private final Backend ops;
    private final Tensor patchW, patchB, embedNormW, embedNormB, normW, normB, headW, headB;
    private final Stage[] stages;
    private final Tensor patches, pooled, logits;
    private final float[] hostLogits;
    private final int maxTokens;
    private int mergeGridW = -1, mergeGridH = -1;
    private boolean closed;

    /** A block on the backend; logitScale (F32 [heads]) only for Swin-V2, whose biasTable is 16 sigmoid(CPB MLP). */
    private record Block(Tensor wQkv, Tensor bQkv, Tensor biasTable, Tensor logitScale, Tensor wo, Tensor bo, Tensor ln1w,
                         Tensor ln1b, Tensor w1, Tensor b1, Tensor w2, Tensor b2, Tensor ln2w, Tensor ln2b) {}

    /**
     * A stage's blocks, its merging weights (null in the last stage) and its workspace: x the residual stream,
     * h normed rows, qkv, att the attention outputs, delta a block's output, inter the MLP's hidden rows,
     * merged [tokens / 4][4 dim] the gathered 2x2 neighbourhoods and mergeRows their I32 source rows.
     */
    private record Stage(int dim, int heads, Block[] blocks, Tensor mergeNormW, Tensor mergeNormB, Tensor reduction,
                         Tensor x, Tensor h, Tensor qkv, Tensor att, Tensor delta, Tensor inter, Tensor merged, Tensor mergeRows) {}

    /**
     * Builds the graph on {@code ops}, which it owns from now on (closed with it).
     *
     * @param hostArena the model's arena (host copies the backend may read in place live there)
     */
    public SwinModel(SwinConfig config, SwinWeights w, Backend ops, TrackedArena hostArena) {
        this.c = config;
        this.ops = ops;
        DType act = ops.activationType();
        int p = c.patchSize(), grid = c.imageSize() / p;
        this.maxTokens = grid * grid;
        patchW = ops.weight(w.patchWeight().reshape(c.embedDim(), 3L * p * p), WeightUse.BATCHED);
        patchB = ops.upload(w.patchBias(), act);
        embedNormW = ops.upload(w.embedNormWeight(), act);
        embedNormB = ops.upload(w.embedNormBias(), act);
        stages = new Stage[c.stages()];
        int tokens = maxTokens;
        for (int s = 0; s < stages.length; s++) {
            SwinWeights.Stage ws = w.stages()[s];
            int d = c.dim(s), mlp = c.mlpDim(s);
            Block[] blocks = new Block[ws.blocks().length];
            for (int b = 0; b < blocks.length; b++) blocks[b] = block(ws.blocks()[b], s, "stage " + s + " block " + b, hostArena);
            boolean merges = ws.mergeReduction() != null;
            String at = "stage " + s + " ";
            stages[s] = new Stage(d, c.numHeads()[s], blocks,
                    merges ? ops.upload(ws.mergeNormWeight(), act) : null, merges ? ops.upload(ws.mergeNormBias(), act) : null,
                    merges ? ops.weight(ws.mergeReduction(), WeightUse.BATCHED) : null,
                    ops.allocate(at + "hidden state", act, tokens, d), ops.allocate(at + "normed rows", act, tokens, d),
                    ops.allocate(at + "fused QKV", act, tokens, 3L * d), ops.allocate(at + "attention outputs", act, tokens, d),
                    ops.allocate(at + "block outputs", act, tokens, d), ops.allocate(at + "MLP hidden", act, tokens, mlp),
                    merges ? ops.allocate(at + "merged patches", act, tokens / 4, 4L * d) : null,
                    merges ? ops.allocate(at + "merge rows", DType.I32, tokens) : null);
            tokens /= 4;
        }
        normW = ops.upload(w.normWeight(), act);
        normB = ops.upload(w.normBias(), act);
        headW = ops.weight(w.classifierWeight(), WeightUse.BATCHED);
        headB = ops.upload(w.classifierBias(), DType.F32); // the head writes F32 logits
        patches = ops.allocate("patches", act, maxTokens, 3L * p * p);
        pooled = ops.allocate("pooled features", act, 1, c.finalDim());
        logits = ops.allocate("logits", DType.F32, 1, c.labels().length);
        hostLogits = new float[c.labels().length];
    }

    /**
     * A block on the backend: Q, K, V stacked into one [3 dim][dim] projection (V2: a zero K bias), the bias table as
     * F32 (V2: computed here from the position-bias MLP, and the clamped, exponentiated logit scales).
     */
    private Block block(SwinWeights.Block b, int stage, String where, TrackedArena hostArena) {
        DType act = ops.activationType();
        try (TrackedArena staging = new TrackedArena(c.source() + " " + where + " staging")) {
            String name = c.source() + " " + where + " fused QKV";
            Tensor fused = EncoderStack.stackRows(name, staging, b.wq(), b.wk(), b.wv());
            Tensor wQkv = ops.weight(fused, WeightUse.BATCHED);
            // Read in place by the backend: keep a copy that lives as long as the model.
            if (wQkv == fused) wQkv = ops.weight(EncoderStack.stackRows(name, hostArena, fused), WeightUse.BATCHED);
            Tensor bk = b.bk() != null ? row(b.bk(), staging) : b.bq() == null ? null
                    : new Tensor(name + " K bias (none: zeros)", DType.F32, new long[] {1, b.bq().elementCount()},
                            staging.allocateFloats(b.bq().elementCount()));
            Tensor bQkv = b.bq() == null ? null : ops.upload(EncoderStack.stackRows(name + " bias", staging,
                    row(b.bq(), staging), bk, row(b.bv(), staging)), act);
            Tensor table = c.v2() ? SwinV2PositionBias.table(b, c.stageWindow(stage), c.pretrainedWindowSizes()[stage], staging)
                    : b.biasTable();
            Tensor logit = c.v2() ? SwinV2PositionBias.logitScales(b.logitScale(), staging) : null;
            return new Block(wQkv, bQkv, ops.upload(table, DType.F32), logit == null ? null : ops.upload(logit, DType.F32),
                    ops.weight(b.wo(), WeightUse.BATCHED),
                    ops.upload(b.bo(), act), ops.upload(b.ln1Weight(), act), ops.upload(b.ln1Bias(), act),
                    ops.weight(b.wUp(), WeightUse.BATCHED), ops.upload(b.bUp(), act),
                    ops.weight(b.wDown(), WeightUse.BATCHED), ops.upload(b.bDown(), act),
                    ops.upload(b.ln2Weight(), act), ops.upload(b.ln2Bias(), act));
        }
    }

    private static Tensor row(Tensor v, TrackedArena arena) {
        return Dequantize.toF32Tensor(v.reshape(1, v.elementCount()), arena);
    }

    public SwinConfig config() { return c; }

    @Override
    public String[] labels() { return c.labels().clone(); }

    @Override
    public float[] classify(ImagePreprocessor.Pixels image) {
        if (closed) throw new IllegalStateException("classifier " + c.source() + " was closed");
        String why = SwinConfig.gridProblem(image.width(), image.height(), c.patchSize(), c.stages(), c.windowSize());
        if (why != null) throw new IllegalArgumentException(c.source() + ": " + why + " (check preprocessor_config.json)");
        int p = c.patchSize(), gw = image.width() / p, gh = image.height() / p, n = gw * gh;
        if (n > maxTokens) {
            throw new IllegalArgumentException("image of " + image.width() + "x" + image.height() + " gives " + n
                    + " patches; the workspace holds " + maxTokens + " (planned for image_size " + c.imageSize() + ", " + c.source() + ")");
        }
        setMergeRows(gw, gh);
        float[] cols = Patches.im2col(image, p);
        ops.write(patches, cols, 0, cols.length);
        Stage first = stages[0];
        ops.linear(first.delta.rows(0, n), patches.rows(0, n), patchW, patchB, Activation.IDENTITY);
        ops.layerNorm(first.x.rows(0, n), null, first.delta.rows(0, n), embedNormW, embedNormB, c.layerNormEps());
        for (int s = 0; s < stages.length; s++) {
            Stage st = stages[s];
            runBlocks(st, s, gw, gh);
            if (st.reduction != null) {
                int m = n / 4;
                Tensor merged = st.merged.rows(0, m), next = stages[s + 1].x.rows(0, m);
                ops.gatherRows(merged.reshape(n, st.dim), st.x.rows(0, n), st.mergeRows);
                if (c.v2()) { // reduction, then LayerNorm over 2C
                    ops.linear(next, merged, st.reduction, null, Activation.IDENTITY);
                    ops.layerNorm(next, null, next, st.mergeNormW, st.mergeNormB, c.layerNormEps());
                } else {      // LayerNorm over 4C, then reduction
                    ops.layerNorm(merged, null, merged, st.mergeNormW, st.mergeNormB, c.layerNormEps());
                    ops.linear(next, merged, st.reduction, null, Activation.IDENTITY);
                }
                gw /= 2;
                gh /= 2;
                n = m;
            }
        }
        Stage last = stages[stages.length - 1];
        int d = last.dim;
        ops.layerNorm(last.h.rows(0, n), null, last.x.rows(0, n), normW, normB, c.layerNormEps());
        float[] rows = new float[n * d], mean = new float[d];
        ops.read(last.h.rows(0, n), rows, 0, rows.length);
        for (int t = 0; t < n; t++) for (int j = 0; j < d; j++) mean[j] += rows[t * d + j];
        for (int j = 0; j < d; j++) mean[j] /= n;
        ops.write(pooled, mean, 0, d);
        ops.linear(logits, pooled, headW, headB, Activation.IDENTITY);
        ops.read(logits, hostLogits, 0, hostLogits.length);
        return hostLogits.clone();
    }

    /** The blocks of stage s over its gw x gh grid. */
    private void runBlocks(Stage st, int s, int gw, int gh) {
        int n = gw * gh, d = st.dim;
        int window = Math.min(c.windowSize(), Math.min(gw, gh));
        if (window != c.stageWindow(s)) { // the position bias tables are built for the load-time window
            throw new IllegalArgumentException(c.source() + ": a " + gw + "x" + gh + " token grid in stage " + s + " needs " + window + "x"
                    + window + " windows; the model's position bias is for " + c.stageWindow(s) + "x" + c.stageWindow(s)
                    + " (image_size " + c.imageSize() + ")");
        }
        boolean canShift = Math.min(gw, gh) > c.windowSize();
        float scale = (float) (1.0 / Math.sqrt(d / st.heads));
        Tensor x = st.x.rows(0, n), h = st.h.rows(0, n), qkv = st.qkv.rows(0, n), att = st.att.rows(0, n),
                delta = st.delta.rows(0, n), inter = st.inter.rows(0, n);
        Tensor q = qkv.columns(0, d), k = qkv.columns(d, d), v = qkv.columns(2L * d, d);
        for (int b = 0; b < st.blocks.length; b++) {
            Block B = st.blocks[b];
            WindowGrid grid = new WindowGrid(gh, gw, window, canShift && b % 2 == 1 ? c.windowSize() / 2 : 0);
            if (c.v2()) { // res-post-norm: x += LN1(attention(x)); x += LN2(mlp(x))
                ops.linear(qkv, x, B.wQkv, B.bQkv, Activation.IDENTITY);
                ops.windowAttention(att, q, k, v, B.biasTable, B.logitScale, grid, st.heads, scale);
                ops.linear(delta, att, B.wo, B.bo, Activation.IDENTITY);
                ops.layerNorm(h, null, delta, B.ln1w, B.ln1b, c.layerNormEps());
                ops.add(x, x, h);
                ops.linear(inter, x, B.w1, B.b1, Activation.GELU_ERF);
                ops.linear(delta, inter, B.w2, B.b2, Activation.IDENTITY);
                ops.layerNorm(h, null, delta, B.ln2w, B.ln2b, c.layerNormEps());
                ops.add(x, x, h);
                continue;
            }
            ops.layerNorm(h, null, x, B.ln1w, B.ln1b, c.layerNormEps());
            ops.linear(qkv, h, B.wQkv, B.bQkv, Activation.IDENTITY);
            ops.windowAttention(att, q, k, v, B.biasTable, null, grid, st.heads, scale);
            ops.linear(delta, att, B.wo, B.bo, Activation.IDENTITY);
            ops.layerNorm(h, x, delta, B.ln2w, B.ln2b, c.layerNormEps()); // x += attention; h = LN2(x)
            ops.linear(inter, h, B.w1, B.b1, Activation.GELU_ERF);
            ops.linear(delta, inter, B.w2, B.b2, Activation.IDENTITY);
            ops.add(x, x, delta);
        }
    }

    /**
     * The source rows of every stage's patch merging for a gw x gh first-stage grid: merged token (y, x) of a
     * W x H grid takes rows (2y, 2x), (2y+1, 2x), (2y, 2x+1), (2y+1, 2x+1) in that order (HF's SwinPatchMerging
     * and torchvision's PatchMerging both concatenate x0, x1, x2, x3 so).
     */
    private void setMergeRows(int gw, int gh) {
        if (gw == mergeGridW && gh == mergeGridH) return;
        int w = gw, h = gh;
        for (Stage st : stages) {
            if (st.mergeRows == null) break;
            int[] rows = new int[w * h];
            int i = 0;
            for (int y = 0; y < h / 2; y++) {
                for (int x = 0; x < w / 2; x++) {
                    rows[i++] = (2 * y) * w + 2 * x;
                    rows[i++] = (2 * y + 1) * w + 2 * x;
                    rows[i++] = (2 * y) * w + 2 * x + 1;
                    rows[i++] = (2 * y + 1) * w + 2 * x + 1;
                }
            }
            ops.write(st.mergeRows, rows, 0, rows.length);
            w /= 2;
            h /= 2;
        }
        mergeGridW = gw;
        mergeGridH = gh;
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        ops.close();
    }
}
