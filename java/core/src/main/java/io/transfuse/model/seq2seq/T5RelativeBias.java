package io.transfuse.model.seq2seq;

import io.transfuse.tensor.Dequantize;
import io.transfuse.tensor.Tensor;

/**
 * T5's relative position bias as a table over relative positions, for {@link io.transfuse.backend.Backend#attentionRelBias}:
 * {@code B[h][rel + R] = relative_attention_bias[bucket(rel)][h]} for rel = key - query in [-R, R], R = max_distance.
 * The bucket of Raffel et al. (2020), section 2.1, as Hugging Face's {@code _relative_position_bucket} computes it:
 * half the buckets for each sign when bidirectional (encoder), only the past when causal (decoder); exact buckets for
 * the first half, then logarithmically wider ones up to max_distance, beyond which the bucket no longer changes, so
 * clamping rel to [-R, R] is exact.
 */
public final class T5RelativeBias {
    private T5RelativeBias() {}

    /** Bucket of relative position {@code rel} = key position - query position. */
    public static int bucket(int rel, boolean bidirectional, int buckets, int maxDistance) {
        int out = 0, n;
        if (bidirectional) {
            buckets /= 2;
            if (rel > 0) out += buckets;
            n = Math.abs(rel);
        } else {
            n = -Math.min(rel, 0);
        }
        int exact = buckets / 2;
        if (n < exact) return out + n;
        // float32 arithmetic as torch evaluates it (the truncation to int matches the reference's at the bucket edges)
        float large = (float) Math.log((float) n / exact) / (float) Math.log((double) maxDistance / exact);
        int v = exact + (int) (large * (buckets - exact));
        return out + Math.min(v, buckets - 1);
    }

    /** The F32 table [heads][2 maxDistance + 1] from relative_attention_bias [buckets][heads]. */
    public static float[] table(Tensor relativeAttentionBias, boolean bidirectional, int buckets, int heads, int maxDistance) {
        float[] w = Dequantize.toFloats(relativeAttentionBias);
        int span = 2 * maxDistance + 1;
        float[] table = new float[heads * span];
        for (int rel = -maxDistance; rel <= maxDistance; rel++) {
            int b = bucket(rel, bidirectional, buckets, maxDistance);
            for (int h = 0; h < heads; h++) table[h * span + rel + maxDistance] = w[b * heads + h];
        }
        return table;
    }
}
