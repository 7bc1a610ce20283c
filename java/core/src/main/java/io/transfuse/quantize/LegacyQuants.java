package io.transfuse.quantize;

/**
 * F32 to the ggml block types of 32 elements: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 (layouts in ggml-common.h; see
 * {@link io.transfuse.tensor.DType}). One pass per block, the scale taken from the block's range, as
 * ggml's reference quantisers define these types (nothing to search: with one scale per 32 values the
 * range rule is near-optimal and matches what every reader expects).
 * <ul>
 *   <li>Q8_0: d = max|x| / 127, q = round(x / d).</li>
 *   <li>Q4_0 / Q5_0 ("type-0"): d = -m / 8 (or / 16) where m is the value of largest magnitude, so that
 *       m itself lands on the extreme code 0 (value -8 d or -16 d) and the other side keeps 7 (15) steps;
 *       q = round(x / d) + 8 (16), clamped to the code range.</li>
 *   <li>Q4_1 / Q5_1 ("type-1"): value d q + m with m = min x, d = (max - min) / 15 (31).</li>
 * </ul>
 */
final class LegacyQuants {
    private LegacyQuants() {}

    static void q8_0(float[] x, int xo, byte[] out, int oo) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[xo + j]));
        float d = amax / 127f;
        float id = d != 0 ? 1f / d : 0f;
        Bytes.f16(out, oo, d);
        for (int j = 0; j < 32; j++) out[oo + 2 + j] = (byte) Math.round(x[xo + j] * id);
    }

    /** Q4_0 (bits 4) or Q5_0 (bits 5). */
    static void type0(float[] x, int xo, byte[] out, int oo, int bits) {
        int half = 1 << (bits - 1), top = (1 << bits) - 1;
        float vmax = 0;
        for (int j = 0; j < 32; j++) if (Math.abs(x[xo + j]) > Math.abs(vmax)) vmax = x[xo + j];
        float d = vmax / -half;
        float id = d != 0 ? 1f / d : 0f;
        Bytes.f16(out, oo, d);
        int[] q = new int[32];
        for (int j = 0; j < 32; j++) q[j] = Math.clamp(Math.round(x[xo + j] * id) + half, 0, top);
        pack(q, out, oo + 2, bits);
    }

    /** Q4_1 (bits 4) or Q5_1 (bits 5). */
    static void type1(float[] x, int xo, byte[] out, int oo, int bits) {
        int top = (1 << bits) - 1;
        float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < 32; j++) {
            min = Math.min(min, x[xo + j]);
            max = Math.max(max, x[xo + j]);
        }
        float d = (max - min) / top;
        float id = d != 0 ? 1f / d : 0f;
        Bytes.f16(out, oo, d);
        Bytes.f16(out, oo + 2, min);
        int[] q = new int[32];
        for (int j = 0; j < 32; j++) q[j] = Math.clamp(Math.round((x[xo + j] - min) * id), 0, top);
        pack(q, out, oo + 4, bits);
    }

    /** 5-bit types: a little-endian u32 of 5th bits (bit j = element j), then the nibbles; 4-bit: nibbles only. */
    private static void pack(int[] q, byte[] out, int o, int bits) {
        if (bits == 5) {
            int qh = 0;
            for (int j = 0; j < 32; j++) qh |= ((q[j] >> 4) & 1) << j;
            for (int i = 0; i < 4; i++) out[o + i] = (byte) (qh >>> (8 * i));
            o += 4;
        }
        for (int j = 0; j < 16; j++) out[o + j] = (byte) ((q[j] & 15) | (q[j + 16] & 15) << 4);
    }
}
