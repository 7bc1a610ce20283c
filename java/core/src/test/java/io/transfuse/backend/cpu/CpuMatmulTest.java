package io.transfuse.backend.cpu;

import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static io.transfuse.backend.cpu.CpuTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * tf_cpu_matmul against a double-precision reference over every weight type, instruction set
 * and thread count, on shapes that exercise the kernel's tails: in_dim not a multiple of the
 * vector width or of 32 (float types), out_dim not a multiple of the row tile, tokens not a
 * multiple of the token tile, in_dim spanning several of the 1024-column blocks that non-F32
 * weights are converted in when several tokens share them.
 *
 * <p>Tolerance: the kernel sums n = inDim float products in float. Recursive (or blocked) float
 * summation of n terms has error at most about (n + 1) u sum|w x| (u = 2^-24, Higham, "Accuracy
 * and Stability", ch. 4); the dequantisation of each weight to float adds one more rounding (u per
 * term). We allow 2 (n + 4) u sum|w x| + 1e-30: a worst-case bound, so no flakiness, yet an error
 * such as a skipped or repeated element (about |w x|, i.e. >= 1/n of sum|w x|) fails it.
 *
 * <p>Q8_0 and Q4_0 weights: the kernel quantises x per block of 32 (transfuse.h: d = max|x| / 127 in
 * float, q = x * 127 / max|x| rounded to nearest, |q| <= 127) and sums exact integer block dot
 * products scaled by d_w * d_x in float. The rounding error per element is at most d / 2, so
 * against the exact W x we add sum_i |w_i| d_i / 2 (times 1 + 2^-20 for the float d) to the bound:
 * the worst case of the quantisation, which is loose. The tight check is against W x^, with
 * x^ = d q computed here from the same definition: there only the float summation above remains,
 * plus |w_i| d_i for the rare elements whose x / d lies within 1e-3 of a rounding tie (the kernel's
 * float x * (127 / max) may round them the other way). On AVX-512 with AMX, Q8_0 with 16 or more
 * tokens runs on AMX tiles (the shapes with 17, 40 and 70 tokens); the native test cpu_ops also
 * covers the vector paths without AMX and without VNNI.
 *
 * <p>F32_AMX (AMX bf16 tiles where the CPU has them; each column rebuilt in f32 on the other ISAs)
 * leaves out products below 2^-24 |w x| and sums 6n bf16 products in float: within the same bound.
 */
class CpuMatmulTest {
    private static final double U = Math.ulp(1.0f) / 2; // 2^-24
    private static final int[][] SHAPES = {
            // tokens, inDim, outDim
            {1, 64, 64}, {1, 288, 513}, {3, 172, 37}, {17, 288, 300}, {5, 33, 9}, {2, 7, 3},
            {40, 96, 131}, {1, 2048, 40}, {9, 64, 1}, {4, 256, 8},
            // in_dim above the kernel's 1024-column conversion block, with several tokens
            {3, 1100, 13}, {2, 2080, 11}, {70, 1056, 6},
            // 256 tokens and more: F32 takes the panel kernel too (matmul.inc, PK_MIN; F32_PANELS always does);
            // 263 = 43 * 6 + 5 tokens, 77 columns = 2 panels of 32 + a partial one on AVX-512
            {263, 384, 77},
    };

