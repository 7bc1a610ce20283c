package io.transfuse.loader.onnx;

import io.transfuse.loader.ModelFormatException;
import io.transfuse.model.bert.RealEncoders;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The ONNX protobuf reader on hand-encoded models (written here from the onnx.proto field numbers
 * and the protobuf wire format, independently of the reader) and on malformed files.
 */
class OnnxFileTest {

    /** Minimal protobuf encoder: fields appended in order. */
    static final class Proto {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Proto varint(int field, long v) { key(field, 0); raw(v); return this; }

        Proto bytes(int field, byte[] b) { key(field, 2); raw(b.length); out.writeBytes(b); return this; }

        Proto string(int field, String s) { return bytes(field, s.getBytes(StandardCharsets.UTF_8)); }

        Proto message(int field, Proto p) { return bytes(field, p.toBytes()); }

        Proto fixed32(int field, float f) {
            key(field, 5);
            out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(f).array());
            return this;
        }

        void key(int field, int wire) { raw(((long) field << 3) | wire); }

        void raw(long v) {
            while ((v & ~0x7fL) != 0) {
                out.write((int) ((v & 0x7f) | 0x80));
                v >>>= 7;
            }
            out.write((int) v);
        }

        byte[] toBytes() { return out.toByteArray(); }
    }

    static byte[] floatsLe(float... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) b.putFloat(f);
        return b.array();
    }

    @Test
    void readsInitializersNodesAndIo(@TempDir Path tmp) throws IOException {
        // TensorProto: dims 1 (unpacked varints here), data_type 2, name 8, raw_data 9
        Proto w = new Proto().varint(1, 2).varint(1, 3).varint(2, OnnxTensor.FLOAT).string(8, "w")
                .bytes(9, floatsLe(1, 2, 3, 4, 5, 6));
        // packed dims and float_data (field 4, packed fixed32)
        Proto packedDims = new Proto();
        packedDims.raw(3);
        Proto b = new Proto().bytes(1, packedDims.toBytes()).varint(2, OnnxTensor.FLOAT).string(8, "b").bytes(4, floatsLe(7, 8, 9));
        // int64_data (field 7) as packed varints, including a negative value (10-byte varint)
        Proto idxData = new Proto();
        idxData.raw(12);
        idxData.raw(-1L);
        Proto shape = new Proto().varint(1, 2).varint(2, OnnxTensor.INT64).string(8, "shape").bytes(7, idxData.toBytes());
        // NodeProto: input 1, output 2, name 3, op_type 4, attribute 5 (AttributeProto name 1, f 2, i 3, t 5)
        Proto node = new Proto().string(1, "x").string(1, "w").string(2, "y").string(3, "mm").string(4, "MatMul")
                .message(5, new Proto().string(1, "epsilon").fixed32(2, 1e-5f))
                .message(5, new Proto().string(1, "axis").varint(3, 7))
                .message(5, new Proto().string(1, "value").message(5, shape));
        Proto graph = new Proto().message(1, node).string(2, "g").message(5, w).message(5, b).message(5, shape)
                .message(11, new Proto().string(1, "x")).message(12, new Proto().string(1, "y"))
                .string(10, "doc string is skipped");
        // ModelProto: ir_version 1, producer_name 2, graph 7, opset_import 8 (skipped)
        Proto model = new Proto().varint(1, 8).string(2, "test").message(7, graph).message(8, new Proto().varint(2, 17));
        Path file = tmp.resolve("m.onnx");
        Files.write(file, model.toBytes());
        try (OnnxFile f = OnnxFile.open(file)) {
            assertEquals(List.of("x"), f.inputs());
            assertEquals(List.of("y"), f.outputs());
            assertEquals(List.of("w", "b", "shape"), List.copyOf(f.initializers().keySet()));
            OnnxTensor wt = f.initializers().get("w");
            assertArrayEquals(new long[] {2, 3}, wt.dims());
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, wt.floats());
            assertArrayEquals(new long[] {3}, f.initializers().get("b").dims());
            assertArrayEquals(new float[] {7, 8, 9}, f.initializers().get("b").floats());
            assertArrayEquals(new long[] {12, -1}, f.initializers().get("shape").longs());
            OnnxNode n = f.nodes().getFirst();
            assertEquals("MatMul", n.opType());
            assertEquals("mm", n.name());
            assertEquals(List.of("x", "w"), n.inputs());
            assertEquals(List.of("y"), n.outputs());
            assertEquals(1e-5f, (Float) n.attributes().get("epsilon"));
            assertEquals(7L, n.attributes().get("axis"));
            assertArrayEquals(new long[] {12, -1}, ((OnnxTensor) n.attributes().get("value")).longs());
        }
    }

    private static void rejects(Path file, String... fragments) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> OnnxFile.open(file).close());
        assertTrue(e.getMessage().contains(file.toString()), "names the file: " + e.getMessage());
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "mentions '" + f + "': " + e.getMessage());
    }

    @Test
    void malformedFilesAreClearErrors(@TempDir Path tmp) throws IOException {
        Path empty = tmp.resolve("empty.onnx");
        Files.write(empty, new byte[0]);
        rejects(empty, "no ModelProto.graph");

        Path missing = tmp.resolve("missing.onnx");
        rejects(missing, "no such file");

        Path group = tmp.resolve("group.onnx");
        Files.write(group, new byte[] {(7 << 3) | 3});
        rejects(group, "byte 0", "wire type 3");

        Path badVarint = tmp.resolve("varint.onnx");
        byte[] b = new byte[12];
        Arrays.fill(b, (byte) 0xff);
        b[0] = 8; // field 1, varint; then 11 continuation bytes
        Files.write(badVarint, b);
        rejects(badVarint, "byte 1", "varint");

        Path overlong = tmp.resolve("overlong.onnx");
        Files.write(overlong, new byte[] {(7 << 3) | 2, 100, 1, 2}); // graph claims 100 bytes, 2 remain
        rejects(overlong, "byte 1", "claims 100 bytes");

        // A real export cut short: the error names the file and an offset inside it.
        Path real = RealEncoders.miniLm();
        for (int cut : new int[] {3, 1000, 5_000_000}) {
            Path truncated = tmp.resolve("truncated-" + cut + ".onnx");
            try (InputStream in = Files.newInputStream(real)) {
                Files.write(truncated, in.readNBytes(cut));
            }
            rejects(truncated, "malformed ONNX protobuf at byte");
        }
    }
}
