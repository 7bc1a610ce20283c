package io.transfuse.quantize;

import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Dequantize;
import io.transfuse.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Locale;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The quantisers ({@link Quantize}) and the native dequantiser (Dequantize: the CPU embedding gather) against
 * a plain decoder written here from the ggml specification (ggml-common.h layouts, ggml-quants.c's
 * dequantize_row_* values), sharing no code with either:
 * <ul>
 *   <li>the native dequantiser decodes our blocks exactly as the plain decoder does (to f32 rounding:
 *       |diff| <= 4 ulp-sized terms, 2^-22 (|a| + |b|) for value = a - b);</li>
 *   <li>round trip: relative RMS error (rms(dequantised - x) / rms(x)) of normal(0, 1) data below a bound per
 *       type, measured here (values beside errorBound) and given 20% headroom; the K-quants' scale
 *       search must beat the plain range rule of the 32-blocks with the same bits (Q4_K below Q4_1,
 *       Q5_K below Q5_1), which is what the search is for.</li>
 * </ul>
 */
class QuantizeTest {
    static final int ROWS = 16, COLS = 1024;

    static float[] gaussian(long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            double u = 1.0 - r.nextDouble(), v = r.nextDouble();
            a[i] = (float) (Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
        }
        return a;
    }

    /** Relative RMS error bounds (measured values in comments, normal(0, 1) data, rows of 1024). */
    static double errorBound(DType t) {
        return switch (t) {
            case Q8_0 -> 0.0064; // measured 0.0053
            case Q6_K -> 0.021;  // measured 0.0175
            case Q5_0 -> 0.051;  // measured 0.0423
            case Q5_1 -> 0.046;  // measured 0.0382
            case Q5_K -> 0.044;  // measured 0.0360
            case Q4_0 -> 0.105;  // measured 0.0869
            case Q4_1 -> 0.095;  // measured 0.0788
            case Q4_K -> 0.088;  // measured 0.0728
            default -> throw new IllegalArgumentException(t.toString());
        };
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"})
    void roundTripMatchesPlainDecoderAndStaysWithinBound(DType type) {
        float[] x = gaussian(42 + type.ordinal(), ROWS * COLS);
        byte[] q = Quantize.quantize("test", type, x, COLS);
        assertEquals(type.bytesFor((long) ROWS * COLS), q.length);
        float[] nativeDq = nativeDequantize(type, q);
        double err = 0, ref = 0;
        for (int i = 0; i < x.length; i++) {
            double[] ab = PlainDecoder.element(type, q, i);
            double plain = ab[0] - ab[1];
            double tol = 0x1p-22 * (Math.abs(ab[0]) + Math.abs(ab[1]));
            if (Math.abs(nativeDq[i] - plain) > tol) {
                throw new AssertionError(type + " element " + i + ": native " + nativeDq[i] + ", plain decoder " + plain);
            }
            err += (plain - x[i]) * (plain - x[i]);
            ref += (double) x[i] * x[i];
        }
        double rel = Math.sqrt(err / ref);
        System.out.printf(Locale.ROOT, "%s: relative RMS error %.4f%n", type, rel);
        assertTrue(rel <= errorBound(type), type + ": relative RMS error " + rel + " > " + errorBound(type));
    }

    @Test
    void kQuantSearchBeatsTheRangeRule() {
        float[] x = gaussian(7, ROWS * COLS);
        assertTrue(rmsError(DType.Q4_K, x) < rmsError(DType.Q4_1, x), "Q4_K should beat Q4_1");
        assertTrue(rmsError(DType.Q5_K, x) < rmsError(DType.Q5_1, x), "Q5_K should beat Q5_1");
    }

    @Test
    void constantAndZeroBlocksDecodeExactly() {
        for (DType t : new DType[] {DType.Q8_0, DType.Q4_0, DType.Q4_1, DType.Q5_0, DType.Q5_1, DType.Q4_K, DType.Q5_K, DType.Q6_K}) {
            float[] zeros = new float[512];
            byte[] q = Quantize.quantize("zeros", t, zeros, 512);
            for (int i = 0; i < 512; i++) {
                double[] ab = PlainDecoder.element(t, q, i);
                assertEquals(0.0, ab[0] - ab[1], 0.0, t + " zeros element " + i);
            }
        }
    }

    @Test
    void rowsOfPartialBlocksAreRefused() {
        var e = assertThrows(IllegalArgumentException.class, () -> Quantize.quantize("tensor 'x'", DType.Q4_K, new float[288 * 2], 288));
        assertTrue(e.getMessage().contains("tensor 'x'") && e.getMessage().contains("Q4_K"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Quantize.quantize("t", DType.F16, new float[32], 32));
    }

    static double rmsError(DType type, float[] x) {
        byte[] q = Quantize.quantize("test", type, x, COLS);
        double err = 0, ref = 0;
        for (int i = 0; i < x.length; i++) {
            double[] ab = PlainDecoder.element(type, q, i);
            double d = ab[0] - ab[1] - x[i];
            err += d * d;
            ref += (double) x[i] * x[i];
        }
        return Math.sqrt(err / ref);
    }

    static float[] nativeDequantize(DType type, byte[] q) {
        try (TrackedArena arena = new TrackedArena("test")) {
            MemorySegment seg = arena.allocate(q.length);
            MemorySegment.copy(q, 0, seg, ValueLayout.JAVA_BYTE, 0, q.length);
            return Dequantize.toFloats(new Tensor("w", type, new long[] {ROWS, COLS}, seg));
        }
    }
}