    @AfterEach
    void restore() {
        CpuOps.setIsa(CpuOps.bestIsa());
        CpuOps.setThreads(Runtime.getRuntime().availableProcessors());
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "F32_PANELS", "F32_AMX", "Q8_0_R16", "Q4_0_R16"})
    void matchesReferenceOnEveryIsaAndThreadCount(DType type) {
        Random r = new Random(42 + type.ordinal());
        DType stored = stored(type);
        int checked = 0;
        for (int[] s : SHAPES) {
            int tokens = s[0], in = s[1], outDim = s[2];
            if (type.quantized() && in % 32 != 0) continue;
            byte[] wb = randomWeights(r, stored, outDim, in);
            float[] x = random(r, tokens * in, 1f);
            double[] w = dequantize(wb, stored, outDim, in);
            double[] ref = new double[tokens * outDim];
            double[] bound = new double[tokens * outDim];
            boolean qx = type.quantized();
            double[][] xq = qx ? quantizeActivations(x, tokens * in) : null; // {x^, d/2 slack, tie slack}
            double[] refQ = new double[tokens * outDim];
            double[] boundQ = new double[tokens * outDim];
            for (int t = 0; t < tokens; t++) {
                for (int o = 0; o < outDim; o++) {
                    double sum = 0, abs = 0, sumQ = 0, absQ = 0, qErr = 0, ties = 0;
                    for (int i = 0; i < in; i++) {
                        double wi = w[o * in + i];
                        double p = wi * x[t * in + i];
                        sum += p;
                        abs += Math.abs(p);
                        if (qx) {
                            int k = t * in + i;
                            sumQ += wi * xq[0][k];
                            absQ += Math.abs(wi * xq[0][k]);
                            qErr += Math.abs(wi) * xq[1][k];
                            ties += Math.abs(wi) * xq[2][k];
                        }
                    }
                    ref[t * outDim + o] = sum;
                    bound[t * outDim + o] = 2 * (in + 4) * U * (abs + absQ) + qErr + 1e-30;
                    refQ[t * outDim + o] = sumQ;
                    boundQ[t * outDim + o] = 2 * (in + 4) * U * absQ + ties + 1e-30;
                }
            }
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment xs = floats(arena, x), ws = weights(arena, type, bytes(arena, wb), outDim, in);
                MemorySegment out = arena.allocate((long) tokens * outDim * 4, 64);
                for (CpuOps.Isa isa : supportedIsas()) {
                    assertTrue(CpuOps.setIsa(isa));
                    float[] first = null;
                    for (int threads : new int[] {1, 2}) {
                        CpuOps.setThreads(threads);
                        out.fill((byte) 0x7F); // NaN-ish garbage: every output must be written
                        CpuOps.matmul(out, xs, ws, type, tokens, in, outDim);
                        float[] got = toFloats(out, tokens * outDim);
                        String where = type + " " + isa + " threads=" + threads + " tokens=" + tokens + " in=" + in + " out=" + outDim;
                        for (int i = 0; i < got.length; i++) {
                            double err = Math.abs(got[i] - ref[i]);
                            if (!(err <= bound[i])) {
                                fail(where + ": out[" + i / outDim + "][" + i % outDim + "] = " + got[i] + ", expected " + ref[i]
                                        + " (error " + err + " > bound " + bound[i] + ")");
                            }
                            double errQ = Math.abs(got[i] - refQ[i]);
                            if (qx && !(errQ <= boundQ[i])) {
                                fail(where + ": out[" + i / outDim + "][" + i % outDim + "] = " + got[i] + ", expected "
                                        + refQ[i] + " with x quantised (error " + errQ + " > bound " + boundQ[i] + ")");
                            }
                        }
                        // Each output's arithmetic does not depend on how rows are split among threads.
                        if (first == null) first = got;
                        else assertArrayEquals(first, got, 0f, where + ": 1 and 2 threads differ");
                        checked++;
                    }
                }
            }
        }
        assertTrue(checked > 0);
    }

    /**
     * x quantised as the Q8_0/Q4_0 kernels do, in double: per block of 32, d = max|x| / 127 (as a
     * float, like the kernel), x^ = d * round(x / d). Returns {x^, d/2 (1 + 2^-20), d where x / d
     * is within 1e-3 of a rounding tie else 0}.
     */
    private static double[][] quantizeActivations(float[] x, int n) {
        double[][] r = new double[3][n];
        for (int b = 0; b < n; b += 32) {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b + j]));
            double d = amax / 127.0f;
            for (int j = 0; j < 32; j++) {
                double u = d > 0 ? x[b + j] / d : 0;
                r[0][b + j] = d * Math.rint(u);
                r[1][b + j] = d / 2 * (1 + 0x1p-20);
                r[2][b + j] = Math.abs(Math.abs(u - Math.floor(u)) - 0.5) < 1e-3 ? d : 0;
            }
        }
        return r;
    }

    /** The instruction sets agree with each other (each is also checked against the reference above). */
    @Test
    void isasAgree() {
        Random r = new Random(7);
        int tokens = 6, in = 320, outDim = 70;
        List<DType> types = new ArrayList<>(List.of(WEIGHT_TYPES));
        types.addAll(List.of(DType.F32_PANELS, DType.F32_AMX, DType.Q8_0_R16, DType.Q4_0_R16));
        for (DType type : types) {
            byte[] wb = randomWeights(r, stored(type), outDim, in);
            float[] x = random(r, tokens * in, 1f);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment xs = floats(arena, x), ws = weights(arena, type, bytes(arena, wb), outDim, in);
                MemorySegment out = arena.allocate((long) tokens * outDim * 4);
                float[] generic = null;
                for (CpuOps.Isa isa : supportedIsas()) {
                    CpuOps.setIsa(isa);
                    CpuOps.matmul(out, xs, ws, type, tokens, in, outDim);
                    float[] got = toFloats(out, tokens * outDim);
                    if (generic == null) generic = got;
                    // |w| <= 1 (|d| <= 0.05, |q| <= 128 for Q8: |w| <= 6.4), |x| <= 1: sum|wx| <= 6.4 * 320;
                    // two float summations each within (n + 4) u of that differ by at most twice it.
                    else assertArrayEquals(generic, got, (float) (4 * (in + 4) * U * 6.4 * in), type + " " + isa + " vs GENERIC");
                }
            }
        }
    }

    /** The stored type a repacked type is made from. */
    private static DType stored(DType type) {
        return type.repacked() ? type.repackedFrom() : type;
    }

    /** Weights (in ws, of {@link #stored}) repacked as {@code type} when it is a repacked type, else ws itself. */
    private static MemorySegment weights(Arena arena, DType type, MemorySegment ws, int outDim, int in) {
        if (type.rows16()) {
            MemorySegment p = arena.allocate(CpuOps.packedRows16Bytes(type, in, outDim), 64);
            CpuOps.packRows16(type, p, ws, in, outDim);
            return p;
        }
        if (type == DType.F32_PANELS) {
            MemorySegment p = arena.allocate(CpuOps.packedF32Bytes(in, outDim), 64);
            CpuOps.packF32(p, ws, in, outDim);
            return p;
        }
        if (type == DType.F32_AMX) {
            MemorySegment p = arena.allocate(CpuOps.packedF32AmxBytes(in, outDim), 64);
            CpuOps.packF32Amx(p, ws, in, outDim);
            return p;
        }
        return ws;
    }

    /** The load-time path packs F32 weights for AMX exactly when the AMX kernel is in use, else in panels. */
    @Test
    void batchedWeightsArePackedForTheKernelInUse() {
        try (Arena arena = Arena.ofConfined(); CpuBackend backend = CpuBackend.create(0)) {
            Tensor w = new Tensor("w", DType.F32, new long[] {40, 70}, floats(arena, random(new Random(3), 40 * 70, 1f)));
            assertSame(w, backend.weight(w, io.transfuse.backend.Backend.WeightUse.STREAMED), "streamed weights are read in place");
            for (CpuOps.Isa isa : supportedIsas()) {
                assertTrue(CpuOps.setIsa(isa));
                Tensor prepared = backend.weight(w, io.transfuse.backend.Backend.WeightUse.BATCHED);
                assertEquals(CpuOps.f32AmxEnabled() ? DType.F32_AMX : DType.F32_PANELS, prepared.dtype(), isa.toString());
                if (isa != CpuOps.Isa.AVX512) assertFalse(CpuOps.f32AmxEnabled(), isa + " must not use AMX tiles");
            }
        }
    }

    /**
     * Q8_0 and Q4_0 weights are repacked into 16-row groups exactly where the kernels prefer it (any use: one token
     * reads the same bytes), the repacked weight gives the unpacked one's results within the matmul bound, and
     * its rows read back as the same embedding rows.
     */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"Q8_0", "Q4_0"})
    void blockWeightsAreRepackedWhereTheKernelsPreferIt(DType type) {
        int outDim = 37, in = 96, tokens = 5;
        Random r = new Random(11);
        byte[] wb = randomWeights(r, type, outDim, in);
        float[] x = random(r, tokens * in, 1f);
        try (Arena arena = Arena.ofConfined(); CpuBackend backend = CpuBackend.create(0)) {
            Tensor w = new Tensor("w", type, new long[] {outDim, in}, bytes(arena, wb));
            for (CpuOps.Isa isa : supportedIsas()) {
                assertTrue(CpuOps.setIsa(isa));
                Tensor prepared = backend.weight(w, io.transfuse.backend.Backend.WeightUse.STREAMED);
                DType rows16 = CpuOps.rows16Type(type);
                assertEquals(rows16 != null ? rows16 : type, prepared.dtype(), isa.toString());
                if (isa != CpuOps.Isa.AVX512) assertNull(rows16, isa + " has no VNNI kernel");
                if (rows16 == null) continue;
                assertThrows(IllegalArgumentException.class, () -> prepared.rows(0, 16), "no row views of 16-row groups");
                MemorySegment xs = floats(arena, x), a = arena.allocate(4L * tokens * outDim), b = arena.allocate(4L * tokens * outDim);
                CpuOps.matmul(a, xs, w.data(), type, tokens, in, outDim);
                CpuOps.matmul(b, xs, prepared.data(), rows16, tokens, in, outDim);
                // both sum the same exact block products in float, in different orders: |w| <= 6.4, |x| <= 1
                assertArrayEquals(toFloats(a, tokens * outDim), toFloats(b, tokens * outDim), (float) (4 * (in + 4) * U * 6.4 * in));
                MemorySegment ids = arena.allocate(8), ea = arena.allocate(4L * 2 * in), eb = arena.allocate(4L * 2 * in);
                ids.setAtIndex(java.lang.foreign.ValueLayout.JAVA_INT, 0, outDim - 1);
                ids.setAtIndex(java.lang.foreign.ValueLayout.JAVA_INT, 1, 17);
                CpuOps.embedding(ea, w.data(), type, ids, 2, in);
                CpuOps.embedding(eb, prepared.data(), rows16, ids, 2, in);
                assertArrayEquals(toFloats(ea, 2 * in), toFloats(eb, 2 * in), 0f, "embedding rows of the repacked table");
            }
        }
    }

    @Test
    void supportsEveryIsaThisMachineHas() {
        assertEquals(CpuOps.bestIsa(), supportedIsas().get(supportedIsas().size() - 1));
        assertTrue(supportedIsas().contains(CpuOps.Isa.GENERIC));
    }
}
