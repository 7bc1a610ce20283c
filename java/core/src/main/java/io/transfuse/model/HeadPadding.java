package io.transfuse.model;

import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Dequantize;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.MemorySegment;

/**
 * Zero-pads attention heads from a model's head dim d to the head dim D a backend's attention runs at
 * ({@link io.transfuse.backend.Backend#attentionHeadDim}; the CUDA kernels exist for a few head dims, so
 * stories260K's 8 and stories15M's 48 run as 64). Q, K and V projections get zero output rows d..D-1 in
 * every head (and zero biases there), the output projection zero input columns: q, k and v then carry
 * zeros in the padding, so the scores q.k are unchanged (the softmax scale stays 1/sqrt(d)), the padded
 * output lanes are zero and the output projection ignores them; RoPE rotates only the first d lanes
 * (rotary dim d). The cost is D/d more attention and Q/K/V/O work, which matters only for toy models.
 * Padded copies are F32 in {@code arena} (the backend converts them on upload).
 */
public final class HeadPadding {
    private HeadPadding() {}

    /** [heads * d][in] -> [heads * D][in]: row h*d + i moves to h*D + i. */
    public static Tensor rows(Tensor w, int heads, int d, int D, TrackedArena arena) {
        long in = w.cols();
        check(w, heads, d, D, w.rows());
        MemorySegment out = arena.allocateFloats((long) heads * D * in);
        Dequantize.forEachRow(w, (r, row) -> MemorySegment.copy(row, 0, out, ((r / d) * D + r % d) * in * Float.BYTES, in * Float.BYTES));
        return new Tensor(w.name() + " (heads padded to " + D + ")", DType.F32, new long[] {(long) heads * D, in}, out);
    }

    /** [out][heads * d] -> [out][heads * D]: column h*d + i moves to h*D + i. */
    public static Tensor columns(Tensor w, int heads, int d, int D, TrackedArena arena) {
        long outDim = w.rows(), width = (long) heads * D;
        check(w, heads, d, D, w.cols());
        MemorySegment out = arena.allocateFloats(outDim * width);
        Dequantize.forEachRow(w, (r, row) -> {
            for (int h = 0; h < heads; h++) {
                MemorySegment.copy(row, (long) h * d * Float.BYTES, out, (r * width + (long) h * D) * Float.BYTES, (long) d * Float.BYTES);
            }
        });
        return new Tensor(w.name() + " (heads padded to " + D + ")", DType.F32, new long[] {outDim, width}, out);
    }

    /** A bias [heads * d] -> [heads * D]. */
    public static Tensor vector(Tensor b, int heads, int d, int D, TrackedArena arena) {
        return rows(b.reshape(b.elementCount(), 1), heads, d, D, arena).reshape((long) heads * D);
    }

    private static void check(Tensor w, int heads, int d, int D, long width) {
        if (D < d || width != (long) heads * d) {
            throw new IllegalArgumentException("tensor " + w.describe() + ": cannot pad " + heads + " heads of " + d + " to " + D);
        }
    }
}
