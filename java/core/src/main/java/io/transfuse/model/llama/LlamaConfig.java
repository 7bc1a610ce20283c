package io.transfuse.model.llama;

import io.transfuse.backend.RopeLayout;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.model.RopeScaling;

/**
 * Hyper-parameters of a Llama-family decoder ({@link LlamaVariant}), whichever file they came from.
 *
 * @param source    the file or directory they were read from, named in errors
 * @param headDim   size of one attention head (Qwen3 and Gemma: not dim / heads)
 * @param rope      rotary embedding of the global layers, and the base of the local ones
 * @param attention score scale, sliding window and soft-cap
 * @param finalSoftcap logits become {@code cap * tanh(logits / cap)} (Gemma 2); 0: none
 */
public record LlamaConfig(
        String source,
        LlamaVariant variant,
        int dim,
        int layers,
        int heads,
        int kvHeads,
        int headDim,
        int hiddenDim,
        int vocabSize,
        int contextLength,
        float rmsEps,
        RopeParams rope,
        AttentionParams attention,
        float finalSoftcap,
        int bosId,
        int eosId) {

    /**
     * @param theta      base of the global layers
     * @param rotaryDim  the leading dims of each head that rotate (Phi-4-mini: 3/4 of the head)
     * @param layout     how rotary pairs are laid out in the Q/K weights of this source
     * @param scaling    how the frequencies stretch beyond the training context
     * @param localTheta base of sliding-window layers (Gemma 3: 10000, unscaled); 0: as the global layers
     */
    public record RopeParams(double theta, int rotaryDim, RopeLayout layout, RopeScaling scaling, double localTheta) {
        public RopeParams {
            if (!(theta > 0) || Double.isInfinite(theta)) throw new IllegalArgumentException("RoPE base must be positive, got " + theta);
            if (rotaryDim <= 0 || rotaryDim % 2 != 0) throw new IllegalArgumentException("rotary dim must be even and positive, got " + rotaryDim);
            if (!(localTheta >= 0)) throw new IllegalArgumentException("local RoPE base must be >= 0, got " + localTheta);
        }

        /** Plain RoPE with base {@code theta} over {@code rotaryDim} dims. */
        public static RopeParams plain(double theta, int rotaryDim, RopeLayout layout) {
            return new RopeParams(theta, rotaryDim, layout, new RopeScaling.None(), 0);
        }
    }

    /**
     * @param scale         multiplies q.k (1/sqrt(headDim); Gemma: 1/sqrt(query_pre_attn_scalar))
     * @param window        a query at position p sees keys p - window + 1 .. p on sliding layers; 0: none
     * @param windowPattern which layers slide: 1 every layer, n every layer but each n-th ({@code l % n < n - 1})
     * @param softcap       scores become {@code cap * tanh(score / cap)} before softmax (Gemma 2); 0: none
     */
    public record AttentionParams(float scale, int window, int windowPattern, float softcap) {
        public AttentionParams {
            if (!(scale > 0) || Float.isInfinite(scale)) throw new IllegalArgumentException("attention scale must be positive, got " + scale);
            if (window < 0) throw new IllegalArgumentException("sliding window must be >= 0, got " + window);
            if (windowPattern < 1) throw new IllegalArgumentException("sliding-window pattern must be >= 1, got " + windowPattern);
            if (!(softcap >= 0) || Float.isInfinite(softcap)) throw new IllegalArgumentException("attention soft-cap must be >= 0, got " + softcap);
        }

        /** Full causal attention at 1/sqrt(headDim). */
        public static AttentionParams plain(int headDim) {
            return new AttentionParams((float) (1 / Math.sqrt(headDim)), 0, 1, 0);
        }
    }

    public LlamaConfig {
        ModelFormatException.requirePositive(source, "hidden size (dim)", dim);
        ModelFormatException.requirePositive(source, "number of layers", layers);
        ModelFormatException.requirePositive(source, "number of attention heads", heads);
        ModelFormatException.requirePositive(source, "number of key/value heads", kvHeads);
        ModelFormatException.requirePositive(source, "head size", headDim);
        ModelFormatException.requirePositive(source, "FFN hidden size", hiddenDim);
        ModelFormatException.requirePositive(source, "vocabulary size", vocabSize);
        ModelFormatException.requirePositive(source, "context length", contextLength);
        if (heads % kvHeads != 0) throw new ModelFormatException(source + ": " + heads + " heads are not divisible by " + kvHeads + " key/value heads");
        if (headDim % 2 != 0) throw new ModelFormatException(source + ": head size " + headDim + " is odd; RoPE needs pairs");
        if (rope.rotaryDim() > headDim) throw new ModelFormatException(source + ": rotary dim " + rope.rotaryDim() + " exceeds the head size " + headDim);
        if (!(rmsEps > 0)) throw new ModelFormatException(source + ": rms_norm_eps must be positive, got " + rmsEps);
        if (!(finalSoftcap >= 0) || Float.isInfinite(finalSoftcap)) throw new ModelFormatException(source + ": final logit soft-cap must be >= 0, got " + finalSoftcap);
    }

    /** Width of the queries, heads * headDim. */
    public int qDim() { return heads * headDim; }

    /** Width of the keys and values, kvHeads * headDim. */
    public int kvDim() { return kvHeads * headDim; }

    /** Whether layer {@code l} uses the sliding window (and the local RoPE base). */
    public boolean slidingLayer(int l) {
        int p = attention.windowPattern();
        return attention.window() > 0 && (p == 1 || l % p < p - 1);
    }

    /**
     * Rotary inverse frequencies for layer kind {@code local} at a context of {@code context} positions: the
     * global table with its scaling, or (local layers with their own base) the plain table of that base.
     */
    public float[] ropeInverseFrequencies(boolean local, int context) {
        if (local && rope.localTheta() > 0) return new RopeScaling.None().inverseFrequencies(rope.localTheta(), rope.rotaryDim(), context);
        return rope.scaling().inverseFrequencies(rope.theta(), rope.rotaryDim(), context);
    }

    /** The cos/sin factor of layer kind {@code local} (see {@link #ropeInverseFrequencies}). */
    public float ropeMscale(boolean local, int context) {
        return local && rope.localTheta() > 0 ? 1f : rope.scaling().mscale(context);
    }
}
