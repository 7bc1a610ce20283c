package io.transfuse.quantize;

/**
 * F32 to the K-quants Q4_K, Q5_K, Q6_K (super-blocks of 256; layouts in ggml-common.h, summarised in
 * native/cpu/quant_blocks.h).
 *
 * <p>How scales are chosen. Each sub-block (32 values for Q4_K/Q5_K, 16 for Q6_K) gets its own float scale
 * (and for Q4_K/Q5_K a min) by a small search: a few candidate inverse scales around the range rule
 * (range / levels, ±0.7 levels in steps of 0.1), each followed by the least-squares scale (and min) for
 * the codes it produced; the candidate with the least weighted squared error wins. Errors are weighted
 * by rms(sub-block) + |x|, so that large values, which dominate a dot product, are kept more exactly
 * (llama.cpp searches similarly; this is a simpler search written from that idea). The sub-block
 * scales are then themselves quantised to 6 bits (Q4_K/Q5_K, against f16 d and dmin) or int8 (Q6_K,
 * against f16 d), and the codes are recomputed against the scales as stored, so that the decoded
 * values are the ones the search aimed at.
 */
final class KQuants {
    private KQuants() {}

    private static final int CANDIDATES = 7; // candidates on each side of the range rule, 0.1 level apart

    /** Q4_K (bits 4) or Q5_K (bits 5): one super-block of 256 at x[xo..], 144 or 176 bytes at out[oo..]. */
    static void q45k(float[] x, int xo, byte[] out, int oo, int bits) {
        int top = (1 << bits) - 1;
        float[] scale = new float[8], min = new float[8];
        float[] fit = new float[2];
        for (int j = 0; j < 8; j++) {
            fitType1(x, xo + 32 * j, 32, top, fit);
            scale[j] = fit[0];
            min[j] = fit[1];
        }
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; j++) {
            maxScale = Math.max(maxScale, scale[j]);
            maxMin = Math.max(maxMin, min[j]);
        }
        float d = Bytes.f16(out, oo, maxScale / 63f);
        float dmin = Bytes.f16(out, oo + 2, maxMin / 63f);
        int[] sc = new int[8], m = new int[8];
        for (int j = 0; j < 8; j++) {
            sc[j] = d > 0 ? Math.clamp(Math.round(scale[j] / d), 0, 63) : 0;
            m[j] = dmin > 0 ? Math.clamp(Math.round(min[j] / dmin), 0, 63) : 0;
        }
        int s = oo + 4;
        for (int j = 0; j < 4; j++) {
            out[s + j] = (byte) (sc[j] | (sc[j + 4] >> 4) << 6);
            out[s + j + 4] = (byte) (m[j] | (m[j + 4] >> 4) << 6);
            out[s + j + 8] = (byte) ((sc[j + 4] & 15) | (m[j + 4] & 15) << 4);
        }
        int[] q = new int[256];
        for (int j = 0; j < 8; j++) {
            float ds = d * sc[j], dm = dmin * m[j];
            for (int i = 0; i < 32; i++) {
                int k = 32 * j + i;
                q[k] = ds > 0 ? Math.clamp(Math.round((x[xo + k] + dm) / ds), 0, top) : 0;
            }
        }
        int qs = s + 12;
        if (bits == 5) {
            for (int l = 0; l < 32; l++) {
                int h = 0;
                for (int c = 0; c < 4; c++) h |= (q[64 * c + l] >> 4) << (2 * c) | (q[64 * c + 32 + l] >> 4) << (2 * c + 1);
                out[qs + l] = (byte) h;
            }
            qs += 32;
        }
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++) out[qs + 32 * c + l] = (byte) ((q[64 * c + l] & 15) | (q[64 * c + 32 + l] & 15) << 4);
    }

    /** Q6_K: one super-block of 256 at x[xo..], 210 bytes at out[oo..]. */
    static void q6k(float[] x, int xo, byte[] out, int oo) {
        float[] scale = new float[16];
        float maxScale = 0;
        for (int g = 0; g < 16; g++) {
            scale[g] = fitType0(x, xo + 16 * g, 16, 32);
            if (Math.abs(scale[g]) > Math.abs(maxScale)) maxScale = scale[g];
        }
        // the largest scale maps to int8 -128 (ggml's convention: the extreme side of int8 is the negative one)
        float d = Bytes.f16(out, oo + 208, maxScale != 0 ? maxScale / -128f : 0f);
        int[] sc = new int[16];
        for (int g = 0; g < 16; g++) {
            sc[g] = d != 0 ? Math.clamp(Math.round(scale[g] / d), -128, 127) : 0;
            out[oo + 192 + g] = (byte) sc[g];
        }
        int[] q = new int[256];
        for (int k = 0; k < 256; k++) {
            float ds = d * sc[k / 16];
            q[k] = (ds != 0 ? Math.clamp(Math.round(x[xo + k] / ds), -32, 31) : 0) + 32;
        }
        for (int n = 0; n < 2; n++)
            for (int l = 0; l < 32; l++) {
                int q0 = q[128 * n + l], q1 = q[128 * n + 32 + l], q2 = q[128 * n + 64 + l], q3 = q[128 * n + 96 + l];
                out[oo + 64 * n + l] = (byte) ((q0 & 15) | (q2 & 15) << 4);
                out[oo + 64 * n + 32 + l] = (byte) ((q1 & 15) | (q3 & 15) << 4);
                out[oo + 128 + 32 * n + l] = (byte) ((q0 >> 4) | (q1 >> 4) << 2 | (q2 >> 4) << 4 | (q3 >> 4) << 6);
            }
    }

    /** rms of x[o..o+n) (the error weights' floor). */
    private static float rms(float[] x, int o, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) s += (double) x[o + i] * x[o + i];
        return (float) Math.sqrt(s / n);
    }

    /**
     * Best (scale >= 0, min >= 0) with x ~ scale q - min, q in [0, top], into fit[0], fit[1] (the min is the
     * amount subtracted, as the K-quants store it; 0 when every x >= 0).
     */
    static void fitType1(float[] x, int o, int n, int top, float[] fit) {
        float lo = 0, hi = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            lo = Math.min(lo, x[o + i]);
            hi = Math.max(hi, x[o + i]);
        }
        if (hi <= lo) {
            fit[0] = 0;
            fit[1] = -lo;
            return;
        }
        float av = rms(x, o, n);
        float bestA = (hi - lo) / top, bestB = lo;
        double bestErr = err1(x, o, n, top, bestA, bestB, av);
        for (int k = -CANDIDATES; k <= CANDIDATES; k++) {
            float iscale = (top + 0.1f * k) / (hi - lo);
            double sw = 0, swq = 0, swx = 0, swqq = 0, swqx = 0;
            for (int i = 0; i < n; i++) {
                float v = x[o + i], w = av + Math.abs(v);
                int q = Math.clamp(Math.round(iscale * (v - lo)), 0, top);
                sw += w;
                swq += w * q;
                swx += w * v;
                swqq += w * q * q;
                swqx += w * q * v;
            }
            double det = sw * swqq - swq * swq;
            if (det <= 0) continue;
            double a = (sw * swqx - swq * swx) / det, b = (swqq * swx - swq * swqx) / det;
            if (b > 0) { // the offset must be <= 0 (stored as a non-negative min): refit the scale alone
                b = 0;
                a = swqq > 0 ? swqx / swqq : 0;
            }
            if (a <= 0) continue;
            double e = err1(x, o, n, top, (float) a, (float) b, av);
            if (e < bestErr) {
                bestErr = e;
                bestA = (float) a;
                bestB = (float) b;
            }
        }
        fit[0] = bestA;
        fit[1] = -bestB;
    }

    /** Weighted squared error of x ~ a q + b with q = round((x - b) / a) clamped to [0, top]. */
    private static double err1(float[] x, int o, int n, int top, float a, float b, float av) {
        double e = 0;
        for (int i = 0; i < n; i++) {
            float v = x[o + i];
            int q = Math.clamp(Math.round((v - b) / a), 0, top);
            double r = a * q + b - v;
            e += (av + Math.abs(v)) * r * r;
        }
        return e;
    }

    /** Best signed scale s with x ~ s q, q in [-half, half - 1] (the value of largest magnitude maps near -half). */
    static float fitType0(float[] x, int o, int n, int half) {
        float vmax = 0;
        for (int i = 0; i < n; i++) if (Math.abs(x[o + i]) > Math.abs(vmax)) vmax = x[o + i];
        if (vmax == 0) return 0;
        float av = rms(x, o, n);
        float best = vmax / -half;
        double bestErr = err0(x, o, n, half, best, av);
        for (int k = -CANDIDATES; k <= CANDIDATES; k++) {
            float iscale = -(half + 0.1f * k) / vmax;
            double swqq = 0, swqx = 0;
            for (int i = 0; i < n; i++) {
                float v = x[o + i], w = av + Math.abs(v);
                int q = Math.clamp(Math.round(iscale * v), -half, half - 1);
                swqq += w * q * q;
                swqx += w * q * v;
            }
            if (swqq <= 0) continue;
            float s = (float) (swqx / swqq);
            double e = err0(x, o, n, half, s, av);
            if (e < bestErr) {
                bestErr = e;
                best = s;
            }
        }
        return best;
    }

    private static double err0(float[] x, int o, int n, int half, float s, float av) {
        double e = 0;
        for (int i = 0; i < n; i++) {
            float v = x[o + i];
            int q = s != 0 ? Math.clamp(Math.round(v / s), -half, half - 1) : 0;
            double r = s * q - v;
            e += (av + Math.abs(v)) * r * r;
        }
        return e;
    }
}
