package io.transfuse.jmh;

import io.transfuse.tensor.DType;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

/**
 * Random operands for the op benchmarks, in native memory: floats in [-1, 1] and weight matrices
 * in the GGML layouts (F32, F16, Q8_0: f16 scale + 32 int8, Q4_0: f16 scale + 16 bytes of nibbles).
 * Values only need to be finite and typical; the kernels' correctness is tested elsewhere.
 */
final class OpData {
    private OpData() {}

    static MemorySegment floats(Arena arena, long n, long seed) {
        Random r = new Random(seed);
        MemorySegment s = arena.allocate(n * 4, 64);
        for (long i = 0; i < n; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, r.nextFloat() * 2 - 1);
        return s;
    }

    /** A [rows][cols] weight matrix of the given type (cols % 32 == 0 for the quantised types). */
    static MemorySegment weights(Arena arena, DType type, int rows, int cols, long seed) {
        Random r = new Random(seed);
        long bytes = (long) rows * type.bytesFor(cols);
        MemorySegment s = arena.allocate(bytes, 64);
        switch (type) {
            case F32 -> {
                for (long i = 0; i < (long) rows * cols; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (r.nextFloat() * 2 - 1) * 0.05f);
            }
            case F16 -> {
                for (long i = 0; i < (long) rows * cols; i++)
                    s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, Float.floatToFloat16((r.nextFloat() * 2 - 1) * 0.05f));
            }
            case Q8_0, Q4_0 -> {
                byte[] raw = new byte[(int) Math.min(bytes, Integer.MAX_VALUE)];
                r.nextBytes(raw);
                MemorySegment.copy(raw, 0, s, ValueLayout.JAVA_BYTE, 0, raw.length);
                int blockBytes = type.blockBytes();
                short scale = Float.floatToFloat16(type == DType.Q8_0 ? 0.0005f : 0.005f);
                for (long b = 0; b < bytes / blockBytes; b++) s.set(ValueLayout.JAVA_SHORT_UNALIGNED, b * blockBytes, scale);
            }
            default -> throw new IllegalArgumentException("no benchmark weights for " + type);
        }
        return s;
    }
}
