package io.transfuse.loader;

import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A GGUF file (v2 and v3), memory-mapped. Layout per the GGUF specification (ggml docs/gguf.md):
 * magic "GGUF", u32 version, u64 tensor count, u64 metadata count, metadata key/values, tensor
 * infos (name, n_dims, dims innermost first, ggml type, offset relative to the data section), then
 * the data section at the next multiple of {@code general.alignment} (default 32).
 *
 * <p>Metadata values are stored as Long (integers), Double (floats), Boolean, String, or arrays:
 * String[], long[], double[], boolean[] (nested arrays as Object[]).
 * Every offset and size read from the file is checked against the file before use.
 */
public final class GgufFile implements WeightFile {
    private static final int MAGIC = 0x46554747; // "GGUF" little-endian
    private static final long MAX_DIMS = 8;

    private final Path path;
    private final Map<String, Object> metadata;
    private final Map<String, Tensor> tensors;

    private GgufFile(Path path, Map<String, Object> metadata, Map<String, Tensor> tensors) {
        this.path = path;
        this.metadata = Collections.unmodifiableMap(metadata);
        this.tensors = Collections.unmodifiableMap(tensors);
    }

    /** Maps and parses {@code path}; the mapping belongs to {@code arena}. */
    public static GgufFile open(Path path, TrackedArena arena) {
        MemorySegment data = Mapping.map(path, arena);
        ByteCursor in = new ByteCursor(data, path.toString());
        if (data.byteSize() < 24) throw in.error("truncated file: " + data.byteSize() + " bytes is smaller than a GGUF header");
        if (in.i32() != MAGIC) throw in.error("not a GGUF file (bad magic)");
        int version = in.i32();
        if (version != 2 && version != 3) throw in.error("unsupported GGUF version " + version + " (supported: 2, 3)");
        long tensorCount = in.count("tensor count", data.byteSize() / 24);
        long kvCount = in.count("metadata count", data.byteSize() / 12);

        Map<String, Object> metadata = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            in.context("metadata entry " + i);
            String key = in.string();
            in.context("metadata key '" + key + "'");
            metadata.put(key, readValue(in, in.i32(), 0));
        }
        long alignment = 32;
        if (metadata.get("general.alignment") instanceof Long a) {
            if (a <= 0 || Long.bitCount(a) != 1) throw in.error("general.alignment " + a + " is not a power of two");
            alignment = a;
        }

