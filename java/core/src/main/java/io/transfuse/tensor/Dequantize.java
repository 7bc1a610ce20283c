package io.transfuse.tensor;

import io.transfuse.backend.cpu.CpuOps;
import io.transfuse.memory.TrackedArena;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Widens host tensors of any stored type (F32, F16, BF16 and the ggml block types of {@link DType}) to F32, at load: small parameters
 * (norm weights, biases), and weights a backend converts or rearranges (a GPU's upload, head padding).
 * Rows are widened by the CPU's embedding gather, the one dequantiser Transfuse has (tf_cpu_embedding).
 */
public final class Dequantize {
    private static final int ROWS_PER_CHUNK = 256;

    private Dequantize() {}

    /** Consumer of one widened row. */
    @FunctionalInterface
    public interface RowSink {
        void row(long index, MemorySegment f32Row);
    }

    /** Widens every row of {@code t} (as a [rows][cols] matrix, contiguous, on the host) to F32 and passes it to {@code sink}. */
    public static void forEachRow(Tensor t, RowSink sink) {
        long rows = t.rows();
        int cols = Math.toIntExact(t.cols());
        if (!t.isContiguous()) throw new IllegalArgumentException("tensor " + t.describe() + " is a strided view");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ids = arena.allocate((long) ROWS_PER_CHUNK * Integer.BYTES, 64);
            MemorySegment out = arena.allocate((long) ROWS_PER_CHUNK * cols * Float.BYTES, 64);
            for (long r0 = 0; r0 < rows; r0 += ROWS_PER_CHUNK) {
                int n = (int) Math.min(ROWS_PER_CHUNK, rows - r0);
                MemorySegment table = t.rows(r0, n).data();
                for (int i = 0; i < n; i++) ids.setAtIndex(ValueLayout.JAVA_INT, i, i);
                CpuOps.embedding(out, table, t.dtype(), ids, n, cols);
                for (int i = 0; i < n; i++) sink.row(r0 + i, out.asSlice((long) i * cols * Float.BYTES, (long) cols * Float.BYTES));
            }
        }
    }

    /** {@code t} as F32 in a new segment of {@code arena}. */
    public static MemorySegment toF32(Tensor t, TrackedArena arena) {
        long cols = t.cols();
        MemorySegment out = arena.allocateFloats(t.elementCount());
        if (t.dtype() == DType.F32 && t.isContiguous()) {
            MemorySegment.copy(t.data(), 0, out, 0, out.byteSize());
            return out;
        }
        forEachRow(t, (r, row) -> MemorySegment.copy(row, 0, out, r * cols * Float.BYTES, cols * Float.BYTES));
        return out;
    }

    /** {@code t} as an F32 tensor of the same shape in {@code arena}. */
    public static Tensor toF32Tensor(Tensor t, TrackedArena arena) {
        return new Tensor(t.name(), DType.F32, t.shape(), toF32(t, arena));
    }

    /** {@code t} as a float array (small tensors: parameters, tables computed at load). */
    public static float[] toFloats(Tensor t) {
        try (TrackedArena a = new TrackedArena("widening " + t.name())) {
            return toF32(t, a).toArray(ValueLayout.JAVA_FLOAT);
        }
    }
}
