package io.transfuse.backend.cpu;

import io.transfuse.backend.Activation;
import io.transfuse.backend.ReferenceMath;
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
 * The norms, activations, fused Linear layer, add and embedding against plain Java references (double
 * precision), on every instruction set this CPU has and on 1 and 2 threads. Inputs are uniform in
 * [-1, 1] unless stated; every tolerance is stated where it is used. (RoPE and attention:
 * CpuAttentionOpsTest; matmul: CpuMatmulTest; the native tests cover the VNNI and AMX variants too.)
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

    /** rmsNorm (norm 0) or layerNorm (norm 1) of h [rows][dim] in double. */
    private static double[] normRef(int norm, float[] h, float[] w, float[] b, int rows, int dim, float eps) {
        double[] out = new double[rows * dim];
        for (int r = 0; r < rows; r++) {
            if (norm == 0) {
                double ss = 0;
                for (int i = 0; i < dim; i++) ss += (double) h[r * dim + i] * h[r * dim + i];
                double s = 1 / Math.sqrt(ss / dim + eps);
                for (int i = 0; i < dim; i++) out[r * dim + i] = h[r * dim + i] * s * w[i];
            } else {
                double mean = 0, var = 0;
                for (int i = 0; i < dim; i++) mean += h[r * dim + i];
                mean /= dim;
                for (int i = 0; i < dim; i++) var += (h[r * dim + i] - mean) * (h[r * dim + i] - mean);
                double s = 1 / Math.sqrt(var / dim + eps);
                for (int i = 0; i < dim; i++) out[r * dim + i] = (h[r * dim + i] - mean) * s * w[i] + (b == null ? 0 : b[i]);
            }
        }
        return out;
    }

    /**
     * Both norms with and without the residual: the residual stream written back (exactly float(residual + x),
     * one rounding), the norm taken of it, and out == x or out == residual giving the same bits. Tolerance:
     * rmsNorm sums squares in double and rounds the scale once, then two float products (|ref| <~ 10): 1e-6
     * absolute and relative; layerNorm's float sums over <= 768 values are off by ~1e-6 of the value's size,
     * times |w| <= 1.5, plus the bias: 1e-5.
     */
    @Test
    void norms() {
        Random r = new Random(1);
        for (int norm : new int[] {0, 1}) {
            for (int[] s : new int[][] {{1, 64}, {3, 17}, {17, 288}, {70, 768}, {2, 5}, {2, 1}}) {
                int rows = s[0], dim = s[1], n = rows * dim;
                float[] x = random(r, n, 4f), res = random(r, n, 2f), w = random(r, dim, 1.5f), b = random(r, dim, 0.5f);
                if (norm == 1) for (int i = 0; i < n; i++) x[i] += 3; // a mean far from 0 tests the centring
                float[] h = new float[n];
                for (int i = 0; i < n; i++) h[i] = (float) ((double) res[i] + x[i]);
                float eps = norm == 0 ? 1e-5f : 1e-12f;
                double tol = norm == 0 ? 1e-6 : 1e-5;
                for (float[] bias : norm == 0 ? new float[][] {null} : new float[][] {b, null}) {
                    double[] plain = normRef(norm, x, w, bias, rows, dim, eps), fused = normRef(norm, h, w, bias, rows, dim, eps);
                    for (CpuOps.Isa isa : supportedIsas()) {
                        CpuOps.setIsa(isa);
                        for (int threads : THREADS) {
                            CpuOps.setThreads(threads);
                            String where = (norm == 0 ? "rmsNorm " : "layerNorm ") + rows + "x" + dim + (bias == null ? "" : " bias")
                                    + " " + isa + " threads=" + threads;
                            try (Arena a = Arena.ofConfined()) {
                                MemorySegment xs = floats(a, x), ws = floats(a, w), bs = bias == null ? null : floats(a, bias);
                                MemorySegment out = a.allocate(4L * n);
                                norm(norm, out, null, xs, ws, bs, rows, dim, eps);
                                assertClose(plain, toFloats(out, n), tol, tol, where);
                                float[] got = toFloats(out, n);
                                norm(norm, xs, null, xs, ws, bs, rows, dim, eps); // out aliases x
                                assertArrayEquals(got, toFloats(xs, n), 0f, where + " out == x");

                                MemorySegment rs = floats(a, res), x2 = floats(a, x);
                                norm(norm, out, rs, x2, ws, bs, rows, dim, eps);
                                assertClose(fused, toFloats(out, n), tol, tol, where + " residual");
                                assertArrayEquals(h, toFloats(rs, n), 0f, where + " residual written back");
                                got = toFloats(out, n);
                                MemorySegment r2 = floats(a, res);
                                norm(norm, r2, r2, x2, ws, bs, rows, dim, eps); // out aliases residual
                                assertArrayEquals(got, toFloats(r2, n), 0f, where + " out == residual");
                                MemorySegment r3 = floats(a, res);
                                norm(norm, x2, r3, x2, ws, bs, rows, dim, eps); // out aliases x
                                assertArrayEquals(got, toFloats(x2, n), 0f, where + " residual, out == x");
                                assertArrayEquals(h, toFloats(r3, n), 0f, where + " residual, out == x, written back");
                            }
                        }
                    }
                }
            }
        }
    }

    private static void norm(int norm, MemorySegment out, MemorySegment res, MemorySegment x, MemorySegment w, MemorySegment b,
                             int rows, int dim, float eps) {
        if (norm == 0) CpuOps.rmsNorm(out, res, x, w, rows, dim, eps);
        else CpuOps.layerNorm(out, res, x, w, b, rows, dim, eps);
    }

    /**
     * The bound on |got - ref| for an activation of x whose exact value is ref, as transfuse.h states it:
     * SILU 1e-6 relative; GELU_TANH (4|u| + 8) 2^-24 relative (plus 2^-52 |x| for this double reference,
     * whose 1 + tanh(u) cancels for very negative x); GELU_ERF 3e-7 |x| + 1e-7 |ref|; where exp saturates
     * (x below about -88 for SILU, -10 for GELU_TANH) 5e-39 |x| absolute. IDENTITY is exact.
     */
    static double actBound(Activation act, double x, double ref) {
        double ax = Math.abs(x), ar = Math.abs(ref);
        return switch (act) {
            case SILU -> 1e-6 * ar + 5e-39 * ax;
            case GELU_TANH -> {
                double u = Math.abs(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x));
                yield (4 * u + 8) * 0x1p-24 * ar + 5e-39 * ax + 0x1p-52 * ax;
            }
            case GELU_ERF -> 3e-7 * ax + 1e-7 * ar + 1e-37;
            case IDENTITY, RELU -> 0;
        };
    }

    /** Activation inputs: a sweep over [-12, 12], far and special values, then random ones. */
    private static float[] activationInputs(Random r, int n) {
        float[] x = random(r, n, 8f);
        int sweep = n / 2;
        for (int i = 0; i < sweep; i++) x[i] = -12f + 24f * i / sweep;
        float[] special = {0f, -0f, 1e-30f, -1e-30f, 100f, -100f, 30f, -30f, -88f, -89f, 90f, -10.2f};
        for (int i = 0; i < special.length && sweep + i < n; i++) x[sweep + i] = special[i];
        return x;
    }

    @Test
    void biasActEveryActivation() {
        Random r = new Random(5);
        for (int[] s : new int[][] {{1, 1}, {3, 7}, {9, 1536}, {300, 33}}) {
            int rows = s[0], dim = s[1], n = rows * dim;
            for (Activation act : Activation.values()) {
                for (boolean withBias : new boolean[] {true, false}) {
                    float[] x = activationInputs(r, n), bias = random(r, dim, 2f);
                    double[] ref = new double[n], bound = new double[n];
                    for (int i = 0; i < n; i++) {
                        float in = withBias ? x[i] + bias[i % dim] : x[i];
                        ref[i] = ReferenceMath.activate(act, in);
                        bound[i] = actBound(act, in, ref[i]);
                    }
                    for (CpuOps.Isa isa : supportedIsas()) {
                        CpuOps.setIsa(isa);
                        for (int threads : THREADS) {
                            CpuOps.setThreads(threads);
                            try (Arena a = Arena.ofConfined()) {
                                MemorySegment xs = floats(a, x);
                                CpuOps.biasAct(xs, withBias ? floats(a, bias) : null, rows, dim, act);
                                assertWithin(ref, bound, toFloats(xs, n), "biasAct " + act + (withBias ? " bias " : " ")
                                        + rows + "x" + dim + " " + isa + " threads=" + threads);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void gluEveryActivationAndAdd() {
        Random r = new Random(6);
        for (int n : new int[] {1, 7, 172, 100_003}) {
            float[] g = activationInputs(r, n), u = random(r, n, 2f);
            for (Activation act : new Activation[] {Activation.SILU, Activation.GELU_TANH, Activation.GELU_ERF}) {
                double[] ref = new double[n], bound = new double[n];
                for (int i = 0; i < n; i++) {
                    double a = ReferenceMath.activate(act, g[i]);
                    ref[i] = a * u[i];
                    // the activation's bound times |up|, then one float product
                    bound[i] = actBound(act, g[i], a) * Math.abs(u[i]) + 1e-7 * Math.abs(ref[i]);
                }
                for (CpuOps.Isa isa : supportedIsas()) {
                    CpuOps.setIsa(isa);
                    for (int threads : THREADS) {
                        CpuOps.setThreads(threads);
                        String where = "glu " + act + " n=" + n + " " + isa + " threads=" + threads;
                        try (Arena a = Arena.ofConfined()) {
                            MemorySegment gs = floats(a, g), us = floats(a, u), out = a.allocate((long) n * 4);
                            CpuOps.glu(out, gs, us, n, act);
                            float[] got = toFloats(out, n);
                            assertWithin(ref, bound, got, where);
                            CpuOps.glu(gs, gs, us, n, act); // out aliases gate
                            assertArrayEquals(got, toFloats(gs, n), 0f, where + " out == gate");
                            CpuOps.glu(us, floats(a, g), us, n, act); // out aliases up
                            assertArrayEquals(got, toFloats(us, n), 0f, where + " out == up");
                        }
                    }
                }
            }
            try (Arena a = Arena.ofConfined()) {
                MemorySegment as = floats(a, g), bs = floats(a, u), out = a.allocate((long) n * 4);
                CpuOps.add(out, as, bs, n);
                float[] sum = toFloats(out, n);
                for (int i = 0; i < n; i++) assertEquals(g[i] + u[i], sum[i], 0f, "add"); // one float addition: exact match
                CpuOps.add(as, as, bs, n);
                assertArrayEquals(sum, toFloats(as, n), 0f, "add, out == a");
            }
        }
    }

    /**
     * The fused Linear layer on panel- and AMX-packed weights (bias and activation applied per block inside
     * the matmul), plain F32 and Q8_0 (matmul, then the bias op), against a double reference, every activation,
     * with and without a bias. 173 outputs end inside a panel, 37 tokens inside a register tile. Tolerance: the
     * fp32 dot product's rounding, at most (inDim + 1) 2^-24 of the sum of |products| (an activation's slope
     * is at most 1.13), plus the activation's own bound; Q8_0 adds the quantisation of x, at most half a step
     * per element (CpuMatmulTest explains it).
     */
    @Test
    void matmulBiasEveryActivation() {
        Random r = new Random(9);
        int tokens = 37, in = 96, out = 173;
        float[] x = random(r, tokens * in, 1f), w = random(r, out * in, 0.3f), bias = random(r, out, 2f);
        byte[] q8 = randomWeights(r, DType.Q8_0, out, in);
        double[] wq = dequantize(q8, DType.Q8_0, out, in);
        for (DType type : new DType[] {DType.F32_PANELS, DType.F32_AMX, DType.F32, DType.Q8_0}) {
            for (Activation act : Activation.values()) {
                for (boolean withBias : new boolean[] {true, false}) {
                    double[] ref = new double[tokens * out], bound = new double[tokens * out];
                    for (int t = 0; t < tokens; t++) {
                        for (int o = 0; o < out; o++) {
                            double s = withBias ? bias[o] : 0, mag = Math.abs(s);
                            double xq = 0; // sum_i |w_i| d_i / 2: the quantisation of x (Q8_0 only)
                            for (int i = 0; i < in; i++) {
                                double wi = type == DType.Q8_0 ? wq[o * in + i] : w[o * in + i];
                                s += wi * x[t * in + i];
                                mag += Math.abs(wi * x[t * in + i]);
                                if (type == DType.Q8_0) xq += Math.abs(wi) * blockMax(x, t * in + i) / 127 / 2 * (1 + 0x1p-20);
                            }
                            ref[t * out + o] = ReferenceMath.activate(act, s);
                            bound[t * out + o] = 1.13 * ((in + 1) * 0x1p-24 * mag + xq) + actBound(act, s, ref[t * out + o]) + 1e-30;
                        }
                    }
                    for (CpuOps.Isa isa : supportedIsas()) {
                        CpuOps.setIsa(isa);
                        for (int threads : THREADS) {
                            CpuOps.setThreads(threads);
                            try (Arena a = Arena.ofConfined()) {
                                MemorySegment wSeg = switch (type) {
                                    case F32_PANELS -> {
                                        MemorySegment p = a.allocate(CpuOps.packedF32Bytes(in, out));
                                        CpuOps.packF32(p, floats(a, w), in, out);
                                        yield p;
                                    }
                                    case F32_AMX -> {
                                        MemorySegment p = a.allocate(CpuOps.packedF32AmxBytes(in, out));
                                        CpuOps.packF32Amx(p, floats(a, w), in, out);
                                        yield p;
                                    }
                                    case Q8_0 -> bytes(a, q8);
                                    default -> floats(a, w);
                                };
                                MemorySegment o = a.allocate(4L * tokens * out);
                                CpuOps.matmulBias(o, floats(a, x), wSeg, type, tokens, in, out, withBias ? floats(a, bias) : null, act);
                                assertWithin(ref, bound, toFloats(o, tokens * out), "matmulBias " + type + " " + act
                                        + (withBias ? " bias " : " ") + isa + " threads=" + threads);
                            }
                        }
                    }
                }
            }
        }
    }

    /** max |x| over the block of 32 that holds element i (rows of x are whole blocks here). */
    private static double blockMax(float[] x, int i) {
        int b0 = i / 32 * 32;
        double m = 0;
        for (int j = b0; j < b0 + 32; j++) m = Math.max(m, Math.abs(x[j]));
        return m;
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

    /** Every |got - ref| <= bound. */
    static void assertWithin(double[] ref, double[] bound, float[] got, String where) {
        assertEquals(ref.length, got.length);
        for (int i = 0; i < ref.length; i++) {
            double err = Math.abs(got[i] - ref[i]);
            if (!(err <= bound[i])) {
                fail(where + ": [" + i + "] = " + got[i] + ", expected " + ref[i] + " (error " + err + ", bound " + bound[i] + ")");
            }
        }
    }

    /** Every |got - ref| <= abs + rel * |ref|; where ref is NaN (a value that must stay unwritten), got must be NaN. */
    static void assertClose(double[] ref, float[] got, double rel, double abs, String where) {
        assertEquals(ref.length, got.length);
        for (int i = 0; i < ref.length; i++) {
            double err = Math.abs(got[i] - ref[i]);
            if (!(err <= abs + rel * Math.abs(ref[i])) && !(Double.isNaN(ref[i]) && Float.isNaN(got[i]))) {
                fail(where + ": [" + i + "] = " + got[i] + ", expected " + ref[i] + " (error " + err + ")");
            }
        }
    }
}
