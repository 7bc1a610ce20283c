package io.transfuse.cuda.encoder;

import io.transfuse.backend.Activation;
import io.transfuse.cuda.kernels.KernelLibrary;

/**
 * The shape of one transformer encoder layer: hidden size {@code dim}, {@code heads} attention heads
 * of {@code headDim} (usually dim / heads), FFN width {@code ffn}, LayerNorm epsilon, the LayerNorm
 * convention and the FFN activation (GELU erf for BERT and ViT). Validated on construction.
 */
public record EncoderConfig(int dim, int heads, int headDim, int ffn, float eps, EncoderConvention convention,
                            Activation activation) {
    public EncoderConfig {
        if (dim <= 0 || heads <= 0 || headDim <= 0 || ffn <= 0) {
            throw new IllegalArgumentException("encoder shape must be positive: dim " + dim + ", heads " + heads + ", head dim "
                    + headDim + ", ffn " + ffn);
        }
        if (headDim > 128) throw new IllegalArgumentException("encoder head dim " + headDim + " is larger than the CUDA attention kernels support (128)");
        if (!(eps > 0) || !Float.isFinite(eps)) throw new IllegalArgumentException("LayerNorm eps must be positive and finite, got " + eps);
        if (convention == null || activation == null) throw new IllegalArgumentException("encoder convention and activation must not be null");
    }

    /** The BERT / ViT shape: head dim = dim / heads, GELU (erf). */
    public static EncoderConfig of(int dim, int heads, int ffn, float eps, EncoderConvention convention) {
        if (heads <= 0 || dim % heads != 0) throw new IllegalArgumentException("encoder dim " + dim + " is not a multiple of " + heads + " heads");
        return new EncoderConfig(dim, heads, dim / heads, ffn, eps, convention, Activation.GELU_ERF);
    }

    /**
     * The head dim the device runs: the smallest one attention prefill supports that holds
     * {@code headDim}; heads are zero-padded to it (see {@link CudaEncoderLayer}).
     */
    public int paddedHeadDim() {
        for (int d : KernelLibrary.PREFILL_HEAD_DIMS) if (d >= headDim) return d;
        throw new IllegalStateException("unreachable: head dim checked on construction");
    }

    /** Width of the concatenated (padded) heads: the Q, K, V and attention-output rows on the device. */
    public int paddedWidth() { return heads * paddedHeadDim(); }
}
