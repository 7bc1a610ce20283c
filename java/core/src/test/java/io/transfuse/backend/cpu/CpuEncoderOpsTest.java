package io.transfuse.backend.cpu;

import io.transfuse.backend.ReferenceMath;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import static io.transfuse.backend.cpu.CpuOpsTest.assertClose;
import static io.transfuse.backend.cpu.CpuTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The encoder ops (layerNorm, addBias, gelu, matmulBias, attentionBidirectional) against plain Java references
 * in double precision, on every instruction set this CPU has and on 1 and 2 threads, and their
 * argument checks.
 */
class CpuEncoderOpsTest {
    private static final int[] THREADS = {1, 2};

    @AfterEach
    void restore() {
        CpuOps.setIsa(CpuOps.bestIsa());
        CpuOps.setThreads(Runtime.getRuntime().availableProcessors());
    }

    @Test
    void layerNorm() {
        Random r = new Random(3);
        for (int[] s : new int[][] {{1, 384}, {3, 17}, {70, 768}, {300, 384}, {2, 1}}) {
            int tokens = s[0], dim = s[1];
            float[] x = random(r, tokens * dim, 4f), res = random(r, tokens * dim, 2f), xb = random(r, dim, 1f);
            float[] w = random(r, dim, 1.5f), b = random(r, dim, 0.5f);
            for (int i = 0; i < x.length; i++) x[i] += 3; // a mean far from 0 tests the centring
            float eps = 1e-12f;
            double[] plain = layerNormRef(x, null, null, w, b, tokens, dim, eps), fused = layerNormRef(x, null, res, w, b, tokens, dim, eps);
            double[] biased = layerNormRef(x, xb, null, w, b, tokens, dim, eps), both = layerNormRef(x, xb, res, w, b, tokens, dim, eps);
            for (CpuOps.Isa isa : supportedIsas()) {
                CpuOps.setIsa(isa);
                for (int threads : THREADS) {
                    CpuOps.setThreads(threads);
                    String where = "layerNorm " + tokens + "x" + dim + " " + isa + " threads " + threads;
                    try (Arena a = Arena.ofConfined()) {
                        MemorySegment xs = floats(a, x), rs = floats(a, res), xbs = floats(a, xb), ws = floats(a, w), bs = floats(a, b);
                        MemorySegment out = a.allocate((long) tokens * dim * 4);
                        // Float sums over <= 768 values: the normalised value is off by ~1e-6 of its
                        // size; times |w| <= 1.5 plus the bias: 1e-5 absolute covers it with margin.
                        CpuOps.layerNorm(out, xs, null, null, ws, bs, tokens, dim, eps);
                        assertClose(plain, toFloats(out, tokens * dim), 1e-5, 1e-5, where);
                        CpuOps.layerNorm(out, xs, null, rs, ws, bs, tokens, dim, eps);
                        assertClose(fused, toFloats(out, tokens * dim), 1e-5, 1e-5, where + " residual");
                        CpuOps.layerNorm(out, xs, xbs, null, ws, bs, tokens, dim, eps);
                        assertClose(biased, toFloats(out, tokens * dim), 1e-5, 1e-5, where + " x bias");
                        CpuOps.layerNorm(out, xs, xbs, rs, ws, bs, tokens, dim, eps);
                        assertClose(both, toFloats(out, tokens * dim), 1e-5, 1e-5, where + " x bias + residual");
                        CpuOps.layerNorm(rs, xs, xbs, rs, ws, bs, tokens, dim, eps); // out aliases residual
                        assertClose(both, toFloats(rs, tokens * dim), 1e-5, 1e-5, where + " in place");
                    }
                }
            }
        }
    }

