package io.transfuse.model.bert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The sentence-transformers files {@code convert} writes: every module folder that modules.json names exists
 * (sentence-transformers resolves each module's path when it loads the directory; 2_Normalize was named but
 * missing), and reading them back gives the pooling written.
 */
class PoolingFilesTest {
    @Test
    void everyModuleFolderNamedExists(@TempDir Path dir) throws Exception {
        for (Pooling p : new Pooling[] {new Pooling(Pooling.Mode.MEAN, true), new Pooling(Pooling.Mode.CLS, false)}) {
            Path out = dir.resolve(p.mode() + "-" + p.normalize());
            Files.createDirectories(out);
            p.write(out, 384);
            JsonNode modules = new ObjectMapper().readTree(Files.readString(out.resolve("modules.json")));
            assertEquals(p.normalize() ? 3 : 2, modules.size(), modules.toString());
            for (JsonNode m : modules) {
                Path folder = out.resolve(m.get("path").asText());
                assertTrue(Files.isDirectory(folder), m + ": folder " + folder + " missing");
            }
            assertEquals(p.normalize(), Files.isDirectory(out.resolve("2_Normalize")));
            assertEquals(p, Pooling.read(out));
        }
        assertFalse(Files.exists(dir.resolve("CLS-false").resolve("2_Normalize")));
    }
}