        record Info(String name, DType type, long[] shape, long offset, long bytes) {}
        List<Info> infos = new ArrayList<>();
        for (long i = 0; i < tensorCount; i++) {
            in.context("tensor info " + i);
            String name = in.string();
            in.context("tensor info '" + name + "'");
            int nDims = in.i32();
            if (nDims < 1 || nDims > MAX_DIMS) throw in.error("tensor '" + name + "' has " + nDims + " dimensions");
            long[] shape = new long[nDims];
            for (int d = 0; d < nDims; d++) {
                long dim = in.i64();
                if (dim <= 0 || dim > data.byteSize()) throw in.error("tensor '" + name + "' has dimension " + dim);
                shape[nDims - 1 - d] = dim; // GGUF lists the innermost dimension first
            }
            int ggmlType = in.i32();
            DType type = DType.fromGgml(ggmlType);
            if (type == null) throw in.error("tensor '" + name + "' has ggml type " + DType.ggmlName(ggmlType) + " (id "
                    + ggmlType + "), which Transfuse does not read (supported: " + Arrays.toString(supported()) + ")");
            long offset = in.i64();
            if (offset % alignment != 0) throw in.error("tensor '" + name + "' offset " + offset + " is not aligned to " + alignment);
            long elements;
            try {
                elements = Tensor.elementCount(shape);
            } catch (ArithmeticException e) {
                throw in.error("tensor '" + name + "' shape " + Arrays.toString(shape) + " overflows");
            }
            if (shape[shape.length - 1] % type.blockSize() != 0) {
                throw in.error("tensor '" + name + "' row of " + shape[shape.length - 1] + " elements is not a whole number of "
                        + type + " blocks");
            }
            infos.add(new Info(name, type, shape, offset, type.bytesFor(elements)));
        }
        long dataStart = (in.position() + alignment - 1) / alignment * alignment;
        long dataSize = data.byteSize() - dataStart;
        if (dataSize < 0) throw in.error("truncated file: data section would start at " + dataStart);

        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Info t : infos) {
            if (t.offset < 0 || t.offset > dataSize || t.bytes > dataSize - t.offset) {
                throw new ModelFormatException(path + ": tensor '" + t.name + "' (" + t.bytes + " bytes at data offset "
                        + t.offset + ") lies outside the file (data section holds " + dataSize + " bytes; truncated file?)");
            }
            if (tensors.containsKey(t.name)) throw new ModelFormatException(path + ": tensor '" + t.name + "' appears twice");
            tensors.put(t.name, new Tensor(t.name, t.type, t.shape, data.asSlice(dataStart + t.offset, t.bytes)));
        }
        List<Info> byOffset = new ArrayList<>(infos);
        byOffset.sort(Comparator.comparingLong(Info::offset));
        for (int i = 1; i < byOffset.size(); i++) {
            Info prev = byOffset.get(i - 1), cur = byOffset.get(i);
            if (prev.offset + prev.bytes > cur.offset) {
                throw new ModelFormatException(path + ": tensors '" + prev.name + "' and '" + cur.name + "' overlap");
            }
        }
        return new GgufFile(path, metadata, tensors);
    }

    private static DType[] supported() {
        return Arrays.stream(DType.values()).filter(t -> t.ggmlType() >= 0).toArray(DType[]::new);
    }

    private static Object readValue(ByteCursor in, int type, int depth) {
        return switch (type) {
            case 0 -> (long) Byte.toUnsignedInt(in.u8());
            case 1 -> (long) in.u8();
            case 2 -> (long) Short.toUnsignedInt(in.i16());
            case 3 -> (long) in.i16();
            case 4 -> Integer.toUnsignedLong(in.i32());
            case 5 -> (long) in.i32();
            case 6 -> (double) in.f32();
            case 7 -> in.u8() != 0;
            case 8 -> in.string();
            case 9 -> readArray(in, depth);
            case 10, 11 -> in.i64();
            case 12 -> in.f64();
            default -> throw in.error("unknown metadata value type " + type);
        };
    }

    private static Object readArray(ByteCursor in, int depth) {
        if (depth > 4) throw in.error("arrays nested too deeply");
        int elementType = in.i32();
        int n = (int) in.count("array length", Math.min(in.remaining(), Integer.MAX_VALUE - 8)); // >= 1 byte per element
        switch (elementType) {
            case 8 -> {
                String[] a = new String[n];
                for (int i = 0; i < n; i++) a[i] = in.string();
                return a;
            }
            case 6, 12 -> {
                double[] a = new double[n];
                for (int i = 0; i < n; i++) a[i] = (Double) readValue(in, elementType, depth);
                return a;
            }
            case 7 -> {
                boolean[] a = new boolean[n];
                for (int i = 0; i < n; i++) a[i] = in.u8() != 0;
                return a;
            }
            case 9 -> {
                Object[] a = new Object[n];
                for (int i = 0; i < n; i++) a[i] = readArray(in, depth + 1);
                return a;
            }
            default -> {
                long[] a = new long[n];
                for (int i = 0; i < n; i++) a[i] = (Long) readValue(in, elementType, depth);
                return a;
            }
        }
    }

    @Override
    public Path path() { return path; }

    public Map<String, Object> metadata() { return metadata; }

    @Override
    public Map<String, Tensor> tensors() { return tensors; }

    /** A metadata value of the given type, or a clear error naming the key when it is absent or of another type. */
    public <T> T require(String key, Class<T> type) {
        Object v = metadata.get(key);
        if (v == null) throw new ModelFormatException(path + ": metadata key '" + key + "' is missing");
        if (!type.isInstance(v)) {
            throw new ModelFormatException(path + ": metadata key '" + key + "' has type " + v.getClass().getSimpleName()
                    + ", expected " + type.getSimpleName());
        }
        return type.cast(v);
    }

    public <T> T optional(String key, Class<T> type, T fallback) {
        return metadata.containsKey(key) ? require(key, type) : fallback;
    }
}
