package io.transfuse.cuda.cublas;

import io.transfuse.cuda.runtime.GpuException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Where libcublas is looked for, on fake folders (no GPU, no cuBLAS needed). */
class CublasLocatorTest {
    @TempDir Path root;

    private Path touch(String relative) throws IOException {
        Path p = root.resolve(relative);
        Files.createDirectories(p.getParent());
        Files.writeString(p, "not a library");
        return p;
    }

    private List<String> files(CublasLocator l) {
        return l.candidates().stream().filter(c -> !c.searchPath()).map(CublasLocator.Candidate::library).toList();
    }

    @Test
    void loaderSearchFirstThenCudaHomeThenToolkitThenPythonWheels() throws IOException {
        Path wheel13 = touch("opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13");
        Path wheel12 = touch("usr/local/lib/python3.10/dist-packages/nvidia/cublas/lib/libcublas.so.12");
        Path toolkit = touch("usr/local/cuda/lib64/libcublas.so.13");
        Path home = touch("cudahome/lib64/libcublas.so.12");
        CublasLocator l = new CublasLocator(Map.of("CUDA_HOME", root.resolve("cudahome").toString()), null, root);
        List<CublasLocator.Candidate> all = l.candidates();
        assertEquals(new CublasLocator.Candidate("libcublas.so.13", true), all.get(0), "the loader's own search, newest first");
        assertEquals(new CublasLocator.Candidate("libcublas.so.12", true), all.get(1));
        assertEquals(List.of(home.toString(), toolkit.toString(), wheel12.toString(), wheel13.toString()), files(l));
    }

    @Test
    void eachFolderOffersSo13BeforeSo12AndItsLtCompanion() throws IOException {
        Path so12 = touch("usr/local/cuda/lib64/libcublas.so.12");
        Path so13 = touch("usr/local/cuda/lib64/libcublas.so.13");
        Path lt13 = touch("usr/local/cuda/lib64/libcublasLt.so.13");
        CublasLocator l = new CublasLocator(Map.of(), null, root);
        assertEquals(List.of(so13.toString(), so12.toString()), files(l));
        CublasLocator.Candidate first = l.candidates().stream().filter(c -> !c.searchPath()).findFirst().orElseThrow();
        assertEquals(lt13, first.companionLt());
    }

    @Test
    void pythonPathAndVirtualEnvAreSearched() throws IOException {
        Path viaPythonPath = touch("pp/nvidia/cublas/lib/libcublas.so.12");
        Path viaVenv = touch("venv/lib/python3.11/site-packages/nvidia/cu13/lib/libcublas.so.13");
        CublasLocator l = new CublasLocator(Map.of("PYTHONPATH", root.resolve("pp").toString(),
                "VIRTUAL_ENV", root.resolve("venv").toString()), null, root);
        assertEquals(List.of(viaPythonPath.toString(), viaVenv.toString()), files(l));
    }

    @Test
    void anExplicitPathIsTheOnlyCandidate() throws IOException {
        Path file = touch("custom/libcublas.so.12");
        touch("usr/local/cuda/lib64/libcublas.so.13");
        assertEquals(List.of(new CublasLocator.Candidate(file.toString(), false)),
                new CublasLocator(Map.of(), file.toString(), root).candidates(), "property naming a file");
        assertEquals(List.of(new CublasLocator.Candidate(file.toString(), false)),
                new CublasLocator(Map.of(CublasLocator.PATH_ENV, file.getParent().toString()), null, root).candidates(),
                "environment variable naming a folder");
        assertEquals(List.of(), new CublasLocator(Map.of(), root.resolve("nowhere").toString(), root).candidates(),
                "an explicit path that holds nothing offers nothing (no silent fallback)");
    }

    @Test
    void noCublasAnywhereIsOneClearError() {
        CublasLocator l = new CublasLocator(Map.of(), root.resolve("empty").toString(), root);
        GpuException e = assertThrows(GpuException.class, () -> PanamaCublas.open(l));
        assertTrue(e.getMessage().startsWith("cuBLAS not found: no libcublas.so.13 or libcublas.so.12 loaded"), e.getMessage());
        assertTrue(e.getMessage().contains(CublasLocator.PATH_PROPERTY), e.getMessage());
    }

    @Test
    void aFileThatIsNotALibraryIsReportedAndSkipped() throws IOException {
        Path bogus = touch("usr/local/cuda/lib64/libcublas.so.13");
        GpuException e = assertThrows(GpuException.class, () -> PanamaCublas.open(new CublasLocator(Map.of(), bogus.toString(), root)));
        assertTrue(e.getMessage().contains(bogus.toString()), e.getMessage());
    }
}
