package io.transfuse.loader;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A safetensors file, memory-mapped. Format (huggingface/safetensors): u64 little-endian header
 * length N, N bytes of JSON mapping each tensor name to {dtype, shape, data_offsets: [begin, end]}
 * (offsets relative to the byte after the header), optional "__metadata__". Offsets are checked
 * against the file and against each other (no overlaps), and sizes against dtype x shape.
 */
public final class SafetensorsFile implements WeightFile {
    private static final long MAX_HEADER = 100L << 20; // the reference implementation's limit
    private static final ObjectMapper HEADER_MAPPER = new ObjectMapper();

    private final Path path;
    private final Map<String, Tensor> tensors;

    private SafetensorsFile(Path path, Map<String, Tensor> tensors) {
        this.path = path;
        this.tensors = Collections.unmodifiableMap(tensors);
    }

    public static SafetensorsFile open(Path path, TrackedArena arena) {
        MemorySegment data = Mapping.map(path, arena);
        if (data.byteSize() < 8) throw new ModelFormatException(path + ": truncated file: " + data.byteSize() + " bytes, no header");
        long headerLength = data.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLength < 2 || headerLength > MAX_HEADER || headerLength > data.byteSize() - 8) {
            throw new ModelFormatException(path + ": header length " + headerLength + " does not fit the file of "
                    + data.byteSize() + " bytes (truncated or not a safetensors file)");
        }
        byte[] headerBytes = data.asSlice(8, headerLength).toArray(ValueLayout.JAVA_BYTE);
        JsonNode header;
        try {
            header = HEADER_MAPPER.readTree(new String(headerBytes, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new ModelFormatException(path + ": header is not valid JSON (" + e.getMessage().lines().findFirst().orElse("") + ")", e);
        }
        if (header == null || !header.isObject()) throw new ModelFormatException(path + ": header is not a JSON object");
        long dataStart = 8 + headerLength;
        long dataSize = data.byteSize() - dataStart;

        record Span(String name, long begin, long end) {}
        List<Span> spans = new ArrayList<>();
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> entry = it.next();
            String name = entry.getKey();
            if (name.equals("__metadata__")) continue;
            JsonNode info = entry.getValue();
            String where = path + ": tensor '" + name + "'";
            DType type = dtype(info.path("dtype").asText(""), where);
            JsonNode shapeNode = info.path("shape");
            JsonNode offsets = info.path("data_offsets");
            if (!shapeNode.isArray() || !offsets.isArray() || offsets.size() != 2) {
                throw new ModelFormatException(where + " needs 'shape' and two 'data_offsets'");
            }
            long[] shape = new long[shapeNode.size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = shapeNode.get(i).asLong(-1);
                if (!shapeNode.get(i).canConvertToLong() || shape[i] < 0) throw new ModelFormatException(where + " has invalid shape " + shapeNode);
            }
            long begin = offsets.get(0).asLong(-1), end = offsets.get(1).asLong(-1);
            if (!offsets.get(0).canConvertToLong() || !offsets.get(1).canConvertToLong() || begin < 0 || end < begin) {
                throw new ModelFormatException(where + " has invalid data_offsets " + offsets);
            }
            if (end > dataSize) {
                throw new ModelFormatException(where + " data_offsets " + offsets + " point outside the file (data section holds "
                        + dataSize + " bytes; truncated file?)");
            }
            long expected;
            try {
                expected = type.bytesFor(Tensor.elementCount(shape));
            } catch (ArithmeticException e) {
                throw new ModelFormatException(where + " shape " + shapeNode + " overflows");
            }
            if (end - begin != expected) {
                throw new ModelFormatException(where + " holds " + (end - begin) + " bytes but " + type + shapeNode
                        + " needs " + expected);
            }
            spans.add(new Span(name, begin, end));
            tensors.put(name, new Tensor(name, type, shape, data.asSlice(dataStart + begin, end - begin)));
        }
        spans.sort(Comparator.comparingLong(Span::begin));
        for (int i = 1; i < spans.size(); i++) {
            if (spans.get(i - 1).end > spans.get(i).begin) {
                throw new ModelFormatException(path + ": tensors '" + spans.get(i - 1).name + "' and '" + spans.get(i).name + "' overlap");
            }
        }
        return new SafetensorsFile(path, tensors);
    }

    private static DType dtype(String name, String where) {
        return switch (name) {
            case "F32" -> DType.F32;
            case "F16" -> DType.F16;
            case "BF16" -> DType.BF16;
            default -> throw new ModelFormatException(where + " has unsupported dtype '" + name + "' (supported: F32, F16, BF16)");
        };
    }

    @Override
    public Path path() { return path; }

    @Override
    public Map<String, Tensor> tensors() { return tensors; }
}
