package io.transfuse.cuda.runtime;

import io.transfuse.tensor.DType;

import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.cuda.memory.DeviceBuffer;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * tf_emu_gemm (the cuda-emu GEMM) against a plain-Java double-precision reference written from
 * cuBLAS's definition: column-major, every transpose combination, leading dimensions larger than the
 * rows, alpha and beta, strided batches, fp16/bf16 inputs with f32/f16 outputs.
 *
 * <p>Tolerance: inputs are exact in both (the reference reads the same rounded values); the emulator
 * accumulates in fp32, so |error| <= k * 2^-24 * sum|a b| (about 1e-5 here); an f16 output adds half
 * an ulp (2^-11 relative).
 */
public class GemmTest {
    @Test
    void allTransposeCombinationsAndLeadingDimensions() {
        allCases(new EmulatedRuntime());
    }

    /** Every case on {@code rt} (the GPU-only test runs them through cuBLAS). */
    public static void allCases(GpuRuntime rt) {
        for (boolean ta : new boolean[] {false, true}) {
            for (boolean tb : new boolean[] {false, true}) {
                check(rt, ta, tb, 13, 7, 33, 5, 3, 2, 1.5f, 0f, DType.F16, DType.F32, 1);
                check(rt, ta, tb, 16, 1, 64, 0, 0, 0, 1f, 0.5f, DType.BF16, DType.F32, 1);
                check(rt, ta, tb, 9, 11, 20, 1, 4, 3, -0.75f, 2f, DType.F16, DType.F16, 3);
            }
        }
    }

    @Test
    void invalidLeadingDimensionIsRejectedBeforeTheDowncall() {
        assertThrows(IllegalArgumentException.class, () -> new Gemm(false, false, 8, 4, 4, 1f, 64, DType.F16, 7, 0, 64,
                DType.F16, 4, 0, 0f, 64, DType.F32, 8, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new Gemm(true, false, 8, 4, 16, 1f, 64, DType.F16, 8, 0, 64,
                DType.F16, 16, 0, 0f, 64, DType.F32, 8, 0, 1));
    }

    /** One GEMM with leading dimensions padded by padA/padB/padC and {@code batch} strided entries. */
    private static void check(GpuRuntime rt, boolean ta, boolean tb, int m, int n, int k, int padA, int padB, int padC, float alpha, float beta,
                              DType in, DType out, int batch) {
        int aRows = ta ? k : m, aCols = ta ? m : k, bRows = tb ? n : k, bCols = tb ? k : n;
        int lda = aRows + padA, ldb = bRows + padB, ldc = m + padC;
        long strideA = (long) lda * aCols + 3, strideB = (long) ldb * bCols + 5, strideC = (long) ldc * n + 1;
        long aLen = strideA * batch, bLen = strideB * batch, cLen = strideC * batch;
        try (DeviceArena arena = new DeviceArena(rt, "gemm test"); Arena host = Arena.ofConfined()) {
            MemorySegment ha = random(host, aLen, in, 11), hb = random(host, bLen, in, 12), hc = random(host, cLen, out, 13);
            DeviceBuffer a = arena.allocate("A", ha.byteSize()), b = arena.allocate("B", hb.byteSize()), c = arena.allocate("C", hc.byteSize());
            GpuStream s = rt.defaultStream();
            rt.copyHostToDevice(s, ha, a.address(), ha.byteSize());
            rt.copyHostToDevice(s, hb, b.address(), hb.byteSize());
            rt.copyHostToDevice(s, hc, c.address(), hc.byteSize());
            rt.gemm(s, new Gemm(ta, tb, m, n, k, alpha, a.address(), in, lda, strideA, b.address(), in, ldb, strideB, beta,
                    c.address(), out, ldc, strideC, batch));
            MemorySegment got = host.allocate(hc.byteSize());
            rt.copyDeviceToHost(s, c.address(), got, hc.byteSize());
            for (int e = 0; e < batch; e++) {
                for (int j = 0; j < n; j++) {
                    for (int i = 0; i < ldc; i++) {
                        long ci = e * strideC + i + (long) j * ldc;
                        float old = get(hc, ci, out);
                        if (i >= m) { // padding rows of C are never written
                            assertEquals(old, get(got, ci, out), "padding of C changed");
                            continue;
                        }
                        double sum = 0, mag = 0;
                        for (int p = 0; p < k; p++) {
                            double av = get(ha, e * strideA + (ta ? p + (long) i * lda : i + (long) p * lda), in);
                            double bv = get(hb, e * strideB + (tb ? j + (long) p * ldb : p + (long) j * ldb), in);
                            sum += av * bv;
                            mag += Math.abs(av * bv);
                        }
                        double want = alpha * sum + (beta != 0 ? beta * old : 0);
                        double tol = 1e-5 * (1 + Math.abs(alpha) * mag) + (out == DType.F16 ? Math.abs(want) * 1e-3 : 0);
                        assertEquals(want, get(got, ci, out), tol, "ta=" + ta + " tb=" + tb + " batch " + e + " C[" + i + "," + j + "]");
                    }
                }
            }
        }
    }

    static MemorySegment random(Arena host, long n, DType t, long seed) {
        Random r = new Random(seed);
        MemorySegment s = host.allocate(n * t.elementBytes(), 16);
        for (long i = 0; i < n; i++) {
            float v = (float) r.nextGaussian();
            switch (t) {
                case F32 -> s.setAtIndex(ValueLayout.JAVA_FLOAT, i, v);
                case F16 -> s.setAtIndex(ValueLayout.JAVA_SHORT, i, Float.floatToFloat16(v));
                case BF16 -> s.setAtIndex(ValueLayout.JAVA_SHORT, i, (short) (Float.floatToRawIntBits(v) >>> 16));
            }
        }
        return s;
    }

    static MemorySegment randomHalf(Arena host, long n, long seed) {
        return random(host, n, DType.F16, seed);
    }

    static float get(MemorySegment s, long i, DType t) {
        return switch (t) {
            case F32 -> s.getAtIndex(ValueLayout.JAVA_FLOAT, i);
            case F16 -> Float.float16ToFloat(s.getAtIndex(ValueLayout.JAVA_SHORT, i));
            case BF16 -> Float.intBitsToFloat((s.getAtIndex(ValueLayout.JAVA_SHORT, i) & 0xffff) << 16);
            default -> throw new IllegalArgumentException(t.toString());
        };
    }
}
