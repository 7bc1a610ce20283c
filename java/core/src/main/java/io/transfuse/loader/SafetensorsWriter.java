package io.transfuse.loader;

import io.transfuse.tensor.DType;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Writes a safetensors file: u64 little-endian header length, a JSON header (name → dtype, shape,
 * data_offsets; padded with spaces to a multiple of 8), then the tensor data. F32 and F16 tensors.
 * Written to a temporary sibling, then moved into place.
 */
public final class SafetensorsWriter {
    private record Pending(String name, DType type, long[] shape, long count, Supplier<float[]> values) {}

    private final List<Pending> tensors = new ArrayList<>();

    public SafetensorsWriter addTensor(String name, DType type, long[] shape, Supplier<float[]> values) {
        if (type != DType.F32 && type != DType.F16) throw new IllegalArgumentException("SafetensorsWriter writes F32 and F16, not " + type);
        long n = 1;
        for (long d : shape) {
            if (d <= 0) throw new IllegalArgumentException("tensor '" + name + "' has dimension " + d);
            n *= d;
        }
        for (Pending p : tensors) if (p.name.equals(name)) throw new IllegalArgumentException("tensor '" + name + "' added twice");
        tensors.add(new Pending(name, type, shape.clone(), n, values));
        return this;
    }

    public SafetensorsWriter addTensor(String name, DType type, long[] shape, float[] values) {
        return addTensor(name, type, shape, () -> values);
    }

    public void write(Path path, Consumer<String> progress) {
        StringBuilder h = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        long offset = 0;
        for (Pending t : tensors) {
            long bytes = t.count * (t.type == DType.F32 ? 4 : 2);
            h.append(",\"").append(t.name.replace("\\", "\\\\").replace("\"", "\\\"")).append("\":{\"dtype\":\"")
                    .append(t.type == DType.F32 ? "F32" : "F16").append("\",\"shape\":[");
            for (int i = 0; i < t.shape.length; i++) h.append(i > 0 ? "," : "").append(t.shape[i]);
            h.append("],\"data_offsets\":[").append(offset).append(',').append(offset + bytes).append("]}");
            offset += bytes;
        }
        h.append('}');
        byte[] header = h.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (header.length + 7) / 8 * 8;
        AtomicFile.write(path, out -> {
            ByteBuffer b = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
            b.putLong(padded).put(header);
            while (b.hasRemaining()) b.put((byte) ' ');
            out.write(b.array());
            int done = 0;
            for (Pending t : tensors) {
                float[] v = t.values.get();
                if (v.length != t.count) throw new IllegalStateException("tensor '" + t.name + "': " + v.length + " values for " + t.count + " elements");
                ByteBuffer d = ByteBuffer.allocate(v.length * (t.type == DType.F32 ? 4 : 2)).order(ByteOrder.LITTLE_ENDIAN);
                if (t.type == DType.F32) for (float x : v) d.putFloat(x);
                else for (float x : v) d.putShort(Float.floatToFloat16(x));
                out.write(d.array());
                progress.accept("tensor " + (++done) + "/" + tensors.size() + " " + t.name);
            }
        });
    }
}
