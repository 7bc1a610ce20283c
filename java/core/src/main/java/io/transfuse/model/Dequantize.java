package io.transfuse.model;

import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Converts small tensors (norm weights) to F32 at load; large ones stay in their file type. */
public final class Dequantize {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Dequantize() {}

    public static MemorySegment toF32(Tensor t, TrackedArena arena) {
        long n = t.elementCount();
        MemorySegment out = arena.allocateFloats(n);
        MemorySegment in = t.data();
        for (long i = 0; i < n; i++) {
            float v = switch (t.dtype()) {
                case F32 -> in.getAtIndex(F32, i);
                case F16 -> Float.float16ToFloat(in.getAtIndex(U16, i));
                case BF16 -> Float.intBitsToFloat((in.getAtIndex(U16, i) & 0xffff) << 16);
                default -> throw new IllegalArgumentException("tensor " + t.describe() + ": expected a float type for a norm weight");
            };
            out.setAtIndex(ValueLayout.JAVA_FLOAT, i, v);
        }
        return out;
    }
}
