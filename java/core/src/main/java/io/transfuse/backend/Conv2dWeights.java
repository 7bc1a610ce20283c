package io.transfuse.backend;

import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Dequantize;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Brings a stored convolution weight into the layout {@link Backend#conv2d} takes: PyTorch and Hugging Face
 * store {@code Conv2d.weight} as OIHW [out][in / groups][kh][kw]; conv2d reads OHWI [out][kh * kw * in / groups]
 * (the input channels innermost, matching NHWC pixels, so one output channel's taps are one GEMM row).
 */
public final class Conv2dWeights {
    private Conv2dWeights() {}

    /** The OIHW tensor {@code oihw} (rank 4, any stored type) as an F32 OHWI tensor [out][kh * kw * in/groups] in {@code arena}. */
    public static Tensor ohwi(Tensor oihw, TrackedArena arena) {
        if (oihw == null) throw new IllegalArgumentException("conv2d weight is null");
        if (oihw.rank() != 4) {
            throw new IllegalArgumentException("conv2d weight " + oihw.describe() + " must be rank 4 [out][in/groups][kh][kw] (OIHW)");
        }
        int out = Math.toIntExact(oihw.dim(0)), in = Math.toIntExact(oihw.dim(1));
        int kh = Math.toIntExact(oihw.dim(2)), kw = Math.toIntExact(oihw.dim(3));
        MemorySegment src = Dequantize.toF32(oihw, arena);
        MemorySegment dst = arena.allocateFloats(oihw.elementCount());
        for (int o = 0; o < out; o++)
            for (int c = 0; c < in; c++)
                for (int y = 0; y < kh; y++)
                    for (int x = 0; x < kw; x++) {
                        float v = src.getAtIndex(ValueLayout.JAVA_FLOAT, (((long) o * in + c) * kh + y) * kw + x);
                        dst.setAtIndex(ValueLayout.JAVA_FLOAT, (((long) o * kh + y) * kw + x) * in + c, v);
                    }
        return new Tensor(oihw.name(), DType.F32, new long[] {out, (long) kh * kw * in}, dst);
    }
}
