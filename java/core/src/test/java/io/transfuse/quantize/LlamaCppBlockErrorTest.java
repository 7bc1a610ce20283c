package io.transfuse.quantize;

import io.transfuse.loader.GgufFile;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Dequantize;
import io.transfuse.tensor.Tensor;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Our quantizer's blocks against llama.cpp's, tensor by tensor, on the files llama.cpp quantised itself
 * (resources/llamacpp/quantized: Q4_K and Q6_K blocks in llama3-micro Q4_K_M, Q6_K in llama3-micro Q6_K, Q5_K and
 * Q6_K in gemma2-micro Q5_K_M) and the F32 source they came from (make-model, seed 1, written again here).
 *
 * <p>For every quantised tensor: (a) Transfuse's reader of llama.cpp's blocks (Dequantize, the native kernels)
 * gives what {@link PlainDecoder}, written from the ggml specification and independent of it, gives, to float
 * rounding (1e-6 of the two products' magnitudes): a block layout read wrong fails here by whole units; (b) both
 * dequantised blocks are close to the F32 source: relative RMS error (RMS of the error over RMS of the source)
 * within {@link QuantizeTest#errorBound}, the bounds our quantizer meets on N(0, 1) data (llama.cpp's blocks are
 * decoded with the same decoder, so a misread would show as an error of order 1); (c) ours is no worse than
 * llama.cpp's by more than {@value #FACTOR}x. Both quantizers search the scales per sub-block; without an importance
 * matrix llama.cpp uses its reference quantizers (quantize_row_*_ref). Measured ratio ours / llama.cpp's (AMD EPYC
 * Zen 5): printed per file and type.
 */
class LlamaCppBlockErrorTest {
    /** How much worse than llama.cpp's error ours may be, per tensor. */
    static final double FACTOR = 1.05;

    @TempDir
    static Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"llama3-micro-q4_k_m", "llama3-micro-q6_k", "gemma2-micro-q5_k_m"})
    void ourBlocksAreAsCloseToTheSourceAsLlamaCpps(String name) {
        Path theirs = LlamaCppQuantizedFixtures.gguf(name, dir), source = LlamaCppQuantizedFixtures.f32Source(name, dir);
        try (TrackedArena arena = new TrackedArena("block comparison " + name)) {
            Map<String, Tensor> llama = GgufFile.open(theirs, arena).tensors(), f32 = GgufFile.open(source, arena).tensors();
            int tensors = 0;
            for (Tensor t : llama.values()) {
                if (!t.dtype().quantized()) continue;
                Tensor s = f32.get(t.name());
                assertTrue(s != null && s.dtype() == DType.F32, name + ": no F32 source of tensor " + t.name());
                float[] x = Dequantize.toFloats(s);
                byte[] theirBytes = t.data().toArray(ValueLayout.JAVA_BYTE);
                byte[] ourBytes = Quantize.quantize(t.name(), t.dtype(), x, t.cols());

                float[] read = Dequantize.toFloats(t);
                double readError = 0;
                for (int i = 0; i < x.length; i++) {
                    double[] ab = PlainDecoder.element(t.dtype(), theirBytes, i);
                    readError = Math.max(readError, Math.abs(read[i] - (ab[0] - ab[1])) / (Math.abs(ab[0]) + Math.abs(ab[1]) + 1e-30));
                }
                assertTrue(readError <= 1e-6, name + ": tensor " + t.name() + " (" + t.dtype() + "): Transfuse reads llama.cpp's blocks "
                        + "otherwise than the ggml specification says (relative difference " + readError + ")");

                double ours = rmsError(t.dtype(), ourBytes, x), llamas = rmsError(t.dtype(), theirBytes, x);
                double bound = QuantizeTest.errorBound(t.dtype());
                int identical = identicalBlocks(t.dtype(), ourBytes, theirBytes);
                System.out.printf(Locale.ROOT, "%s %s (%s): relative RMS error ours %.5f, llama.cpp %.5f, ratio %.3f; %d of %d blocks byte-identical%n",
                        name, t.name(), t.dtype(), ours, llamas, ours / llamas, identical, ourBytes.length / t.dtype().blockBytes());
                assertTrue(llamas <= bound, name + ": " + t.name() + " (" + t.dtype() + "): llama.cpp's blocks, as we decode them, are "
                        + llamas + " from the source (bound " + bound + ")");
                assertTrue(ours <= bound, name + ": " + t.name() + " (" + t.dtype() + "): our blocks are " + ours + " from the source (bound " + bound + ")");
                assertTrue(ours <= FACTOR * llamas, String.format(Locale.ROOT, "%s: %s (%s): our relative RMS error %.5f is more than %.2fx llama.cpp's %.5f",
                        name, t.name(), t.dtype(), ours, FACTOR, llamas));
                tensors++;
            }
            assertTrue(tensors >= 7, name + ": only " + tensors + " quantised tensors");
        }
    }

    static double rmsError(DType type, byte[] blocks, float[] x) {
        double err = 0, ref = 0;
        for (int i = 0; i < x.length; i++) {
            double[] ab = PlainDecoder.element(type, blocks, i);
            double d = ab[0] - ab[1] - x[i];
            err += d * d;
            ref += (double) x[i] * x[i];
        }
        return Math.sqrt(err / ref);
    }

    static int identicalBlocks(DType type, byte[] a, byte[] b) {
        int bb = type.blockBytes(), n = 0;
        for (int i = 0; i + bb <= a.length; i += bb) if (java.util.Arrays.equals(a, i, i + bb, b, i, i + bb)) n++;
        return n;
    }
}
