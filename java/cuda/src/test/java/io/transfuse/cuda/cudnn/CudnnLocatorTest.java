package io.transfuse.cuda.cudnn;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Where libcudnn.so.9 is looked for, on fake folders, and the one clean line when it is missing or does not load
 * (no GPU, no cuDNN needed: this machine has neither, so the loader's own search finds nothing either).
 */
class CudnnLocatorTest {
    @TempDir Path root;

    private Path touch(String relative) throws IOException {
        Path p = root.resolve(relative);
        Files.createDirectories(p.getParent());
        Files.writeString(p, "not a library");
        return p;
    }

    private static List<String> files(CudnnLocator l) {
        return l.candidates().stream().filter(c -> !c.searchPath()).map(CudnnLocator.Candidate::library).toList();
    }

    @Test
    void loaderSearchFirstThenCudaHomeToolkitSystemAndPythonWheels() throws IOException {
        Path wheel = touch("opt/torch/.venv/lib/python3.12/site-packages/nvidia/cudnn/lib/libcudnn.so.9");
        Path system = touch("usr/lib/x86_64-linux-gnu/libcudnn.so.9");
        Path toolkit = touch("usr/local/cuda/lib64/libcudnn.so.9");
        Path home = touch("cudahome/lib64/libcudnn.so.9");
        touch("usr/local/cuda/lib64/libcudnn.so.8"); // cuDNN 8: a different API, never picked
        CudnnLocator l = new CudnnLocator(Map.of("CUDA_HOME", root.resolve("cudahome").toString()), null, root);
        assertEquals(new CudnnLocator.Candidate("libcudnn.so.9", true), l.candidates().get(0), "the loader's own search first");
        assertEquals(List.of(home.toString(), toolkit.toString(), system.toString(), wheel.toString()), files(l));
    }

    @Test
    void propertyOrEnvironmentNamesTheOnlyPlace() throws IOException {
        Path folder = touch("mine/libcudnn.so.9").getParent();
        touch("usr/local/cuda/lib64/libcudnn.so.9");
        CudnnLocator byEnv = new CudnnLocator(Map.of(CudnnLocator.PATH_ENV, folder.toString()), null, root);
        assertEquals(List.of(folder.resolve("libcudnn.so.9").toString()), files(byEnv));
        assertEquals(1, byEnv.candidates().size(), "no loader search when a place is named");
        Path file = folder.resolve("libcudnn.so.9");
        CudnnLocator byProperty = new CudnnLocator(Map.of(CudnnLocator.PATH_ENV, "/elsewhere"), file.toString(), root);
        assertEquals(List.of(file.toString()), files(byProperty), "the property wins over the environment");
        assertTrue(new CudnnLocator(Map.of(), root.resolve("empty").toString(), root).candidates().isEmpty());
    }

    @Test
    void missingLibraryIsOneLineNamingWhatAndWhere() {
        CudnnLocator l = new CudnnLocator(Map.of(), root.resolve("no-cudnn-here").toString(), root);
        CudnnException e = assertThrows(CudnnException.class, () -> CudnnLibrary.open(l));
        String m = e.getMessage();
        assertFalse(m.contains("\n"), "one line: " + m);
        assertTrue(m.startsWith("cuDNN not found: no libcudnn.so.9 in " + root.resolve("no-cudnn-here")), m);
        assertTrue(m.contains("-D" + CudnnLocator.PATH_PROPERTY) && m.contains("$" + CudnnLocator.PATH_ENV), m);
        assertEquals(CudnnStatus.NOT_INITIALIZED, e.status());
    }

    @Test
    void aFileThatIsNotALibraryIsReportedOnTheSameLine() throws IOException {
        Path fake = touch("fake/libcudnn.so.9");
        CudnnLocator l = new CudnnLocator(Map.of(), fake.getParent().toString(), root);
        CudnnException e = assertThrows(CudnnException.class, () -> CudnnLibrary.open(l));
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        assertTrue(e.getMessage().contains("failed to load: " + fake), e.getMessage());
    }

    @Test
    void systemSearchListsTheFoldersItLooksIn() throws IOException {
        touch("usr/local/lib/python3.11/dist-packages/placeholder");
        CudnnLocator l = new CudnnLocator(Map.of(), null, root);
        String where = l.searched();
        assertTrue(where.startsWith("the loader path, "), where);
        assertTrue(where.contains(root.resolve("usr/local/cuda/lib64").toString()), where);
        assertTrue(where.contains(root.resolve("usr/local/lib/python3.11/dist-packages/nvidia/cudnn/lib").toString()), where);
    }
}
