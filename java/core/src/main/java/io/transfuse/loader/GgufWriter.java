package io.transfuse.loader;

import io.transfuse.quantize.Quantize;
import io.transfuse.tensor.DType;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Writes a GGUF v3 file: header, metadata, tensor infos, data at alignment 32. Tensors are F32,
 * F16 or a ggml block type, quantised from the given floats by {@link Quantize} (Q8_0: per block of 32, an
 * f16 scale d = max|x|/127, then 32 int8 round(x/d); Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K).
 *
 * <p>Metadata values: Integer (uint32), Long (int64), Float (float32), Double (float64), Boolean,
 * String, and arrays String[], int[] (int32), long[] (int64), float[] (float32), double[] (float64),
 * boolean[]. The file is written to a temporary sibling and moved into place, so a failure never
 * leaves a half-written file at {@code path}.
 */
public final class GgufWriter {
    private static final int ALIGNMENT = 32;

    private record Pending(String name, DType type, long[] shape, long count, Supplier<float[]> values) {}

    private final Map<String, Object> metadata = new LinkedHashMap<>();
    /** Metadata entries copied verbatim from another GGUF file (GgufRawMetadata), written after {@link #metadata}. */
    private final List<byte[]> rawEntries = new ArrayList<>();
    private final List<Pending> tensors = new ArrayList<>();

    public GgufWriter put(String key, Object value) {
        checkValue(key, value);
        metadata.put(key, value);
        return this;
    }

    /**
     * Adds one metadata entry as its encoded bytes (key, value type, value: GGUF's own encoding), so that a
     * file can be rewritten with every value keeping its exact GGUF type.
     */
    public GgufWriter putRaw(byte[] entry) {
        rawEntries.add(entry.clone());
        return this;
    }

    /** Adds a tensor; {@code shape} is outermost first (rows, columns), {@code values} row-major. */
    public GgufWriter addTensor(String name, DType type, long[] shape, float[] values) {
        long n = 1;
        for (long d : shape) n *= d;
        if (n != values.length) throw new IllegalArgumentException("tensor '" + name + "': " + values.length + " values for shape of " + n);
        return addTensor(name, type, shape, () -> values);
    }

    /**
     * Adds a tensor whose values are produced only when the file is written (so a large model is
     * never held in memory at once); the supplier must return exactly the shape's element count.
     */
    public GgufWriter addTensor(String name, DType type, long[] shape, Supplier<float[]> values) {
        if (type != DType.F32 && type != DType.F16 && !Quantize.supports(type)) {
            throw new IllegalArgumentException("tensor '" + name + "': GgufWriter writes F32, F16 and the ggml block types "
                    + "Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, not " + type);
        }
        long n = 1;
        for (long d : shape) {
            if (d <= 0) throw new IllegalArgumentException("tensor '" + name + "' has dimension " + d);
            n *= d;
        }
        if (shape[shape.length - 1] % type.blockSize() != 0) {
            throw new IllegalArgumentException("tensor '" + name + "': row of " + shape[shape.length - 1]
                    + " elements is not a whole number of " + type + " blocks of " + type.blockSize());
        }
        for (Pending p : tensors) if (p.name.equals(name)) throw new IllegalArgumentException("tensor '" + name + "' added twice");
        tensors.add(new Pending(name, type, shape.clone(), n, values));
        return this;
    }

    /** Writes the file (temporary file, then an atomic move onto {@code path}). */
    public void write(Path path) {
        write(path, message -> { });
    }

    /** As {@link #write(Path)}, reporting each tensor written to {@code progress}. */
    public void write(Path path, Consumer<String> progress) {
        AtomicFile.write(path, raw -> {
            try (Out out = new Out(raw)) {
                out.i32(0x46554747);
                out.i32(3);
                out.i64(tensors.size());
                out.i64(metadata.size() + rawEntries.size());
                for (var e : metadata.entrySet()) {
                    out.string(e.getKey());
                    writeValue(out, e.getValue());
                }
                for (byte[] entry : rawEntries) for (byte b : entry) out.u8(b);
                long offset = 0;
                for (Pending t : tensors) {
                    out.string(t.name);
                    out.i32(t.shape.length);
                    for (int d = t.shape.length - 1; d >= 0; d--) out.i64(t.shape[d]);
                    out.i32(t.type.ggmlType());
                    out.i64(offset);
                    offset = align(offset + t.type.bytesFor(t.count));
                }
                out.pad();
                int done = 0;
                for (Pending t : tensors) {
                    float[] v = t.values.get();
                    if (v.length != t.count) throw new IllegalStateException("tensor '" + t.name + "': " + v.length + " values for " + t.count + " elements");
                    writeData(out, t, v);
                    out.pad();
                    progress.accept("tensor " + (++done) + "/" + tensors.size() + " " + t.name);
                }
            }
        });
    }

