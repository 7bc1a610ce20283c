package io.transfuse.backend.cpu;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

import static io.transfuse.backend.cpu.CpuTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The Mamba ops (causal conv1d, selective scan) against plain double-precision loops written from
 * the recurrences in transfuse.h; state carried across calls; argument checks.
 */
class CpuSsmOpsTest {
    private static final int[] THREADS = {1, 2};

    @AfterEach
    void restore() {
        CpuOps.setIsa(CpuOps.bestIsa());
        CpuOps.setThreads(Runtime.getRuntime().availableProcessors());
    }

    /** Every (instruction set, thread count) the ops are compiled for and this CPU runs. */
    private static java.util.List<String> configurations() {
        java.util.List<String> list = new java.util.ArrayList<>();
        for (CpuOps.Isa isa : supportedIsas()) for (int threads : THREADS) list.add(isa + "/" + threads);
        return list;
    }

    /** Switches to a configuration of {@link #configurations()}. */
    private static void use(String configuration) {
        String[] p = configuration.split("/");
        assertTrue(CpuOps.setIsa(CpuOps.Isa.valueOf(p[0])));
        CpuOps.setThreads(Integer.parseInt(p[1]));
    }

    /** out and the new state (appended after out) of the conv, in double. */
    private static double[] convRef(float[] x, float[] state, float[] w, float[] bias, int tokens, int dim, int width, boolean silu) {
        int h = width - 1;
        double[] r = new double[tokens * dim + dim * h];
        for (int d = 0; d < dim; d++) {
            for (int t = 0; t < tokens; t++) {
                double acc = bias == null ? 0 : bias[d];
                for (int k = 0; k < width; k++) {
                    int j = t - h + k; // input position; negative ones are remembered in the state
                    double in = j >= 0 ? x[j * dim + d] : state[d * h + (h + j)];
                    acc += (double) w[d * width + k] * in;
                }
                r[t * dim + d] = silu ? acc / (1 + Math.exp(-acc)) : acc;
            }
            for (int k = 0; k < h; k++) {
                int j = tokens - h + k;
                r[tokens * dim + d * h + k] = j >= 0 ? x[j * dim + d] : state[d * h + (h + j)];
            }
        }
        return r;
    }

    @Test
    void causalConv1d() {
        Random r = new Random(3);
        for (int[] s : new int[][] {{1, 8, 4}, {7, 33, 4}, {2, 5, 3}, {40, 130, 4}, {3, 17, 1}, {9, 64, 2}, {300, 512, 4}}) {
            int tokens = s[0], dim = s[1], width = s[2], h = width - 1;
            for (boolean silu : new boolean[] {true, false}) {
                for (boolean withBias : new boolean[] {true, false}) {
                    float[] x = random(r, tokens * dim, 2f), st = random(r, dim * h, 2f), w = random(r, dim * width, 1f);
                    float[] bias = withBias ? random(r, dim, 1f) : null;
                    double[] ref = convRef(x, st, w, bias, tokens, dim, width, silu);
                    for (String conf : configurations()) {
                        use(conf);
                        String where = "conv " + tokens + "x" + dim + " width " + width + " silu " + silu + " bias " + withBias + " " + conf;
                        try (Arena a = Arena.ofConfined()) {
                            MemorySegment xs = floats(a, x), ss = floats(a, st), ws = floats(a, w), out = a.allocate((long) tokens * dim * 4);
                            MemorySegment bs = bias == null ? null : floats(a, bias);
                            CpuOps.causalConv1d(out, ss, xs, ws, bs, tokens, dim, width, silu);
                            float[] got = concat(toFloats(out, tokens * dim), toFloats(ss, dim * h));
                            // fp32 sums of at most 5 terms of size <= 2 plus one exp (polynomial, ~1e-7
                            // relative): a few ulps of 10.
                            assertClose(ref, got, 1e-5, 1e-5, where);
                            // in place (out is x), same state: the same bits
                            MemorySegment ss2 = floats(a, st);
                            CpuOps.causalConv1d(xs, ss2, xs, ws, bs, tokens, dim, width, silu);
                            assertArrayEquals(got, concat(toFloats(xs, tokens * dim), toFloats(ss2, dim * h)), 0f, where + " in place");
                        }
                    }
                }
            }
        }
    }