    private static double[] layerNormRef(float[] x, float[] xb, float[] res, float[] w, float[] b, int tokens, int dim, float eps) {
        double[] out = new double[tokens * dim];
        for (int t = 0; t < tokens; t++) {
            double mean = 0, var = 0;
            double[] y = new double[dim];
            for (int i = 0; i < dim; i++) {
                mean += y[i] = (double) x[t * dim + i] + (xb == null ? 0.0 : xb[i]) + (res == null ? 0.0 : res[t * dim + i]);
            }
            mean /= dim;
            for (int i = 0; i < dim; i++) var += (y[i] - mean) * (y[i] - mean);
            double scale = 1 / Math.sqrt(var / dim + eps);
            for (int i = 0; i < dim; i++) out[t * dim + i] = (y[i] - mean) * scale * w[i] + b[i];
        }
        return out;
    }

    @Test
    void addBias() {
        Random r = new Random(4);
        int rows = 67, dim = 1536;
        float[] x = random(r, rows * dim, 3f), bias = random(r, dim, 1f);
        double[] ref = new double[rows * dim];
        for (int i = 0; i < ref.length; i++) ref[i] = (double) x[i] + bias[i % dim];
        for (CpuOps.Isa isa : supportedIsas()) {
            CpuOps.setIsa(isa);
            for (int threads : THREADS) {
                CpuOps.setThreads(threads);
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment xs = floats(a, x);
                    CpuOps.addBias(xs, floats(a, bias), rows, dim);
                    // one float addition: half an ulp of the sum
                    assertClose(ref, toFloats(xs, rows * dim), 1e-7, 0, "addBias " + isa);
                }
            }
        }
    }

    @Test
    void gelu() {
        Random r = new Random(5);
        int n = 100_003;
        float[] x = random(r, n, 8f);
        x[0] = 0;
        x[1] = -0f;
        x[2] = 100;
        x[3] = -100;
        x[4] = 1e-30f;
        double[] ref = new double[n];
        for (int i = 0; i < n; i++) ref[i] = ReferenceMath.gelu(x[i]);
        for (CpuOps.Isa isa : supportedIsas()) {
            CpuOps.setIsa(isa);
            for (int threads : THREADS) {
                CpuOps.setThreads(threads);
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment xs = floats(a, x);
                    CpuOps.gelu(xs, n);
                    float[] got = toFloats(xs, n);
                    // erf is approximated to 1.5e-7 absolute (A&S 7.1.26), so GELU to ~1e-7 * |x|
                    // plus float rounding: 3e-7 * |x| + 1e-7 * |ref|.
                    for (int i = 0; i < n; i++) {
                        double err = Math.abs(got[i] - ref[i]);
                        assertTrue(err <= 3e-7 * Math.abs(x[i]) + 1e-7 * Math.abs(ref[i]) + 1e-37,
                                "gelu(" + x[i] + ") = " + got[i] + ", expected " + ref[i] + " " + isa);
                    }
                }
            }
        }
    }

    @Test
    void biasGelu() {
        Random r = new Random(7);
        int rows = 33, dim = 1536;
        float[] x = random(r, rows * dim, 5f), bias = random(r, dim, 2f);
        double[] ref = new double[rows * dim];
        for (int i = 0; i < ref.length; i++) ref[i] = ReferenceMath.gelu((double) (x[i] + bias[i % dim]));
        for (CpuOps.Isa isa : supportedIsas()) {
            CpuOps.setIsa(isa);
            for (int threads : THREADS) {
                CpuOps.setThreads(threads);
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment xs = floats(a, x);
                    CpuOps.biasGelu(xs, floats(a, bias), rows, dim);
                    float[] got = toFloats(xs, rows * dim);
                    // as gelu, on the float sum x + bias
                    for (int i = 0; i < got.length; i++) {
                        double in = Math.abs(x[i] + bias[i % dim]);
                        assertTrue(Math.abs(got[i] - ref[i]) <= 3e-7 * in + 1e-7 * Math.abs(ref[i]) + 1e-37,
                                "biasGelu [" + i + "] = " + got[i] + ", expected " + ref[i] + " " + isa);
                    }
                }
            }
        }
    }

    /**
     * The fused Linear layer on panel- and AMX-packed weights (bias and GELU applied per block inside the
     * matmul) and on plain F32 (matmul, then the bias op), against a double reference. 173 outputs end inside a
     * panel, 37 tokens inside a register tile. Tolerance: the fp32 dot product's rounding, at most
     * inDim * 2^-24 of the sum of |products| (GELU's slope is at most 1.13), plus GELU's own 3e-7.
     */
    @Test
    void matmulBias() {
        Random r = new Random(9);
        int tokens = 37, in = 96, out = 173;
        float[] x = random(r, tokens * in, 1f), w = random(r, out * in, 0.3f), bias = random(r, out, 2f);
        for (boolean gelu : new boolean[] {false, true}) {
            double[] ref = new double[tokens * out], bound = new double[tokens * out];
            for (int t = 0; t < tokens; t++)
                for (int o = 0; o < out; o++) {
                    double s = bias[o], mag = Math.abs(bias[o]);
                    for (int i = 0; i < in; i++) {
                        s += (double) w[o * in + i] * x[t * in + i];
                        mag += Math.abs((double) w[o * in + i] * x[t * in + i]);
                    }
                    ref[t * out + o] = gelu ? ReferenceMath.gelu(s) : s;
                    bound[t * out + o] = 1.13 * (in + 1) * 0x1p-24 * mag + 3e-7 * Math.abs(s) + 1e-30;
                }
            for (CpuOps.Isa isa : supportedIsas()) {
                CpuOps.setIsa(isa);
                for (int threads : THREADS) {
                    CpuOps.setThreads(threads);
                    try (Arena a = Arena.ofConfined()) {
                        MemorySegment plain = floats(a, w), panels = a.allocate(CpuOps.packedF32Bytes(in, out));
                        MemorySegment tiles = a.allocate(CpuOps.packedF32AmxBytes(in, out));
                        CpuOps.packF32(panels, plain, in, out);
                        CpuOps.packF32Amx(tiles, plain, in, out);
                        for (DType type : new DType[] {DType.F32_PANELS, DType.F32_AMX, DType.F32}) {
                            MemorySegment o = a.allocate(4L * tokens * out);
                            MemorySegment wSeg = type == DType.F32_PANELS ? panels : type == DType.F32_AMX ? tiles : plain;
                            CpuOps.matmulBias(o, floats(a, x), wSeg, type, tokens, in, out, floats(a, bias), gelu);
                            float[] got = toFloats(o, tokens * out);
                            for (int i = 0; i < got.length; i++) {
                                assertTrue(Math.abs(got[i] - ref[i]) <= bound[i], "matmulBias [" + i + "] = " + got[i]
                                        + ", expected " + ref[i] + " (gelu " + gelu + ", " + type + ", " + isa
                                        + ", " + threads + " threads)");
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void attentionBidirectional() {
        Random r = new Random(6);
        // {batch, seqLen, heads, headDim, qkvStride, lengths...}
        int[][] cases = {
                {1, 1, 1, 8, 8, 1},
                {2, 7, 3, 16, 48, 7, 4},
                {3, 32, 12, 32, 3 * 384, 32, 9, 1},
                {4, 20, 2, 64, 200, 20, 0, 13, 19},
                {1, 300, 4, 24, 96, 300},
                {2, 300, 2, 128, 256, 290, 300}, // headDim x len > 32768: the per-pair dot-product path
        };
        for (int[] c : cases) {
            int batch = c[0], seqLen = c[1], heads = c[2], headDim = c[3], stride = c[4];
            int[] lengths = java.util.Arrays.copyOfRange(c, 5, 5 + batch);
            int rows = batch * seqLen, width = heads * headDim;
            float[] q = random(r, rows * stride, 2f), k = random(r, rows * stride, 2f), v = random(r, rows * stride, 1f);
            double[] ref = attentionRef(q, k, v, lengths, batch, seqLen, heads, headDim, stride);
            for (CpuOps.Isa isa : supportedIsas()) {
                CpuOps.setIsa(isa);
                for (int threads : THREADS) {
                    CpuOps.setThreads(threads);
                    try (Arena a = Arena.ofConfined()) {
                        MemorySegment out = a.allocate((long) rows * width * 4);
                        out.fill((byte) 0x7f); // padded rows must be written, not left as they were
                        MemorySegment ls = a.allocate((long) batch * 4);
                        MemorySegment.copy(lengths, 0, ls, ValueLayout.JAVA_INT, 0, batch);
                        CpuOps.attentionBidirectional(out, floats(a, q), floats(a, k), floats(a, v), ls,
                                batch, seqLen, heads, headDim, stride);
                        // Outputs are convex combinations of |v| <= 1; float dot products of <= 64
                        // terms and a float softmax: 2e-6 absolute.
                        assertClose(ref, toFloats(out, rows * width), 0, 2e-6,
                                "attention " + java.util.Arrays.toString(c) + " " + isa + " threads " + threads);
                    }
                }
            }
        }
    }

    private static double[] attentionRef(float[] q, float[] k, float[] v, int[] lengths, int batch, int seqLen, int heads,
                                         int headDim, int stride) {
        int width = heads * headDim;
        double[] out = new double[batch * seqLen * width];
        for (int b = 0; b < batch; b++) {
            for (int i = 0; i < lengths[b]; i++) {
                for (int h = 0; h < heads; h++) {
                    int qRow = (b * seqLen + i) * stride + h * headDim;
                    double[] p = new double[lengths[b]];
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int j = 0; j < lengths[b]; j++) {
                        int kRow = (b * seqLen + j) * stride + h * headDim;
                        for (int d = 0; d < headDim; d++) p[j] += (double) q[qRow + d] * k[kRow + d];
                        p[j] /= Math.sqrt(headDim);
                        max = Math.max(max, p[j]);
                    }
                    for (int j = 0; j < p.length; j++) sum += p[j] = Math.exp(p[j] - max);
                    for (int j = 0; j < p.length; j++) {
                        int vRow = (b * seqLen + j) * stride + h * headDim;
                        for (int d = 0; d < headDim; d++) out[(b * seqLen + i) * width + h * headDim + d] += p[j] / sum * v[vRow + d];
                    }
                }
            }
        }
        return out;
    }

    private static void rejects(String argument, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(argument), "message should name " + argument + ": " + e.getMessage());
    }

    @Test
    void arguments() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment x = a.allocate(4L * 4 * 8), out = a.allocate(4L * 4 * 8), w = a.allocate(32), b = a.allocate(32);
            CpuOps.layerNorm(out, x, null, null, w, b, 4, 8, 1e-5f); // fine
            rejects("tokens", () -> CpuOps.layerNorm(out, x, null, null, w, b, 0, 8, 1e-5f));
            rejects("dim", () -> CpuOps.layerNorm(out, x, null, null, w, b, 4, -8, 1e-5f));
            rejects("eps", () -> CpuOps.layerNorm(out, x, null, null, w, b, 4, 8, Float.NaN));
            rejects("out", () -> CpuOps.layerNorm(out.asSlice(4), x, null, null, w, b, 4, 8, 1e-5f));
            rejects("out", () -> CpuOps.layerNorm(out.asReadOnly(), x, null, null, w, b, 4, 8, 1e-5f));
            rejects("residual", () -> CpuOps.layerNorm(out, x, null, x.asSlice(8), w, b, 4, 8, 1e-5f));
            rejects("weight", () -> CpuOps.layerNorm(out, x, null, null, w.asSlice(4), b, 4, 8, 1e-5f));
            rejects("bias", () -> CpuOps.layerNorm(out, x, null, null, w, null, 4, 8, 1e-5f));
            rejects("x", () -> CpuOps.layerNorm(out, MemorySegment.ofArray(new float[32]), null, null, w, b, 4, 8, 1e-5f));

            rejects("rows", () -> CpuOps.addBias(x, b, 0, 8));
            rejects("x", () -> CpuOps.addBias(x, b, 5, 8));
            rejects("bias", () -> CpuOps.addBias(x, b, 1, 9));
            rejects("xBias", () -> CpuOps.layerNorm(out, x, w.asSlice(4), null, w, b, 4, 8, 1e-5f));
            rejects("rows", () -> CpuOps.biasGelu(x, b, -1, 8));
            rejects("x", () -> CpuOps.biasGelu(x, b, 5, 8));
            rejects("bias", () -> CpuOps.biasGelu(x, b.asSlice(4), 4, 8));
            MemorySegment w8 = a.allocate(4L * 8 * 8);
            CpuOps.matmulBias(out, x, w8, DType.F32, 4, 8, 8, b, true); // fine
            rejects("bias", () -> CpuOps.matmulBias(out, x, w8, DType.F32, 4, 8, 8, b.asSlice(4), false));
            rejects("bias", () -> CpuOps.matmulBias(out, x, w8, DType.F32, 4, 8, 8, out, false));
            rejects("w", () -> CpuOps.matmulBias(out, x, w8.asSlice(4), DType.F32, 4, 8, 8, b, false));
            rejects("n", () -> CpuOps.gelu(x, -1));
            rejects("x", () -> CpuOps.gelu(x, 33));
            rejects("x", () -> CpuOps.gelu(x.asReadOnly(), 4));

            // attention: batch 2, seqLen 4, heads 2, headDim 4 -> 8 rows of 8 floats
            MemorySegment q = a.allocate(4L * 8 * 8), k = a.allocate(4L * 8 * 8), v = a.allocate(4L * 8 * 8);
            MemorySegment o = a.allocate(4L * 8 * 8), len = a.allocate(8);
            len.setAtIndex(ValueLayout.JAVA_INT, 0, 4);
            len.setAtIndex(ValueLayout.JAVA_INT, 1, 2);
            CpuOps.attentionBidirectional(o, q, k, v, len, 2, 4, 2, 4, 8); // fine
            rejects("batch", () -> CpuOps.attentionBidirectional(o, q, k, v, len, 0, 4, 2, 4, 8));
            rejects("seqLen", () -> CpuOps.attentionBidirectional(o, q, k, v, len, 2, 0, 2, 4, 8));
            rejects("seqLen", () -> CpuOps.attentionBidirectional(o, q, k, v, len, 1, CpuOps.MAX_ENCODER_SEQ + 1, 1, 1, 1));
            rejects("heads", () -> CpuOps.attentionBidirectional(o, q, k, v, len, 2, 4, -2, 4, 8));
            rejects("headDim", () -> CpuOps.attentionBidirectional(o, q, k, v, len, 2, 4, 2, 0, 8));
            rejects("qkvStride", () -> CpuOps.attentionBidirectional(o, q, k, v, len, 2, 4, 2, 4, 7));
            rejects("q", () -> CpuOps.attentionBidirectional(o, q, k, v, len, 2, 4, 2, 4, 9));
            rejects("k", () -> CpuOps.attentionBidirectional(o, q, k.asSlice(4), v, len, 2, 4, 2, 4, 8));
            rejects("v", () -> CpuOps.attentionBidirectional(o, q, k, null, len, 2, 4, 2, 4, 8));
            rejects("out", () -> CpuOps.attentionBidirectional(o.asSlice(8), q, k, v, len, 2, 4, 2, 4, 8));
            rejects("lengths", () -> CpuOps.attentionBidirectional(o, q, k, v, len.asSlice(4), 2, 4, 2, 4, 8));
            rejects("overlap", () -> CpuOps.attentionBidirectional(q, q, k, v, len, 2, 4, 2, 4, 8));
            len.setAtIndex(ValueLayout.JAVA_INT, 1, 5);
            rejects("lengths[1]", () -> CpuOps.attentionBidirectional(o, q, k, v, len, 2, 4, 2, 4, 8));
            len.setAtIndex(ValueLayout.JAVA_INT, 1, -1);
            rejects("lengths[1]", () -> CpuOps.attentionBidirectional(o, q, k, v, len, 2, 4, 2, 4, 8));
        }
    }
}
