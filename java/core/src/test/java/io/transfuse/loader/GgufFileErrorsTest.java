package io.transfuse.loader;

import io.transfuse.TestModels;
import io.transfuse.memory.TrackedArena;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every way a GGUF file can be broken is reported as a ModelFormatException naming the file and the fault. */
class GgufFileErrorsTest {
    @TempDir
    Path dir;
    final TrackedArena arena = new TrackedArena("test");

    @AfterEach
    void close() {
        arena.close();
    }

    byte[] original() throws IOException {
        return Files.readAllBytes(TestModels.storiesGguf());
    }

    String failure(byte[] content) throws IOException {
        Path file = dir.resolve("broken.gguf");
        Files.write(file, content);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> GgufFile.open(file, arena));
        assertTrue(e.getMessage().startsWith(file.toString()), "message should name the file: " + e.getMessage());
        return e.getMessage();
    }

    @Test
    void intactFileParses() throws IOException {
        GgufFile f = GgufFile.open(TestModels.storiesGguf(), arena);
        assertEquals(48, f.tensors().size());
        assertEquals("llama", f.require("general.architecture", String.class));
        assertEquals(512, f.require("tokenizer.ggml.tokens", String[].class).length);
    }

    @Test
    void missingFile() {
        Path file = dir.resolve("nope.gguf");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> GgufFile.open(file, arena));
        assertTrue(e.getMessage().contains("nope.gguf") && e.getMessage().contains("no such file"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 10, 23, 100, 5000, 13000, 14100, 200_000, 1_185_000})
    void truncatedFile(int length) throws IOException {
        byte[] b = original();
        String m = failure(Arrays.copyOf(b, length));
        assertTrue(m.contains("truncated") || m.contains("empty"), m);
    }

    @Test
    void badMagic() throws IOException {
        byte[] b = original();
        b[0] = 'X';
        assertTrue(failure(b).contains("bad magic"));
    }

    @Test
    void unsupportedVersion() throws IOException {
        byte[] b = original();
        GgufLayout.putInt(b, 4, 7);
        assertTrue(failure(b).contains("version 7"));
    }

    @Test
    void tensorOffsetOutsideTheFile() throws IOException {
        byte[] b = original();
        GgufLayout.putLong(b, new GgufLayout(b).tensors.get("blk.0.attn_q.weight").offset(), 1L << 40);
        String m = failure(b);
        assertTrue(m.contains("'blk.0.attn_q.weight'") && m.contains("outside the file"), m);
    }

    @Test
    void overlappingTensors() throws IOException {
        byte[] b = original();
        GgufLayout layout = new GgufLayout(b);
        long qOffset = GgufLayout.getLong(b, layout.tensors.get("blk.0.attn_q.weight").offset());
        GgufLayout.putLong(b, layout.tensors.get("blk.0.attn_k.weight").offset(), qOffset + 64);
        String m = failure(b);
        assertTrue(m.contains("overlap") && m.contains("blk.0.attn_k.weight"), m);
    }

    @Test
    void unknownDtype() throws IOException {
        byte[] b = original();
        GgufLayout.putInt(b, new GgufLayout(b).tensors.get("blk.2.ffn_up.weight").type(), 99);
        String m = failure(b);
        assertTrue(m.contains("'blk.2.ffn_up.weight'") && m.contains("type 99"), m);
    }

    @Test
    void unsupportedGgmlTypeIsNamed() throws IOException {
        byte[] b = original();
        GgufLayout.putInt(b, new GgufLayout(b).tensors.get("blk.2.ffn_up.weight").type(), 23); // IQ4_XS
        String m = failure(b);
        assertTrue(m.contains("'blk.2.ffn_up.weight'") && m.contains("IQ4_XS") && m.contains("Q4_K"), m);
    }

    @Test
    void absurdDimensions() throws IOException {
        byte[] b = original();
        GgufLayout.putLong(b, new GgufLayout(b).tensors.get("output.weight").firstDim(), -5);
        String m = failure(b);
        assertTrue(m.contains("'output.weight'") && m.contains("dimension"), m);
    }

    @Test
    void implausibleCounts() throws IOException {
        byte[] b = original();
        GgufLayout.putLong(b, 8, Long.MAX_VALUE); // tensor count
        assertTrue(failure(b).contains("implausible tensor count"));
    }
}
