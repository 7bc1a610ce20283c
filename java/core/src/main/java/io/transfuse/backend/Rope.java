package io.transfuse.backend;

/**
 * Rotary position embedding as {@link Backend#ropeKv} applies it: the first {@code rotaryDim} values of
 * each head are rotated in pairs ({@code layout}) by {@code pos * invFreq[i]}, with cos and sin scaled by
 * {@code mscale} (YaRN's attention factor; 1 otherwise). Scaled RoPE variants (linear, NTK, YaRN,
 * Llama 3) are just other frequency tables. {@link #NONE} (rotary dim 0) stores keys unrotated, for
 * models with learned positions.
 *
 * @param invFreq F32 [rotaryDim / 2] on the backend ({@link Backend#upload}), null for {@link #NONE}
 */
public record Rope(io.transfuse.tensor.Tensor invFreq, int rotaryDim, RopeLayout layout, float mscale) {
    /** No rotation. */
    public static final Rope NONE = new Rope(null, 0, RopeLayout.HALF_SPLIT, 1f);

    public Rope {
        if (rotaryDim < 0 || rotaryDim % 2 != 0) throw new IllegalArgumentException("rotary dim must be even and >= 0, got " + rotaryDim);
        if (rotaryDim > 0 && (invFreq == null || invFreq.elementCount() < rotaryDim / 2)) {
            throw new IllegalArgumentException("rotary dim " + rotaryDim + " needs " + rotaryDim / 2 + " inverse frequencies");
        }
        if (layout == null) throw new IllegalArgumentException("rope layout must not be null");
        if (!(mscale > 0) || Float.isInfinite(mscale)) throw new IllegalArgumentException("rope mscale must be positive, got " + mscale);
    }
}
