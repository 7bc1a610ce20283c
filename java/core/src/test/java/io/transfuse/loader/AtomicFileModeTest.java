package io.transfuse.loader;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Files written whole (GGUF, safetensors, config.json of make-model, convert and quantize) get the mode any new
 * file gets under the process's umask (0644 under the usual 022), like a file written by Files.writeString beside
 * them; Files.createTempFile would leave them 0600, unreadable to anyone else.
 */
class AtomicFileModeTest {
    @Test
    void writtenFileHasTheModeOfAnyNewFile(@TempDir Path dir) throws Exception {
        Path plain = dir.resolve("plain.txt");
        Files.writeString(plain, "x"); // the reference: what the umask gives a new file
        Path written = dir.resolve("model.gguf");
        AtomicFile.write(written, out -> out.write("weights".getBytes(StandardCharsets.UTF_8)));
        Set<PosixFilePermission> want = Files.getPosixFilePermissions(plain);
        assertEquals(PosixFilePermissions.toString(want), PosixFilePermissions.toString(Files.getPosixFilePermissions(written)));
        assertEquals("weights", Files.readString(written));
        try (var files = Files.list(dir)) {
            assertEquals(2, files.count(), "a temporary file was left behind");
        }
    }

    @Test
    void writersOfGgufAndSafetensorsFollowTheUmask(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("plain.txt"), "x");
        Set<PosixFilePermission> want = Files.getPosixFilePermissions(dir.resolve("plain.txt"));
        assertTrue(want.contains(PosixFilePermission.OWNER_READ));
        new GgufWriter().write(dir.resolve("empty.gguf"), msg -> { });
        SafetensorsWriter st = new SafetensorsWriter();
        st.addTensor("w", io.transfuse.tensor.DType.F32, new long[] {2}, () -> new float[] {1, 2});
        st.write(dir.resolve("model.safetensors"), msg -> { });
        assertEquals(want, Files.getPosixFilePermissions(dir.resolve("empty.gguf")));
        assertEquals(want, Files.getPosixFilePermissions(dir.resolve("model.safetensors")));
    }
}
