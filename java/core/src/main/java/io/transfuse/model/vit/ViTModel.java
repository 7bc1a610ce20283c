package io.transfuse.model.vit;

import io.transfuse.backend.Backend;
import io.transfuse.backend.Activation;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.Dequantize;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The Vision Transformer classifier (Dosovitskiy et al. 2021): the image cut into patches, each
 * projected to the hidden size (a strided convolution, done as im2col + matmul), a CLS token (and
 * DeiT's distillation token) in front, learned positions added, then pre-LN blocks
 * {@code x += Wo·attention(LN1(x))} and {@code x += W2·gelu(W1·LN2(x))}, a final LayerNorm, and a
 * linear head on the CLS token (DeiT with teacher: the mean of the CLS and distillation heads).
 *
 * <p>The workspace is sized for one image at the size of the last call and reused (freed and
 * replaced when an image of another size comes). Not thread-safe.
 */
public final class ViTModel implements ClassifierGraph {
    private final ViTConfig c;
    private final ViTWeights w;
    private final Backend ops;
    private final TrackedArena arena;
    private final Layer[] layers;
    private final MemorySegment patchBias, normWeight, normBias, lengths;
    private final MemorySegment[] headBias;
    private final float[] prefix, positions;
    private Workspace ws;
    private TrackedArena wsArena;

    /** Small per-layer tensors converted to F32 once. */
    private record Layer(MemorySegment ln1w, MemorySegment ln1b, MemorySegment bq, MemorySegment bk, MemorySegment bv,
                         MemorySegment bo, MemorySegment ln2w, MemorySegment ln2b, MemorySegment bUp, MemorySegment bDown) {}

    /** Activations for {@code tokens} rows, plus the position table for that patch grid. */
    private record Workspace(int gridH, int gridW, int tokens, MemorySegment patches, MemorySegment pos, MemorySegment x,
                             MemorySegment xb, MemorySegment q, MemorySegment k, MemorySegment v, MemorySegment attn,
                             MemorySegment hb, MemorySegment logits) {}

    public ViTModel(ViTConfig config, ViTWeights weights, Backend ops, TrackedArena arena) {
        this.c = config;
        this.w = weights;
        this.ops = ops;
        this.arena = arena;
        layers = new Layer[c.layers()];
        for (int l = 0; l < layers.length; l++) {
            ViTWeights.Layer L = w.layers()[l];
            layers[l] = new Layer(f32(L.ln1Weight()), f32(L.ln1Bias()), f32(L.bq()), f32(L.bk()), f32(L.bv()), f32(L.bo()),
                    f32(L.ln2Weight()), f32(L.ln2Bias()), f32(L.bUp()), f32(L.bDown()));
        }
        patchBias = f32(w.patchBias());
        normWeight = f32(w.normWeight());
        normBias = f32(w.normBias());
        headBias = new MemorySegment[w.heads().length];
        for (int i = 0; i < headBias.length; i++) headBias[i] = f32(w.heads()[i].bias());
        lengths = arena.allocate(Integer.BYTES);
        prefix = floats(w.clsToken(), w.distillationToken());
        positions = floats(w.positions(), null);
    }

    @Override
    public ViTConfig config() { return c; }

    /** The weights (views into the model's files), for a device graph that runs the blocks elsewhere. */
    public ViTWeights weights() { return w; }

    private MemorySegment f32(Tensor t) {
        return t == null ? null : Dequantize.toF32(t, arena);
    }

    private float[] floats(Tensor a, Tensor b) {
        float[] x = f32(a).toArray(ValueLayout.JAVA_FLOAT);
        if (b == null) return x;
        float[] y = f32(b).toArray(ValueLayout.JAVA_FLOAT), both = new float[x.length + y.length];
        System.arraycopy(x, 0, both, 0, x.length);
        System.arraycopy(y, 0, both, x.length, y.length);
        return both;
    }

    @Override
    public float[] classify(ImagePreprocessor.Pixels image) {
        MemorySegment x = embed(image);
        int n = (int) (x.byteSize() / ((long) c.hidden() * Float.BYTES));
        lengths.set(ValueLayout.JAVA_INT, 0, n);
        for (int l = 0; l < c.layers(); l++) block(w.layers()[l], layers[l], ws);
        return head(x);
    }

    /**
     * The transformer's input for one preprocessed image: f32 [tokens][hidden] (CLS, distillation
     * token, patches, positions added; positions interpolated for other image sizes), in the
     * workspace, valid until the next call. The CUDA graph runs its blocks on the device between this
     * and {@link #head}.
     */
    public MemorySegment embed(ImagePreprocessor.Pixels image) {
        int p = c.patchSize();
        if (image.width() % p != 0 || image.height() % p != 0) {
            throw new IllegalArgumentException("image of " + image.width() + "x" + image.height()
                    + " is not a whole number of " + p + "-pixel patches (check preprocessor_config.json)");
        }
        Workspace s = workspace(image.height() / p, image.width() / p);
        int h = c.hidden(), n = s.tokens(), first = c.prefixTokens();
        im2col(image, s.patches());
        MemorySegment patchRows = s.x().asSlice((long) first * h * Float.BYTES);
        ops.matmul(patchRows, s.patches(), w.patchWeight().data(), w.patchWeight().dtype(), n - first, c.channels() * p * p, h);
        ops.addBias(patchRows, patchBias, n - first, h);
        MemorySegment.copy(prefix, 0, s.x(), ValueLayout.JAVA_FLOAT, 0, first * h);
        ops.add(s.x(), s.x(), s.pos(), (long) n * h);
        return s.x().asSlice(0, (long) n * h * Float.BYTES);
    }

    /**
     * The classifier on the last hidden state {@code hidden} (f32 [tokens][hidden], before the final
     * LayerNorm): the final LayerNorm and head(s) on the CLS (and distillation) rows.
     */
    public float[] head(MemorySegment hidden) {
        int h = c.hidden();
        if (ws == null || hidden.byteSize() < (long) c.prefixTokens() * h * Float.BYTES) {
            throw new IllegalArgumentException("head: the hidden state must hold the " + c.prefixTokens() + " prefix rows of " + h + " values (call embed first)");
        }
        float[] logits = new float[c.labels().length];
        for (int i = 0; i < headBias.length; i++) {
            ViTWeights.Head head = w.heads()[i];
            MemorySegment row = hidden.asSlice((long) head.token() * h * Float.BYTES, (long) h * Float.BYTES);
            ops.layerNorm(ws.xb(), row, null, null, normWeight, normBias, 1, h, c.layerNormEps());
            linear(ws.logits(), ws.xb(), head.weight(), headBias[i], 1, h, logits.length);
            for (int j = 0; j < logits.length; j++) logits[j] += ws.logits().getAtIndex(ValueLayout.JAVA_FLOAT, j) / headBias.length;
        }
        return logits;
    }

    private void block(ViTWeights.Layer W, Layer L, Workspace s) {
        int n = s.tokens(), h = c.hidden(), ff = c.intermediate();
        ops.layerNorm(s.xb(), s.x(), null, null, L.ln1w(), L.ln1b(), n, h, c.layerNormEps());
        linear(s.q(), s.xb(), W.wq(), L.bq(), n, h, h);
        linear(s.k(), s.xb(), W.wk(), L.bk(), n, h, h);
        linear(s.v(), s.xb(), W.wv(), L.bv(), n, h, h);
        ops.attentionBidirectional(s.attn(), s.q(), s.k(), s.v(), lengths, 1, n, c.heads(), c.headDim(), h);
        linear(s.xb(), s.attn(), W.wo(), L.bo(), n, h, h);
        ops.add(s.x(), s.x(), s.xb(), (long) n * h);
        ops.layerNorm(s.xb(), s.x(), null, null, L.ln2w(), L.ln2b(), n, h, c.layerNormEps());
        ops.matmulBias(s.hb(), s.xb(), W.wUp().data(), W.wUp().dtype(), n, h, ff, L.bUp(), Activation.GELU_ERF);
        linear(s.xb(), s.hb(), W.wDown(), L.bDown(), n, ff, h);
        ops.add(s.x(), s.x(), s.xb(), (long) n * h);
    }

    private void linear(MemorySegment out, MemorySegment in, Tensor weight, MemorySegment bias, int rows, int inDim, int outDim) {
        if (bias != null) ops.matmulBias(out, in, weight.data(), weight.dtype(), rows, inDim, outDim, bias, Activation.IDENTITY);
        else ops.matmul(out, in, weight.data(), weight.dtype(), rows, inDim, outDim);
    }

    /** Patch (py, px) becomes row py * gridW + px: its pixels in [channel][y][x] order, matching the projection's layout. */
    private void im2col(ImagePreprocessor.Pixels image, MemorySegment patches) {
        int p = c.patchSize(), W = image.width(), H = image.height(), gw = W / p, gh = H / p;
        float[] px = image.data();
        long i = 0;
        for (int py = 0; py < gh; py++) {
            for (int pxi = 0; pxi < gw; pxi++) {
                for (int ch = 0; ch < 3; ch++) {
                    for (int y = 0; y < p; y++) {
                        int src = ch * H * W + (py * p + y) * W + pxi * p;
                        MemorySegment.copy(px, src, patches, ValueLayout.JAVA_FLOAT, i * Float.BYTES, p);
                        i += p;
                    }
                }
            }
        }
    }

    private Workspace workspace(int gridH, int gridW) {
        if (ws != null && ws.gridH() == gridH && ws.gridW() == gridW) return ws;
        int h = c.hidden(), first = c.prefixTokens(), n = gridH * gridW + first, p = c.patchSize();
        float[] table = positions;
        if (gridH != c.gridSize() || gridW != c.gridSize()) {
            int g = c.gridSize();
            float[] grid = new float[g * g * h];
            System.arraycopy(positions, first * h, grid, 0, grid.length);
            float[] resized = PositionInterpolation.bicubic(grid, g, g, h, gridH, gridW);
            table = new float[n * h];
            System.arraycopy(positions, 0, table, 0, first * h);
            System.arraycopy(resized, 0, table, first * h, resized.length);
        }
        close();
        wsArena = new TrackedArena("workspace of " + c.source());
        TrackedArena a = wsArena;
        MemorySegment pos = a.allocateFloats((long) n * h);
        MemorySegment.copy(table, 0, pos, ValueLayout.JAVA_FLOAT, 0, n * h);
        long rows = (long) n * h;
        ws = new Workspace(gridH, gridW, n, a.allocateFloats((long) (n - first) * 3 * p * p), pos,
                a.allocateFloats(rows), a.allocateFloats(rows), a.allocateFloats(rows), a.allocateFloats(rows),
                a.allocateFloats(rows), a.allocateFloats(rows), a.allocateFloats((long) n * c.intermediate()),
                a.allocateFloats(c.labels().length));
        return ws;
    }

    /** Frees the workspace (the weights belong to the caller's arena). */
    @Override
    public void close() {
        if (wsArena != null) wsArena.close();
        wsArena = null;
        ws = null;
    }
}