    @Test
    void causalConv1dPiecewiseEqualsWhole() {
        // Feeding a sequence in pieces (prefill, then decode steps) gives the same bits as one call.
        Random r = new Random(4);
        int tokens = 12, dim = 48, width = 4;
        float[] x = random(r, tokens * dim, 1f), w = random(r, dim * width, 1f), bias = random(r, dim, 1f);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ws = floats(a, w), bs = floats(a, bias);
            MemorySegment whole = a.allocate((long) tokens * dim * 4), st1 = a.allocate((long) dim * 3 * 4);
            CpuOps.causalConv1d(whole, st1, floats(a, x), ws, bs, tokens, dim, width, true);
            MemorySegment st2 = a.allocate((long) dim * 3 * 4);
            float[] pieces = new float[tokens * dim];
            int[] cuts = {0, 2, 3, 7, 8, 9, 10, 11, 12};
            for (int i = 0; i + 1 < cuts.length; i++) {
                int n = cuts[i + 1] - cuts[i];
                float[] part = java.util.Arrays.copyOfRange(x, cuts[i] * dim, cuts[i + 1] * dim);
                MemorySegment out = a.allocate((long) n * dim * 4);
                CpuOps.causalConv1d(out, st2, floats(a, part), ws, bs, n, dim, width, true);
                System.arraycopy(toFloats(out, n * dim), 0, pieces, cuts[i] * dim, n * dim);
            }
            assertArrayEquals(toFloats(whole, tokens * dim), pieces, 0f);
            assertArrayEquals(toFloats(st1, dim * 3), toFloats(st2, dim * 3), 0f);
        }
    }

    /** out and the new state (appended after out) of the scan, in double. */
    private static double[] scanRef(float[] u, float[] delta, float[] A, float[] B, float[] C, float[] D, float[] z,
                                    float[] bias, float[] state, int tokens, int dim, int n, boolean softplus) {
        double[] r = new double[tokens * dim + dim * n];
        for (int d = 0; d < dim; d++) {
            double[] h = new double[n];
            for (int i = 0; i < n; i++) h[i] = state[d * n + i];
            for (int t = 0; t < tokens; t++) {
                double dt = delta[t * dim + d] + (bias == null ? 0 : bias[d]);
                if (softplus) dt = Math.log1p(Math.exp(dt));
                double uv = u[t * dim + d], y = 0;
                for (int i = 0; i < n; i++) {
                    h[i] = Math.exp(dt * A[d * n + i]) * h[i] + dt * B[t * n + i] * uv;
                    y += h[i] * C[t * n + i];
                }
                if (D != null) y += D[d] * uv;
                if (z != null) y *= z[t * dim + d] / (1 + Math.exp(-z[t * dim + d]));
                r[t * dim + d] = y;
            }
            for (int i = 0; i < n; i++) r[tokens * dim + d * n + i] = h[i];
        }
        return r;
    }

    /** A = -exp(uniform[0, 2.5)) like Mamba's A_log init (S4D-real, A = -(1..16)); negative, so the state decays. */
    private static float[] negativeA(Random r, int count) {
        float[] a = new float[count];
        for (int i = 0; i < count; i++) a[i] = (float) -Math.exp(r.nextDouble() * 2.8);
        return a;
    }

    @Test
    void selectiveScan() {
        Random r = new Random(5);
        for (int[] s : new int[][] {{1, 8, 16}, {5, 33, 16}, {17, 64, 4}, {64, 96, 16}, {3, 7, 1}, {2, 20, 64}, {2, 17, 256}}) {
            int tokens = s[0], dim = s[1], n = s[2];
            for (int variant = 0; variant < 4; variant++) {
                boolean full = variant == 0 || variant == 2, softplus = variant < 2;
                float[] u = random(r, tokens * dim, 2f), delta = random(r, tokens * dim, 2f), A = negativeA(r, dim * n);
                float[] B = random(r, tokens * n, 1f), C = random(r, tokens * n, 1f), st = random(r, dim * n, 1f);
                float[] D = full ? random(r, dim, 1f) : null, z = full ? random(r, tokens * dim, 3f) : null;
                float[] bias = full ? random(r, dim, 1f) : null;
                if (!softplus) { // dt > 0 without softplus too, as in a real model (else exp(dt A) > 1 and the state grows)
                    for (int i = 0; i < delta.length; i++) delta[i] = Math.abs(delta[i]) + 0.01f;
                    if (bias != null) for (int i = 0; i < dim; i++) bias[i] = Math.abs(bias[i]);
                }
                double[] ref = scanRef(u, delta, A, B, C, D, z, bias, st, tokens, dim, n, softplus);
                for (String conf : configurations()) {
                    use(conf);
                    String where = "scan " + tokens + "x" + dim + " dstate " + n + " D/z/bias " + full + " softplus " + softplus + " " + conf;
                    try (Arena a = Arena.ofConfined()) {
                        MemorySegment us = floats(a, u), ds = floats(a, delta), as = floats(a, A), bs = floats(a, B), cs = floats(a, C);
                        MemorySegment Ds = D == null ? null : floats(a, D), zs = z == null ? null : floats(a, z);
                        MemorySegment bias_ = bias == null ? null : floats(a, bias), ss = floats(a, st);
                        MemorySegment out = a.allocate((long) tokens * dim * 4);
                        CpuOps.selectiveScan(out, ss, us, ds, as, bs, cs, Ds, zs, bias_, tokens, dim, n, softplus);
                        float[] got = concat(toFloats(out, tokens * dim), toFloats(ss, dim * n));
                        // fp32 exp and softplus (polynomials, ~1e-7 relative) through a recurrence whose
                        // factors exp(dt A) are <= 1, so errors do not grow; sums of up to 256 terms of
                        // size ~10: 2e-5 relative.
                        assertClose(ref, got, 2e-5, 2e-5, where);
                        // out aliasing u (and, when gated, z) gives the same bits
                        MemorySegment ss2 = floats(a, st);
                        CpuOps.selectiveScan(us, ss2, us, ds, as, bs, cs, Ds, zs, bias_, tokens, dim, n, softplus);
                        assertArrayEquals(got, concat(toFloats(us, tokens * dim), toFloats(ss2, dim * n)), 0f, where + " out = u");
                    }
                }
            }
        }
    }

    @Test
    void selectiveScanExtremeInputs() {
        // delta over [-40, 40] (softplus from ~4e-18 to 40, both branches of its approximation), gates
        // z over [-100, 100] (exp overflows without the clamp), u large: still float-rounding accurate.
        Random r = new Random(8);
        int tokens = 6, dim = 40, n = 16;
        float[] u = random(r, tokens * dim, 50f), delta = random(r, tokens * dim, 40f), A = negativeA(r, dim * n);
        float[] B = random(r, tokens * n, 1f), C = random(r, tokens * n, 1f), D = random(r, dim, 1f);
        float[] z = random(r, tokens * dim, 100f), st = random(r, dim * n, 1f);
        double[] ref = scanRef(u, delta, A, B, C, D, z, null, st, tokens, dim, n, true);
        for (String conf : configurations()) {
            use(conf);
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = a.allocate((long) tokens * dim * 4), ss = floats(a, st);
                CpuOps.selectiveScan(out, ss, floats(a, u), floats(a, delta), floats(a, A), floats(a, B), floats(a, C),
                        floats(a, D), floats(a, z), null, tokens, dim, n, true);
                assertClose(ref, concat(toFloats(out, tokens * dim), toFloats(ss, dim * n)), 2e-5, 1e-4, "extreme " + conf);
            }
        }
    }

    @Test
    void selectiveScanStepByStepEqualsWhole() {
        // The decode step is the same op with one token: stepping through gives the prefill's bits.
        Random r = new Random(6);
        int tokens = 9, dim = 40, n = 16;
        float[] u = random(r, tokens * dim, 1f), delta = random(r, tokens * dim, 1f), A = negativeA(r, dim * n);
        float[] B = random(r, tokens * n, 1f), C = random(r, tokens * n, 1f), D = random(r, dim, 1f);
        float[] z = random(r, tokens * dim, 1f), bias = random(r, dim, 1f);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment as = floats(a, A), Ds = floats(a, D), bias_ = floats(a, bias);
            MemorySegment whole = a.allocate((long) tokens * dim * 4), st1 = a.allocate((long) dim * n * 4);
            CpuOps.selectiveScan(whole, st1, floats(a, u), floats(a, delta), as, floats(a, B), floats(a, C), Ds,
                    floats(a, z), bias_, tokens, dim, n, true);
            MemorySegment st2 = a.allocate((long) dim * n * 4);
            float[] steps = new float[tokens * dim];
            for (int t = 0; t < tokens; t++) {
                MemorySegment out = a.allocate((long) dim * 4);
                CpuOps.selectiveScan(out, st2, floats(a, slice(u, t, dim)), floats(a, slice(delta, t, dim)), as,
                        floats(a, slice(B, t, n)), floats(a, slice(C, t, n)), Ds, floats(a, slice(z, t, dim)), bias_, 1, dim, n, true);
                System.arraycopy(toFloats(out, dim), 0, steps, t * dim, dim);
            }
            assertArrayEquals(toFloats(whole, tokens * dim), steps, 0f);
            assertArrayEquals(toFloats(st1, dim * n), toFloats(st2, dim * n), 0f);
        }
    }

    private static void rejects(String argument, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(argument), "message should name " + argument + ": " + e.getMessage());
    }

    @Test
    void causalConv1dArguments() {
        try (Arena a = Arena.ofConfined()) {
            int t = 3, d = 8, w = 4;
            MemorySegment out = a.allocate(4L * t * d), x = a.allocate(4L * t * d), st = a.allocate(4L * d * (w - 1));
            MemorySegment wt = a.allocate(4L * d * w), b = a.allocate(4L * d);
            CpuOps.causalConv1d(out, st, x, wt, b, t, d, w, true); // fine
            CpuOps.causalConv1d(out, st, x, wt, null, t, d, w, false); // fine: no bias
            CpuOps.causalConv1d(out, MemorySegment.NULL, x, wt, null, t, d, 1, false); // fine: width 1 keeps no state
            rejects("tokens", () -> CpuOps.causalConv1d(out, st, x, wt, b, 0, d, w, true));
            rejects("dim", () -> CpuOps.causalConv1d(out, st, x, wt, b, t, -1, w, true));
            rejects("width", () -> CpuOps.causalConv1d(out, st, x, wt, b, t, d, 0, true));
            rejects("width", () -> CpuOps.causalConv1d(out, st, x, wt, b, t, d, 5, true));
            rejects("out", () -> CpuOps.causalConv1d(out.asSlice(4), st, x, wt, b, t, d, w, true));
            rejects("x", () -> CpuOps.causalConv1d(out, st, x.asSlice(4), wt, b, t, d, w, true));
            rejects("convState", () -> CpuOps.causalConv1d(out, st.asSlice(4), x, wt, b, t, d, w, true));
            rejects("convState", () -> CpuOps.causalConv1d(out, null, x, wt, b, t, d, w, true));
            rejects("weight", () -> CpuOps.causalConv1d(out, st, x, wt.asSlice(4), b, t, d, w, true));
            rejects("bias", () -> CpuOps.causalConv1d(out, st, x, wt, b.asSlice(4), t, d, w, true));
            rejects("x", () -> CpuOps.causalConv1d(out, st, MemorySegment.ofArray(new float[t * d]), wt, b, t, d, w, true));
            rejects("out", () -> CpuOps.causalConv1d(out.asReadOnly(), st, x, wt, b, t, d, w, true));
            MemorySegment big = a.allocate(4L * (t * d + 4));
            rejects("overlap", () -> CpuOps.causalConv1d(big.asSlice(16), st, big, wt, b, t, d, w, true));
            rejects("overlap", () -> CpuOps.causalConv1d(out, x.asSlice(0, 4L * d * (w - 1)), x, wt, b, t, d, w, true));
        }
        Arena closed = Arena.ofConfined();
        MemorySegment gone = closed.allocate(4L * 8 * 3);
        closed.close();
        try (Arena a = Arena.ofConfined()) {
            rejects("convState", () -> CpuOps.causalConv1d(a.allocate(4L * 8), gone, a.allocate(4L * 8), a.allocate(4L * 32), null, 1, 8, 4, true));
        }
    }

    @Test
    void selectiveScanArguments() {
        try (Arena a = Arena.ofConfined()) {
            int t = 3, d = 8, n = 4;
            MemorySegment out = a.allocate(4L * t * d), st = a.allocate(4L * d * n), u = a.allocate(4L * t * d);
            MemorySegment dl = a.allocate(4L * t * d), A = a.allocate(4L * d * n), B = a.allocate(4L * t * n), C = a.allocate(4L * t * n);
            MemorySegment D = a.allocate(4L * d), z = a.allocate(4L * t * d), bias = a.allocate(4L * d);
            CpuOps.selectiveScan(out, st, u, dl, A, B, C, D, z, bias, t, d, n, true); // fine
            CpuOps.selectiveScan(out, st, u, dl, A, B, C, null, null, null, t, d, n, false); // fine: optional parts off
            rejects("tokens", () -> CpuOps.selectiveScan(out, st, u, dl, A, B, C, D, z, bias, 0, d, n, true));
            rejects("dim", () -> CpuOps.selectiveScan(out, st, u, dl, A, B, C, D, z, bias, t, 0, n, true));
            rejects("dstate", () -> CpuOps.selectiveScan(out, st, u, dl, A, B, C, D, z, bias, t, d, -2, true));
            rejects("dstate", () -> CpuOps.selectiveScan(out, st, u, dl, A, B, C, D, z, bias, t, d, 257, true));
            rejects("out", () -> CpuOps.selectiveScan(out.asSlice(4), st, u, dl, A, B, C, D, z, bias, t, d, n, true));
            rejects("state", () -> CpuOps.selectiveScan(out, st.asSlice(4), u, dl, A, B, C, D, z, bias, t, d, n, true));
            rejects("u", () -> CpuOps.selectiveScan(out, st, u.asSlice(4), dl, A, B, C, D, z, bias, t, d, n, true));
            rejects("delta", () -> CpuOps.selectiveScan(out, st, u, null, A, B, C, D, z, bias, t, d, n, true));
            rejects("A", () -> CpuOps.selectiveScan(out, st, u, dl, A.asSlice(4), B, C, D, z, bias, t, d, n, true));
            rejects("B", () -> CpuOps.selectiveScan(out, st, u, dl, A, B.asSlice(4), C, D, z, bias, t, d, n, true));
            rejects("C", () -> CpuOps.selectiveScan(out, st, u, dl, A, B, C.asSlice(4), D, z, bias, t, d, n, true));
            rejects("D", () -> CpuOps.selectiveScan(out, st, u, dl, A, B, C, D.asSlice(4), z, bias, t, d, n, true));
            rejects("z", () -> CpuOps.selectiveScan(out, st, u, dl, A, B, C, D, z.asSlice(4), bias, t, d, n, true));
            rejects("deltaBias", () -> CpuOps.selectiveScan(out, st, u, dl, A, B, C, D, z, bias.asSlice(4), t, d, n, true));
            rejects("state", () -> CpuOps.selectiveScan(out, st.asReadOnly(), u, dl, A, B, C, D, z, bias, t, d, n, true));
            rejects("A", () -> CpuOps.selectiveScan(out, st, u, dl, MemorySegment.ofArray(new float[d * n]), B, C, D, z, bias, t, d, n, true));
            // the state must not overlap what the scan reads, nor out a partial view of u
            rejects("overlap", () -> CpuOps.selectiveScan(out, A, u, dl, A, B, C, D, z, bias, t, d, n, true));
            MemorySegment big = a.allocate(4L * (t * d + 4));
            rejects("overlap", () -> CpuOps.selectiveScan(big.asSlice(16), st, big, dl, A, B, C, D, z, bias, t, d, n, true));
        }
    }

    private static float[] slice(float[] a, int row, int width) {
        return java.util.Arrays.copyOfRange(a, row * width, (row + 1) * width);
    }

    private static float[] concat(float[] a, float[] b) {
        float[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    private static void assertClose(double[] ref, float[] got, double rel, double abs, String where) {
        CpuOpsTest.assertClose(ref, got, rel, abs, where);
    }
}
