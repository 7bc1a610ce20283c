package io.transfuse.backend.cpu;

import io.transfuse.backend.RopeLayout;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import static io.transfuse.backend.cpu.CpuTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The non-matmul ops against plain Java references (double precision). Inputs are uniform in
 * [-1, 1] unless stated; every tolerance is stated where it is used.
 */
class CpuOpsTest {
    private static final int[] THREADS = {1, 2};

    @AfterEach
    void restore() {
        CpuOps.setIsa(CpuOps.bestIsa());
        CpuOps.setThreads(Runtime.getRuntime().availableProcessors());
    }

    @Test
    void versionAndThreads() {
        assertEquals(CpuOps.ABI_VERSION, CpuOps.version());
        CpuOps.setThreads(1);
        assertEquals(1, CpuOps.getThreads());
        CpuOps.setThreads(2);
        assertEquals(2, CpuOps.getThreads());
        assertThrows(IllegalArgumentException.class, () -> CpuOps.setThreads(0));
    }

    @Test
    void rmsnorm() {
        Random r = new Random(1);
        for (int[] s : new int[][] {{1, 64}, {3, 172}, {17, 288}, {300, 512}, {2, 5}}) {
            int tokens = s[0], dim = s[1];
            float[] x = random(r, tokens * dim, 3f), w = random(r, dim, 1f);
            float eps = 1e-5f;
            double[] ref = new double[tokens * dim];
            for (int t = 0; t < tokens; t++) {
                double ss = 0;
                for (int i = 0; i < dim; i++) ss += (double) x[t * dim + i] * x[t * dim + i];
                double scale = 1 / Math.sqrt(ss / dim + eps);
                for (int i = 0; i < dim; i++) ref[t * dim + i] = x[t * dim + i] * scale * w[i];
            }
            for (int threads : THREADS) {
                CpuOps.setThreads(threads);
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment xs = floats(a, x), ws = floats(a, w), out = a.allocate((long) tokens * dim * 4);
                    CpuOps.rmsnorm(out, xs, ws, tokens, dim, eps);
                    // The scale is computed in double and rounded once; the output is two float
                    // products: a few ulps, below 1e-6 relative to the value's size (|ref| <~ 10).
                    assertClose(ref, toFloats(out, tokens * dim), 1e-6, 1e-6, "rmsnorm " + tokens + "x" + dim);
                    // in place (out aliases x)
                    CpuOps.rmsnorm(xs, xs, ws, tokens, dim, eps);
                    assertArrayEquals(toFloats(out, tokens * dim), toFloats(xs, tokens * dim), 0f, "in place");
                }
            }
        }
    }

    /** Rotates pairs the way the brief (and llama2.c) defines, angle in float, trig in double. */
    private static double[] ropeRef(float[] x, int tokens, int heads, int headDim, int rotaryDim, int startPos,
                                    float[] invFreq, RopeLayout layout) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) out[i] = x[i];
        int half = rotaryDim / 2;
        for (int t = 0; t < tokens; t++) {
            for (int h = 0; h < heads; h++) {
                int base = (t * heads + h) * headDim;
                for (int i = 0; i < half; i++) {
                    float angle = (float) (startPos + t) * invFreq[i];
                    double c = Math.cos(angle), s = Math.sin(angle);
                    int ia = layout == RopeLayout.ADJACENT_PAIRS ? base + 2 * i : base + i;
                    int ib = layout == RopeLayout.ADJACENT_PAIRS ? base + 2 * i + 1 : base + i + half;
                    double a = x[ia], b = x[ib];
                    out[ia] = a * c - b * s;
                    out[ib] = a * s + b * c;
                }
            }
        }
        return out;
    }

    private static float[] invFreq(int rotaryDim, double theta) {
        float[] f = new float[rotaryDim / 2];
        for (int i = 0; i < f.length; i++) f[i] = (float) (1.0 / Math.pow(theta, 2.0 * i / rotaryDim));
        return f;
    }

    @Test
    void ropeBothLayouts() {
        Random r = new Random(2);
        int[][] shapes = {
                // tokens, heads, headDim, rotaryDim, startPos
                {1, 8, 8, 8, 0}, {3, 6, 48, 48, 7}, {17, 4, 64, 32, 100}, {5, 2, 128, 128, 4000}, {2, 3, 10, 6, 1},
        };
        for (int[] s : shapes) {
            int tokens = s[0], heads = s[1], hd = s[2], rot = s[3], start = s[4];
            float[] x = random(r, tokens * heads * hd, 1f);
            float[] f = invFreq(rot, 10000);
            for (RopeLayout layout : RopeLayout.values()) {
                double[] ref = ropeRef(x, tokens, heads, hd, rot, start, f, layout);
                for (int threads : THREADS) {
                    CpuOps.setThreads(threads);
                    try (Arena a = Arena.ofConfined()) {
                        MemorySegment xs = floats(a, x);
                        CpuOps.rope(xs, tokens, heads, hd, rot, start, floats(a, f), layout);
                        // cosf/sinf are within an ulp or two of cos/sin of the same float angle
                        // (the reference computes the angle in float too); |x| <= 1.
                        assertClose(ref, toFloats(xs, x.length), 1e-6, 1e-6, "rope " + layout + " " + java.util.Arrays.toString(s));
                    }
                }
            }
        }
    }

    /** Half-split RoPE of a vector whose halves hold the even and odd elements = adjacent-pairs RoPE, permuted. */
    @Test
    void ropeHalfSplitIsAdjacentPairsPermuted() {
        Random r = new Random(3);
        int tokens = 4, heads = 3, hd = 64, rot = 64, start = 9;
        float[] x = random(r, tokens * heads * hd, 1f);
        float[] p = new float[x.length];
        for (int v = 0; v < tokens * heads; v++) {
            for (int i = 0; i < hd / 2; i++) {
                p[v * hd + i] = x[v * hd + 2 * i];
                p[v * hd + i + hd / 2] = x[v * hd + 2 * i + 1];
            }
        }
        float[] f = invFreq(rot, 500000);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment xs = floats(a, x), ps = floats(a, p), fs = floats(a, f);
            CpuOps.rope(xs, tokens, heads, hd, rot, start, fs, RopeLayout.ADJACENT_PAIRS);
            CpuOps.rope(ps, tokens, heads, hd, rot, start, fs, RopeLayout.HALF_SPLIT);
            float[] gx = toFloats(xs, x.length), gp = toFloats(ps, p.length);
            for (int v = 0; v < tokens * heads; v++) {
                for (int i = 0; i < hd / 2; i++) {
                    // Same float operations on the same values: identical results.
                    assertEquals(gx[v * hd + 2 * i], gp[v * hd + i], 0f);
                    assertEquals(gx[v * hd + 2 * i + 1], gp[v * hd + i + hd / 2], 0f);
                }
            }
        }
    }

    /** Causal GQA attention, reference in double with an explicit (two-pass) softmax. */
    private static double[] attentionRef(float[] q, float[] k, float[] v, int tokens, int startPos, int heads,
                                         int kvHeads, int hd, int stride) {
        double[] out = new double[tokens * heads * hd];
        int group = heads / kvHeads;
        double scale = 1 / Math.sqrt(hd);
        for (int t = 0; t < tokens; t++) {
            int n = startPos + t + 1;
            for (int h = 0; h < heads; h++) {
                int kvh = h / group;
                double[] sc = new double[n];
                double max = Double.NEGATIVE_INFINITY;
                for (int p = 0; p < n; p++) {
                    double d = 0;
                    for (int i = 0; i < hd; i++) d += (double) q[(t * heads + h) * hd + i] * k[p * stride + kvh * hd + i];
                    sc[p] = d * scale;
                    max = Math.max(max, sc[p]);
                }
                double sum = 0;
                for (int p = 0; p < n; p++) sum += sc[p] = Math.exp(sc[p] - max);
                for (int i = 0; i < hd; i++) {
                    double o = 0;
                    for (int p = 0; p < n; p++) o += sc[p] * v[p * stride + kvh * hd + i];
                    out[(t * heads + h) * hd + i] = o / sum;
                }
            }
        }
        return out;
    }

    @Test
    void attentionMatchesReferenceAndDecodeMatchesPrefill() {
        Random r = new Random(4);
        int[][] shapes = {
                // tokens, heads, kvHeads, headDim, extra stride, startPos
                {17, 8, 4, 8, 0, 0}, {3, 6, 6, 48, 5, 0}, {9, 4, 1, 64, 0, 3}, {1, 8, 4, 16, 0, 0},
                {70, 2, 2, 128, 0, 0}, {5, 4, 2, 7, 1, 130}, {2, 2, 1, 256, 0, 200},
        };
        for (int[] s : shapes) {
            int tokens = s[0], heads = s[1], kvHeads = s[2], hd = s[3], stride = kvHeads * hd + s[4], start = s[5];
            int positions = start + tokens;
            // Scores of size ~ sqrt(hd) / sqrt(hd) * 3: softmax neither uniform nor one-hot.
            float[] q = random(r, tokens * heads * hd, 3f);
            float[] k = random(r, positions * stride, 3f);
            float[] v = random(r, positions * stride, 1f);
            double[] ref = attentionRef(q, k, v, tokens, start, heads, kvHeads, hd, stride);
            String where = "attention " + java.util.Arrays.toString(s);
            for (CpuOps.Isa isa : supportedIsas()) {
                CpuOps.setIsa(isa);
                for (int threads : THREADS) {
                    CpuOps.setThreads(threads);
                    try (Arena a = Arena.ofConfined()) {
                        MemorySegment qs = floats(a, q), ks = floats(a, k), vs = floats(a, v);
                        MemorySegment out = a.allocate((long) q.length * 4);
                        CpuOps.attention(out, qs, ks, vs, tokens, start, heads, kvHeads, hd, stride);
                        float[] prefill = toFloats(out, q.length);
                        // A convex combination of values in [-1, 1]: float scores (dot error ~ hd u * 9),
                        // expf within 2 ulps, float accumulation over <= 300 positions: well below 2e-5.
                        assertClose(ref, prefill, 0, 2e-5, where + " " + isa + " threads=" + threads);
                        // Decode: one token at a time at positions start.. gives the same rows exactly
                        // (the same arithmetic per (token, head)).
                        MemorySegment o1 = a.allocate((long) heads * hd * 4);
                        for (int t = 0; t < tokens; t++) {
                            MemorySegment qt = qs.asSlice((long) t * heads * hd * 4, (long) heads * hd * 4);
                            CpuOps.attention(o1, qt, ks, vs, 1, start + t, heads, kvHeads, hd, stride);
                            float[] row = toFloats(o1, heads * hd);
                            for (int i = 0; i < heads * hd; i++) {
                                assertEquals(prefill[t * heads * hd + i], row[i], 0f, where + " decode t=" + t);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void siluGluAddSoftmax() {
        Random r = new Random(5);
        for (int n : new int[] {1, 7, 172, 100_003}) {
            // gate up to +-100 when n is large: exp over/underflow territory of the vector exp
            float[] g = random(r, n, n > 1000 ? 100f : 6f), u = random(r, n, 2f);
            for (int run = 0; run < 2 * supportedIsas().size(); run++) {
                int threads = THREADS[run % 2];
                CpuOps.Isa isa = supportedIsas().get(run / 2);
                CpuOps.setIsa(isa);
                CpuOps.setThreads(threads);
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment gs = floats(a, g), us = floats(a, u), out = a.allocate((long) n * 4);
                    CpuOps.siluGlu(out, gs, us, n);
                    double[] ref = new double[n];
                    for (int i = 0; i < n; i++) ref[i] = g[i] / (1 + Math.exp(-g[i])) * u[i];
                    // exp (libm, or the kernels' vector polynomial) within ~2 ulp, then three float
                    // operations: 1e-6 relative (8 ulp); 1e-7 absolute covers results near 0.
                    assertClose(ref, toFloats(out, n), 1e-6, 1e-7, "silu_glu n=" + n + " " + isa + " threads=" + threads);
                    CpuOps.siluGlu(gs, gs, us, n); // in place
                    assertArrayEquals(toFloats(out, n), toFloats(gs, n), 0f);

                    MemorySegment as = floats(a, g);
                    CpuOps.add(out, as, us, n);
                    float[] sum = toFloats(out, n);
                    for (int i = 0; i < n; i++) assertEquals(g[i] + u[i], sum[i], 0f, "add"); // one float addition: exact match
                    CpuOps.add(as, as, us, n);
                    assertArrayEquals(sum, toFloats(as, n), 0f);
                }
            }
        }
        for (int[] s : new int[][] {{1, 1}, {3, 512}, {64, 1000}, {2, 7}}) {
            int rows = s[0], n = s[1];
            float[] x = random(r, rows * n, 20f);
            double[] ref = new double[rows * n];
            for (int row = 0; row < rows; row++) {
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int i = 0; i < n; i++) max = Math.max(max, x[row * n + i]);
                for (int i = 0; i < n; i++) sum += ref[row * n + i] = Math.exp(x[row * n + i] - max);
                for (int i = 0; i < n; i++) ref[row * n + i] /= sum;
            }
            for (int threads : THREADS) {
                CpuOps.setThreads(threads);
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment xs = floats(a, x);
                    CpuOps.softmax(xs, rows, n);
                    // probabilities: expf error ~ 2 ulps relative, one division: 1e-6 relative.
                    assertClose(ref, toFloats(xs, rows * n), 1e-6, 1e-9, "softmax " + rows + "x" + n);
                }
            }
        }
    }

    @Test
    void embeddingEveryType() {
        Random r = new Random(6);
        int vocab = 50, dim = 96;
        int[] ids = {0, 49, 7, 7, 23, 1, 48};
        for (DType type : WEIGHT_TYPES) {
            byte[] table = randomWeights(r, type, vocab, dim);
            double[] ref = dequantize(table, type, vocab, dim);
            for (int threads : THREADS) {
                CpuOps.setThreads(threads);
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment ts = bytes(a, table), out = a.allocate((long) ids.length * dim * 4);
                    MemorySegment is = a.allocate((long) ids.length * 4);
                    MemorySegment.copy(ids, 0, is, ValueLayout.JAVA_INT, 0, ids.length);
                    CpuOps.embedding(out, ts, type, is, ids.length, dim);
                    float[] got = toFloats(out, ids.length * dim);
                    for (int t = 0; t < ids.length; t++) {
                        for (int i = 0; i < dim; i++) {
                            // f16/bf16 widen exactly; d * q is one float rounding of the double product.
                            assertEquals((float) ref[ids[t] * dim + i], got[t * dim + i], 0f, type + " id " + ids[t] + " [" + i + "]");
                        }
                    }
                }
            }
        }
    }

    /** Every |got - ref| <= abs + rel * |ref|. */
    static void assertClose(double[] ref, float[] got, double rel, double abs, String where) {
        assertEquals(ref.length, got.length);
        for (int i = 0; i < ref.length; i++) {
            double err = Math.abs(got[i] - ref[i]);
            if (!(err <= abs + rel * Math.abs(ref[i]))) {
                fail(where + ": [" + i + "] = " + got[i] + ", expected " + ref[i] + " (error " + err + ")");
            }
        }
    }
}
