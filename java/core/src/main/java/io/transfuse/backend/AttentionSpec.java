package io.transfuse.backend;

/**
 * How {@link Backend#attention} turns a query's dot products with its keys into softmax weights: the
 * scaled score {@code x = scale * q . k}, soft-capped to {@code softcap * tanh(x / softcap)} when
 * {@code softcap > 0} (Gemma 2's attention logit soft-capping: after the scale, before the softmax), over
 * the keys the sliding {@code window} leaves visible: a query at position p sees key j iff {@code j <= p}
 * and, when {@code window > 0}, {@code p - j < window} (llama.cpp's {@code n_swa}, Hugging Face's
 * {@code sliding_window}: the query itself and the window - 1 keys before it).
 *
 * @param scale   the factor of the dot products (finite, > 0), usually 1 / sqrt(head dim)
 * @param window  the sliding window in positions, 0 for none (>= 0)
 * @param softcap the soft-cap, 0 for none (finite, >= 0)
 */
public record AttentionSpec(float scale, int window, float softcap) {
    public AttentionSpec {
        if (!(scale > 0) || !Float.isFinite(scale)) {
            throw new IllegalArgumentException("attention scale must be finite and > 0, got " + scale);
        }
        if (window < 0) throw new IllegalArgumentException("attention window must be >= 0 (0: none), got " + window);
        if (!(softcap >= 0) || !Float.isFinite(softcap)) {
            throw new IllegalArgumentException("attention softcap must be finite and >= 0 (0: none), got " + softcap);
        }
    }

    /** Plain causal attention: no window, no soft-cap. */
    public static AttentionSpec of(float scale) {
        return new AttentionSpec(scale, 0, 0f);
    }

    /** This spec with a sliding window of {@code window} positions (0: none). */
    public AttentionSpec withWindow(int window) {
        return new AttentionSpec(scale, window, softcap);
    }

    /** This spec with a logit soft-cap of {@code softcap} (0: none). */
    public AttentionSpec withSoftcap(float softcap) {
        return new AttentionSpec(scale, window, softcap);
    }
}