    private static long align(long x) { return (x + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT; }

    private static void writeData(Out out, Pending t, float[] v) throws IOException {
        switch (t.type) {
            case F32 -> { for (float x : v) out.i32(Float.floatToRawIntBits(x)); }
            case F16 -> { for (float x : v) out.i16(Float.floatToFloat16(x)); }
            default -> { for (byte b : Quantize.quantize("tensor '" + t.name + "'", t.type, v, t.shape[t.shape.length - 1])) out.u8(b); }
        }
    }

    private static void checkValue(String key, Object v) {
        if (!(v instanceof Integer || v instanceof Long || v instanceof Float || v instanceof Double || v instanceof Boolean
                || v instanceof String || v instanceof String[] || v instanceof int[] || v instanceof long[]
                || v instanceof float[] || v instanceof double[] || v instanceof boolean[])) {
            throw new IllegalArgumentException("metadata '" + key + "': unsupported value type "
                    + (v == null ? "null" : v.getClass().getSimpleName()));
        }
    }

    private static void writeValue(Out out, Object v) throws IOException {
        switch (v) {
            case Integer i -> { out.i32(4); out.i32(i); }
            case Long l -> { out.i32(11); out.i64(l); }
            case Float f -> { out.i32(6); out.i32(Float.floatToRawIntBits(f)); }
            case Double d -> { out.i32(12); out.i64(Double.doubleToRawLongBits(d)); }
            case Boolean b -> { out.i32(7); out.u8(b ? 1 : 0); }
            case String s -> { out.i32(8); out.string(s); }
            case String[] a -> { out.i32(9); out.i32(8); out.i64(a.length); for (String s : a) out.string(s); }
            case int[] a -> { out.i32(9); out.i32(5); out.i64(a.length); for (int x : a) out.i32(x); }
            case long[] a -> { out.i32(9); out.i32(11); out.i64(a.length); for (long x : a) out.i64(x); }
            case float[] a -> { out.i32(9); out.i32(6); out.i64(a.length); for (float x : a) out.i32(Float.floatToRawIntBits(x)); }
            case double[] a -> { out.i32(9); out.i32(12); out.i64(a.length); for (double x : a) out.i64(Double.doubleToRawLongBits(x)); }
            case boolean[] a -> { out.i32(9); out.i32(7); out.i64(a.length); for (boolean x : a) out.u8(x ? 1 : 0); }
            default -> throw new IllegalArgumentException("unsupported metadata value " + v.getClass());
        }
    }

    /** Little-endian output with its own buffer; tracks its position (for alignment padding). */
    private static final class Out implements AutoCloseable {
        private final OutputStream out;
        private final byte[] buf = new byte[1 << 20];
        private int n;
        private long position;

        Out(OutputStream out) { this.out = out; }

        void u8(int v) throws IOException {
            if (n == buf.length) flush();
            buf[n++] = (byte) v;
            position++;
        }

        void i16(int v) throws IOException { u8(v); u8(v >>> 8); }

        void i32(int v) throws IOException { i16(v); i16(v >>> 16); }

        void i64(long v) throws IOException { i32((int) v); i32((int) (v >>> 32)); }

        void string(String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            i64(b.length);
            for (byte x : b) u8(x);
        }

        void pad() throws IOException { while (position % ALIGNMENT != 0) u8(0); }

        private void flush() throws IOException {
            out.write(buf, 0, n);
            n = 0;
        }

        @Override
        public void close() throws IOException {
            flush();
            out.close();
        }
    }
}
