package io.transfuse.tensor;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * A named, typed view of memory: a file's weight, or a backend's activation. {@code shape} is
 * row-major, outermost first: a linear layer's weight is {@code [out, in]} (GGUF lists dimensions the
 * other way round; loaders reverse them). The storage says where the bytes live (host or device); the
 * tensor does not own it.
 *
 * <p>The ops treat a tensor as a matrix of {@link #rows()} x {@link #cols()} (the last dimension is the
 * row). Views never copy: {@link #rows(long, long)} takes a range of rows, {@link #columns(long, long)}
 * a range of columns, whose rows are then {@link #rowStride()} elements apart (e.g. Q, K and V as
 * column blocks of one fused QKV output). Ops say which arguments may be such strided views.
 */
public final class Tensor {
    private final String name;
    private final DType dtype;
    private final long[] shape;
    private final Storage storage;
    private final long rowStride;

    /** A contiguous tensor over host memory. */
    public Tensor(String name, DType dtype, long[] shape, MemorySegment data) {
        this(name, dtype, shape, new HostStorage(data));
    }

    /** A contiguous tensor over {@code storage}. */
    public Tensor(String name, DType dtype, long[] shape, Storage storage) {
        this(name, dtype, shape, storage, shape.length == 0 ? 1 : shape[shape.length - 1]);
    }

    private Tensor(String name, DType dtype, long[] shape, Storage storage, long rowStride) {
        if (dtype == null || storage == null) throw new IllegalArgumentException("tensor '" + name + "' needs a dtype and storage");
        this.name = name;
        this.dtype = dtype;
        this.shape = shape.clone();
        this.storage = storage;
        this.rowStride = rowStride;
        for (long d : this.shape) {
            if (d < 0) throw new IllegalArgumentException("tensor '" + name + "' has a negative dimension: " + Arrays.toString(shape));
        }
        long need = span(dtype, this.shape, rowStride);
        if (storage.byteSize() < need) {
            throw new IllegalArgumentException("tensor '" + name + "' of " + dtype + Arrays.toString(shape)
                    + " needs " + need + " bytes but has " + storage.byteSize());
        }
    }

    public static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    public String name() { return name; }

    public DType dtype() { return dtype; }

    public long[] shape() { return shape.clone(); }

    public Storage storage() { return storage; }

    public long elementCount() { return elementCount(shape); }

    public int rank() { return shape.length; }

    public long dim(int i) { return shape[i]; }

    /** The length of a row: the last dimension (1 for a scalar). */
    public long cols() { return shape.length == 0 ? 1 : shape[shape.length - 1]; }

    /** Rows of {@link #cols()} elements: the product of all but the last dimension. */
    public long rows() {
        long n = 1;
        for (int i = 0; i < shape.length - 1; i++) n = Math.multiplyExact(n, shape[i]);
        return n;
    }

    /** Elements from one row's start to the next's ({@link #cols()} when contiguous). */
    public long rowStride() { return rowStride; }

    public boolean isContiguous() { return rowStride == cols() || rows() <= 1; }

    /** The host segment of the bytes this tensor spans; throws when it lives on a device. */
    public MemorySegment data() {
        if (storage instanceof HostStorage h) return h.segment();
        throw new IllegalStateException("tensor '" + name + "' lives in device memory (" + storage + "), not on the host");
    }

    /** Bytes from the first element to the end of the last row. */
    public long spanBytes() { return span(dtype, shape, rowStride); }

    private static long span(DType dtype, long[] shape, long rowStride) {
        long n = elementCount(shape), cols = shape.length == 0 ? 1 : shape[shape.length - 1];
        if (n == 0) return 0;
        long rows = n / cols;  // n > 0, so cols > 0
        return rowStride == cols || rows <= 1 ? dtype.bytesFor(n) : dtype.bytesFor((rows - 1) * rowStride + cols);
    }

    /** Rows {@code [first, first + count)} as a [count][cols] view. */
    public Tensor rows(long first, long count) {
        if (dtype.repacked()) throw new IllegalArgumentException("tensor " + describe() + ": no row views of a repacked weight");
        long cols = cols();
        if (first < 0 || count < 0 || first + count > rows()) {
            throw new IndexOutOfBoundsException("rows [" + first + ", " + (first + count) + ") of tensor " + describe());
        }
        long[] s = {count, cols};
        return new Tensor(name, dtype, s, storage.slice(dtype.bytesFor(first * rowStride), span(dtype, s, rowStride)), rowStride);
    }

    /** Row {@code i} as a [1][cols] view. */
    public Tensor row(long i) { return rows(i, 1); }

    /** Columns {@code [first, first + count)} of every row, as a [rows][count] view with this tensor's row stride. */
    public Tensor columns(long first, long count) {
        if (first < 0 || count < 0 || first + count > cols()) {
            throw new IndexOutOfBoundsException("columns [" + first + ", " + (first + count) + ") of tensor " + describe());
        }
        if (dtype.quantized() || dtype.repacked()) {
            throw new IllegalArgumentException("tensor " + describe() + ": no column views of a block-quantised or repacked type");
        }
        long[] s = {rows(), count};
        return new Tensor(name, dtype, s, storage.slice(dtype.bytesFor(first), span(dtype, s, rowStride)), rowStride);
    }

    /** The same elements with another shape of equal element count; contiguous tensors only. */
    public Tensor reshape(long... newShape) {
        if (!isContiguous()) throw new IllegalArgumentException("tensor " + describe() + " is a strided view; it cannot be reshaped");
        if (elementCount(newShape) != elementCount()) {
            throw new IllegalArgumentException("tensor " + describe() + " cannot be reshaped to " + Arrays.toString(newShape));
        }
        return new Tensor(name, dtype, newShape, storage);
    }

    public String describe() {
        return "'" + name + "' " + dtype + Arrays.toString(shape) + (isContiguous() ? "" : " (row stride " + rowStride + ")");
    }

    @Override
    public String toString() { return describe(); }
}
