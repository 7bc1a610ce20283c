package io.transfuse.cuda.llama;

import io.transfuse.backend.cpu.CpuOps;
import io.transfuse.cuda.runtime.ElemType;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Host-side conversion of weight tensors, whatever the file stores (F32, F16, BF16, Q8_0, Q4_0), to
 * the GPU's element type. Rows are widened to F32 by the CPU backend's embedding gather (the one
 * dequantiser Transfuse has, tf_cpu_embedding), then rounded to nearest even. Public: the Mamba graph
 * (io.transfuse.cuda.mamba) and the encoders (io.transfuse.cuda.encoder) upload their weights through it too.
 */
public final class HalfConvert {
    private static final int ROWS_PER_CHUNK = 256;

    private HalfConvert() {}

    /** Consumer of one widened row. */
    @FunctionalInterface
    public interface RowSink {
        void row(int index, MemorySegment f32Row);
    }

    /** Widens every row of the [rows][cols] tensor {@code t} to F32 and passes it to {@code sink}. */
    public static void forEachRow(Tensor t, int rows, int cols, RowSink sink) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ids = arena.allocate((long) ROWS_PER_CHUNK * Integer.BYTES, 64);
            MemorySegment out = arena.allocate((long) ROWS_PER_CHUNK * cols * Float.BYTES, 64);
            for (int r0 = 0; r0 < rows; r0 += ROWS_PER_CHUNK) {
                int n = Math.min(ROWS_PER_CHUNK, rows - r0);
                for (int i = 0; i < n; i++) ids.setAtIndex(ValueLayout.JAVA_INT, i, r0 + i);
                CpuOps.embedding(out, t.data(), t.dtype(), ids, n, cols);
                for (int i = 0; i < n; i++) sink.row(r0 + i, out.asSlice((long) i * cols * Float.BYTES, (long) cols * Float.BYTES));
            }
        }
    }

    /** Stores {@code v} at element {@code index} of {@code dst} as {@code type}. */
    public static void put(MemorySegment dst, long index, float v, ElemType type) {
        switch (type) {
            case F32 -> dst.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, index, v);
            case F16 -> dst.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, index, Float.floatToFloat16(v));
            case BF16 -> dst.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, index, toBf16(v));
        }
    }

    /** Reads element {@code index} of {@code src} of {@code type} as a float. */
    public static float get(MemorySegment src, long index, ElemType type) {
        return switch (type) {
            case F32 -> src.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, index);
            case F16 -> Float.float16ToFloat(src.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, index));
            case BF16 -> Float.intBitsToFloat((src.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, index) & 0xffff) << 16);
        };
    }

    /** bfloat16 bits of {@code v}, rounded to nearest even (NaN stays a quiet NaN). */
    public static short toBf16(float v) {
        int bits = Float.floatToRawIntBits(v);
        if (Float.isNaN(v)) return (short) ((bits >>> 16) | 0x40);
        return (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
    }
}
