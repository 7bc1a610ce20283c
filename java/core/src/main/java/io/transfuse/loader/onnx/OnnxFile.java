package io.transfuse.loader.onnx;

import io.transfuse.loader.ModelFormatException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parts of an ONNX model file that Transfuse reads: the graph's initializers (weights), nodes,
 * and input/output names. Field numbers are those of onnx.proto (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto):
 * ModelProto.graph = 7; GraphProto.node = 1, initializer = 5, input = 11, output = 12;
 * ValueInfoProto.name = 1. Other fields are skipped.
 *
 * <p>The file is memory-mapped while open and tensors are views into it: copy what you need
 * before {@link #close()}.
 */
public final class OnnxFile implements AutoCloseable {
    private final Path path;
    private final Arena arena;
    private final Map<String, OnnxTensor> initializers;
    private final List<OnnxNode> nodes;
    private final List<String> inputs, outputs;

    private OnnxFile(Path path, Arena arena, Map<String, OnnxTensor> initializers, List<OnnxNode> nodes,
                     List<String> inputs, List<String> outputs) {
        this.path = path;
        this.arena = arena;
        this.initializers = Collections.unmodifiableMap(initializers);
        this.nodes = List.copyOf(nodes);
        this.inputs = List.copyOf(inputs);
        this.outputs = List.copyOf(outputs);
    }

    public static OnnxFile open(Path path) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            MemorySegment data = size == 0 ? MemorySegment.NULL.reinterpret(0) : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            ProtoReader model = new ProtoReader(data, 0, size, path.toString());
            ProtoReader graph = null;
            while (model.next()) {
                if (model.field() == 7) graph = model.message(); // ModelProto.graph
                else model.skip();
            }
            if (graph == null) throw new ModelFormatException(path + ": not an ONNX model (no ModelProto.graph, field 7)");
            Map<String, OnnxTensor> inits = new LinkedHashMap<>();
            List<OnnxNode> nodes = new ArrayList<>();
            List<String> inputs = new ArrayList<>(), outputs = new ArrayList<>();
            while (graph.next()) {
                switch (graph.field()) {
                    case 1 -> nodes.add(node(graph.message()));
                    case 5 -> {
                        long at = graph.position();
                        OnnxTensor t = tensor(graph.message());
                        if (inits.put(t.name(), t) != null) throw graph.error(at, "initializer '" + t.name() + "' appears twice");
                    }
                    case 11 -> inputs.add(valueInfoName(graph.message()));
                    case 12 -> outputs.add(valueInfoName(graph.message()));
                    default -> graph.skip();
                }
            }
            return new OnnxFile(path, arena, inits, nodes, inputs, outputs);
        } catch (NoSuchFileException e) {
            arena.close();
            throw new ModelFormatException(path + ": no such file", e);
        } catch (IOException e) {
            arena.close();
            throw new ModelFormatException(path + ": cannot be read (" + e.getMessage() + ")", e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    public Path path() { return path; }

    public Map<String, OnnxTensor> initializers() { return initializers; }

    public List<OnnxNode> nodes() { return nodes; }

    public List<String> inputs() { return inputs; }

    public List<String> outputs() { return outputs; }

    @Override
    public void close() {
        arena.close();
    }

    /** NodeProto: input 1, output 2, name 3, op_type 4, attribute 5. */
    private static OnnxNode node(ProtoReader r) {
        String op = "", name = "";
        List<String> in = new ArrayList<>(), out = new ArrayList<>();
        Map<String, Object> attrs = new HashMap<>();
        while (r.next()) {
            switch (r.field()) {
                case 1 -> in.add(r.string());
                case 2 -> out.add(r.string());
                case 3 -> name = r.string();
                case 4 -> op = r.string();
                case 5 -> attribute(r.message(), attrs);
                default -> r.skip();
            }
        }
        return new OnnxNode(op, name, in, out, attrs);
    }

    /** AttributeProto: name 1, f 2, i 3, t 5, ints 8. */
    private static void attribute(ProtoReader r, Map<String, Object> attrs) {
        String name = null;
        Object value = null;
        ProtoReader.LongList ints = null;
        while (r.next()) {
            switch (r.field()) {
                case 1 -> name = r.string();
                case 2 -> value = r.float32();
                case 3 -> value = r.int64();
                case 5 -> value = tensor(r.message());
                case 8 -> {
                    if (ints == null) ints = new ProtoReader.LongList();
                    r.int64s(ints);
                }
                default -> r.skip();
            }
        }
        if (ints != null) value = ints.toArray();
        if (name != null && value != null) attrs.put(name, value);
    }

    /** TensorProto: dims 1, data_type 2, float_data 4, int32_data 5, int64_data 7, name 8, raw_data 9, double_data 10, data_location 14. */
    static OnnxTensor tensor(ProtoReader r) {
        ProtoReader.LongList dims = new ProtoReader.LongList();
        int type = 0;
        String name = "";
        MemorySegment data = null;
        ProtoReader.LongList varints = null;
        long start = r.position();
        while (r.next()) {
            switch (r.field()) {
                case 1 -> r.int64s(dims);
                case 2 -> type = (int) r.int64();
                case 8 -> name = r.string();
                case 9, 4, 10 -> {
                    // raw_data, or packed float_data (fixed32) / double_data (fixed64): same bytes as raw_data
                    if (r.wireType() != ProtoReader.LEN) throw r.error(r.position(), "unpacked float_data/double_data is not supported");
                    long[] b = r.bytes();
                    data = r.segment().asSlice(b[0], b[1] - b[0]);
                }
                case 5, 7 -> {
                    // int32_data / int64_data: varints (packed or not)
                    if (varints == null) varints = new ProtoReader.LongList();
                    r.int64s(varints);
                }
                case 14 -> {
                    if (r.int64() == 1) throw r.error(start, "tensor '" + name + "' keeps its data in an external file (not supported)");
                }
                default -> r.skip();
            }
        }
        long[] d = dims.toArray();
        for (long x : d) if (x < 0) throw r.error(start, "tensor '" + name + "' has a negative dimension");
        return new OnnxTensor(name, type, d, data, varints == null ? null : varints.toArray(), r.file());
    }

    /** ValueInfoProto.name = 1. */
    private static String valueInfoName(ProtoReader r) {
        String name = "";
        while (r.next()) {
            if (r.field() == 1) name = r.string();
            else r.skip();
        }
        return name;
    }
}
