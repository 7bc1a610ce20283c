package io.transfuse.cuda.encoder;

import io.transfuse.cuda.runtime.ElemType;
import io.transfuse.cuda.runtime.GpuRuntime;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.vit.ClassifierGraph;
import io.transfuse.model.vit.ImagePreprocessor;
import io.transfuse.model.vit.ViTConfig;
import io.transfuse.model.vit.ViTModel;
import io.transfuse.model.vit.ViTWeights;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * A ViT/DeiT classifier whose pre-LN transformer blocks run on a GPU runtime ({@link CudaEncoder}, in
 * {@code dtype} with fp32 accumulation). The CPU graph {@code host} over the same weights does the
 * two cheap ends: the patch embedding (im2col + one matmul, CLS and distillation tokens, positions,
 * bicubically interpolated for image sizes other than the config's) and the final LayerNorm and
 * head(s) on the CLS / distillation rows. So DeiT's distillation token and any image size work the
 * same as on the CPU, and only the [tokens][hidden] input and output cross the bus.
 *
 * <p>The device workspace is planned for the config's image size; an image giving more tokens (a
 * larger preprocessor size) is refused with an error naming both counts. ({@link CudaPatchEmbeddings}
 * would move the patch GEMM onto the device too, but holds one CLS token at one image size.)
 * Closing frees every device byte and the host graph's workspace.
 */
public final class CudaViTModel implements ClassifierGraph {
    private final ViTModel host;
    private final ViTConfig c;
    private final GpuRuntime rt;
    private final CudaEncoder encoder;
    private final TrackedArena zeros;
    private final int maxTokens;
    private boolean ownsRuntime, closed;

    public CudaViTModel(GpuRuntime runtime, ViTModel host, ElemType dtype) {
        this.host = host;
        this.c = host.config();
        this.rt = runtime;
        this.maxTokens = c.gridSize() * c.gridSize() + c.prefixTokens();
        ViTWeights w = host.weights();
        int h = c.hidden();
        this.zeros = new TrackedArena("CUDA ViT zero biases of " + c.source());
        // qkv_bias = false: the device layer takes zero biases.
        Tensor zero = new Tensor(c.source() + " zero Q/K/V bias", DType.F32, new long[] {h}, zeros.allocate((long) h * Float.BYTES));
        EncoderConfig ec = EncoderConfig.of(h, c.heads(), c.intermediate(), c.layerNormEps(), EncoderConvention.PRE_LN);
        List<EncoderLayerWeights> layers = new ArrayList<>();
        for (ViTWeights.Layer L : w.layers()) {
            // Mapping per EncoderLayerWeights' table (pre-LN: layernorm_before, layernorm_after).
            layers.add(new EncoderLayerWeights(L.wq(), orZero(L.bq(), zero), L.wk(), orZero(L.bk(), zero), L.wv(), orZero(L.bv(), zero),
                    L.wo(), L.bo(), L.ln1Weight(), L.ln1Bias(), L.wUp(), L.bUp(), L.wDown(), L.bDown(), L.ln2Weight(), L.ln2Bias()));
        }
        try {
            // No final norm on the device: the head normalises only the rows it reads.
            this.encoder = new CudaEncoder(runtime, c.source(), ec, layers, null, null, dtype, maxTokens, 1);
        } catch (RuntimeException e) {
            zeros.close();
            throw e;
        }
    }

    private static Tensor orZero(Tensor t, Tensor zero) { return t != null ? t : zero; }

    /** Makes {@link #close()} also close the runtime (the provider creates one per model). */
    public CudaViTModel owningRuntime() {
        ownsRuntime = true;
        return this;
    }

    @Override
    public ViTConfig config() { return c; }

    /** Device bytes held (weights, workspace). */
    public long deviceBytes() { return encoder.deviceBytes(); }

    @Override
    public float[] classify(ImagePreprocessor.Pixels image) {
        if (closed) throw new IllegalStateException("classifier " + c.source() + " was closed");
        MemorySegment x = host.embed(image);
        int tokens = (int) (x.byteSize() / ((long) c.hidden() * Float.BYTES));
        if (tokens > maxTokens) {
            throw new IllegalArgumentException("image of " + image.width() + "x" + image.height() + " gives " + tokens
                    + " tokens; the GPU workspace holds " + maxTokens + " (image_size " + c.imageSize() + " in " + c.source() + ")");
        }
        encoder.forward(x, EncoderBatch.of(tokens), x);
        return host.head(x);
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        try {
            encoder.close();
            host.close();
            zeros.close();
        } finally {
            if (ownsRuntime) rt.close();
        }
    }
}
