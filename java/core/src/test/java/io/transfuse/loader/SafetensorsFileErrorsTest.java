package io.transfuse.loader;

import io.transfuse.TestModels;
import io.transfuse.memory.TrackedArena;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Broken safetensors files are reported as ModelFormatException naming the file, tensor and fault. */
class SafetensorsFileErrorsTest {
    @TempDir
    Path dir;
    final TrackedArena arena = new TrackedArena("test");

    @AfterEach
    void close() {
        arena.close();
    }

    static byte[] original() throws IOException {
        return Files.readAllBytes(TestModels.storiesHf().resolve("model.safetensors"));
    }

    static String header(byte[] file) {
        int n = (int) ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        return new String(file, 8, n, StandardCharsets.UTF_8);
    }

    /** The file with its header replaced (data section kept). */
    static byte[] withHeader(byte[] file, String header) {
        int n = (int) ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
        out.writeBytes(h);
        out.write(file, 8 + n, file.length - 8 - n);
        return out.toByteArray();
    }

    String failure(byte[] content) throws IOException {
        Path file = dir.resolve("broken.safetensors");
        Files.write(file, content);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(file, arena));
        assertTrue(e.getMessage().startsWith(file.toString()), "message should name the file: " + e.getMessage());
        return e.getMessage();
    }

    @Test
    void intactFileParses() throws IOException {
        SafetensorsFile f = SafetensorsFile.open(TestModels.storiesHf().resolve("model.safetensors"), arena);
        assertEquals(48, f.tensors().size());
        assertEquals(64 * 512, f.tensor("model.embed_tokens.weight").elementCount());
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 5, 8, 100, 5000, 1_000_000, 1_176_119})
    void truncatedFile(int length) throws IOException {
        String m = failure(Arrays.copyOf(original(), length));
        assertTrue(m.contains("truncated") || m.contains("empty") || m.contains("does not fit"), m);
    }

    @Test
    void offsetsOutsideTheFile() throws IOException {
        byte[] b = original();
        String h = header(b);
        String key = "\"model.norm.weight\"";
        int at = h.indexOf(key);
        String entry = h.substring(at, h.indexOf('}', at) + 1);
        String broken = entry.replaceAll("\"data_offsets\":\\s*\\[\\s*(\\d+)\\s*,\\s*(\\d+)\\s*]", "\"data_offsets\":[$1,99999999]");
        String m = failure(withHeader(b, h.replace(entry, broken)));
        assertTrue(m.contains("'model.norm.weight'") && (m.contains("outside the file") || m.contains("needs")), m);
    }

    @Test
    void overlappingTensors() throws IOException {
        byte[] b = original();
        String h = header(b);
        // Give model.norm.weight the offsets of the first 256 bytes of the data section.
        int at = h.indexOf("\"model.norm.weight\"");
        String entry = h.substring(at, h.indexOf('}', at) + 1);
        String broken = entry.replaceAll("\"data_offsets\":\\s*\\[\\s*\\d+\\s*,\\s*\\d+\\s*]", "\"data_offsets\":[0,256]");
        String m = failure(withHeader(b, h.replace(entry, broken)));
        assertTrue(m.contains("overlap") && m.contains("model.norm.weight"), m);
    }

    @Test
    void unknownDtype() throws IOException {
        byte[] b = original();
        String h = header(b);
        int at = h.indexOf("\"model.norm.weight\"");
        String entry = h.substring(at, h.indexOf('}', at) + 1);
        String m = failure(withHeader(b, h.replace(entry, entry.replace("\"F32\"", "\"F8_E5M2\""))));
        assertTrue(m.contains("'model.norm.weight'") && m.contains("unsupported dtype 'F8_E5M2'"), m);
    }

    @Test
    void sizeNotMatchingShape() throws IOException {
        byte[] b = original();
        String h = header(b);
        int at = h.indexOf("\"model.norm.weight\"");
        String entry = h.substring(at, h.indexOf('}', at) + 1);
        String m = failure(withHeader(b, h.replace(entry, entry.replaceAll("\"shape\":\\s*\\[\\s*64\\s*]", "\"shape\":[65]"))));
        assertTrue(m.contains("'model.norm.weight'") && m.contains("needs"), m);
    }

    @Test
    void headerThatIsNotJson() throws IOException {
        assertTrue(failure(withHeader(original(), "{not json")).contains("not valid JSON"));
    }
}
