package io.transfuse.model.vit;

import io.transfuse.backend.Activation;
import io.transfuse.backend.Backend;
import io.transfuse.backend.Backend.WeightUse;
import io.transfuse.backend.EncoderBatch;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.ClassifierGraph;
import io.transfuse.model.EncoderStack;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Dequantize;
import io.transfuse.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * The Vision Transformer classifier (Dosovitskiy et al. 2021), once for every backend: the image cut
 * into patches, each projected to the hidden size (a strided convolution, done as im2col on the host +
 * one matmul), a CLS token (and DeiT's distillation token) in front, learned positions added (bicubically
 * interpolated for other patch grids), the pre-LN {@link EncoderStack}, a final LayerNorm and a linear head
 * on the CLS token (DeiT with teacher: the mean of the CLS and distillation heads).
 *
 * <p>The workspace is planned at load for images of up to {@code maxSide} pixels a side; a larger image
 * is refused in one line naming both token counts.
 */
public final class ViTModel implements ClassifierGraph {
    private final ViTConfig c;
    private final Backend ops;
    private final EncoderStack stack;
    private final EncoderBatch batch;
    private final Tensor patchW, patchB, normW, normB;
    private final Head[] heads;
    private final float[] prefix, positions;
    private final int maxTokens;
    // Workspace: x the residual stream [maxTokens][hidden], patches [maxTokens][3 p p], pos the position
    // table of the current grid [maxTokens][hidden], row [1][hidden] a normed CLS row, logits F32 [1][labels].
    private final Tensor x, patches, pos, row, logits;
    private final float[] hostLogits;
    private int gridH, gridW;
    private boolean closed;

    private record Head(Tensor weight, Tensor bias, int token) {}

    /**
     * Builds the graph on {@code ops}, which it owns from now on (closed with it).
     *
     * @param hostArena the model's arena (host copies the backend may read in place live there)
     */
    public ViTModel(ViTConfig config, ViTWeights w, Backend ops, int maxSide, TrackedArena hostArena) {
        this.c = config;
        this.ops = ops;
        int h = c.hidden(), p = c.patchSize(), grid = maxSide / p;
        this.maxTokens = grid * grid + c.prefixTokens();
        DType act = ops.activationType();
        patchW = ops.weight(w.patchWeight().reshape(h, 3L * p * p), WeightUse.BATCHED);
        patchB = ops.upload(w.patchBias(), act);
        normW = ops.upload(w.normWeight(), act);
        normB = ops.upload(w.normBias(), act);
        heads = new Head[w.heads().length];
        for (int i = 0; i < heads.length; i++) {
            ViTWeights.Head hd = w.heads()[i];
            // The head writes F32 logits, so its bias is F32 too.
            heads[i] = new Head(ops.weight(hd.weight(), WeightUse.BATCHED), ops.upload(hd.bias(), DType.F32), hd.token());
        }
        List<EncoderStack.LayerWeights> layers = new ArrayList<>();
        for (ViTWeights.Layer L : w.layers()) {
            // Pre-LN: layernorm_before opens the attention block, layernorm_after the FFN block.
            layers.add(new EncoderStack.LayerWeights(L.wq(), L.bq(), L.wk(), L.bk(), L.wv(), L.bv(), L.wo(), L.bo(),
                    L.ln1Weight(), L.ln1Bias(), L.wUp(), L.bUp(), L.wDown(), L.bDown(), L.ln2Weight(), L.ln2Bias()));
        }
        stack = new EncoderStack(ops, c.source(), layers, EncoderStack.Norm.PRE, h, c.heads(), c.intermediate(), c.layerNormEps(), maxTokens, hostArena);
        batch = new EncoderBatch(ops, maxTokens, 1, 0);
        prefix = concat(Dequantize.toFloats(w.clsToken()), w.distillationToken() == null ? new float[0] : Dequantize.toFloats(w.distillationToken()));
        positions = Dequantize.toFloats(w.positions());
        x = ops.allocate("hidden state", act, maxTokens, h);
        patches = ops.allocate("patches", act, maxTokens, 3L * p * p);
        pos = ops.allocate("position embeddings", act, maxTokens, h);
        row = ops.allocate("normed CLS row", act, 1, h);
        logits = ops.allocate("logits", DType.F32, 1, c.labels().length);
        hostLogits = new float[c.labels().length];
    }

    private static float[] concat(float[] a, float[] b) {
        float[] r = new float[a.length + b.length];
        System.arraycopy(a, 0, r, 0, a.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    public ViTConfig config() { return c; }

    @Override
    public String[] labels() { return c.labels().clone(); }

    @Override
    public float[] classify(ImagePreprocessor.Pixels image) {
        if (closed) throw new IllegalStateException("classifier " + c.source() + " was closed");
        int p = c.patchSize(), h = c.hidden(), first = c.prefixTokens();
        if (image.width() % p != 0 || image.height() % p != 0) {
            throw new IllegalArgumentException("image of " + image.width() + "x" + image.height()
                    + " is not a whole number of " + p + "-pixel patches (check preprocessor_config.json)");
        }
        int gh = image.height() / p, gw = image.width() / p, n = gh * gw + first;
        if (n > maxTokens) {
            throw new IllegalArgumentException("image of " + image.width() + "x" + image.height() + " gives " + n
                    + " tokens; the workspace holds " + maxTokens + " (planned for the preprocessor's size, " + c.source() + ")");
        }
        Tensor x = this.x.rows(0, n);
        setPositions(gh, gw);
        float[] cols = Patches.im2col(image, p);
        ops.write(patches, cols, 0, cols.length);
        ops.linear(x.rows(first, n - first), patches.rows(0, n - first), patchW, patchB, Activation.IDENTITY);
        ops.write(x, prefix, 0, prefix.length);
        ops.add(x, x, pos.rows(0, n));
        batch.clear();
        batch.add(n);
        batch.commit();
        stack.forward(x, batch);
        float[] out = new float[hostLogits.length];
        for (Head head : heads) {
            ops.layerNorm(row, null, x.row(head.token()), normW, normB, c.layerNormEps());
            ops.linear(logits, row, head.weight(), head.bias(), Activation.IDENTITY);
            ops.read(logits, hostLogits, 0, hostLogits.length);
            for (int j = 0; j < out.length; j++) out[j] += hostLogits[j] / heads.length;
        }
        return out;
    }

    /** The position table for a gh x gw patch grid (the config's, or interpolated), on the backend. */
    private void setPositions(int gh, int gw) {
        if (gh == gridH && gw == gridW) return;
        int h = c.hidden(), first = c.prefixTokens(), g = c.gridSize();
        float[] table = positions;
        if (gh != g || gw != g) {
            float[] grid = new float[g * g * h];
            System.arraycopy(positions, first * h, grid, 0, grid.length);
            float[] resized = PositionInterpolation.bicubic(grid, g, g, h, gh, gw);
            table = new float[(gh * gw + first) * h];
            System.arraycopy(positions, 0, table, 0, first * h);
            System.arraycopy(resized, 0, table, first * h, resized.length);
        }
        ops.write(pos, table, 0, table.length);
        gridH = gh;
        gridW = gw;
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        ops.close();
    }
}
