package io.transfuse.tensor;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * A named, typed view of native memory. {@code shape} is row-major, outermost first: a linear
 * layer's weight is {@code [out, in]} (GGUF lists dimensions the other way round; loaders reverse
 * them). The segment may be a slice of a memory-mapped file; the tensor does not own it.
 */
public record Tensor(String name, DType dtype, long[] shape, MemorySegment data) {

    public Tensor {
        shape = shape.clone();
        long need = dtype.bytesFor(elementCount(shape));
        if (data.byteSize() < need) {
            throw new IllegalArgumentException("tensor '" + name + "' of " + dtype + Arrays.toString(shape)
                    + " needs " + need + " bytes but has " + data.byteSize());
        }
    }

    public static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    public long elementCount() {
        return elementCount(shape);
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int i) {
        return shape[i];
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public String describe() {
        return "'" + name + "' " + dtype + Arrays.toString(shape);
    }
}
