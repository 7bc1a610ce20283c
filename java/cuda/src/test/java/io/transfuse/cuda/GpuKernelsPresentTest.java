package io.transfuse.cuda;

import io.transfuse.backend.NativeLibrary;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Whether the GPU library is there decides if AUTO may pick cuda (a quick build without nvcc has none, and must
 * fall back to the CPU rather than fail): a -Dtransfuse.native.path directory counts only when it holds the file.
 */
class GpuKernelsPresentTest {
    @Test
    void aNativePathCountsOnlyWithTheGpuLibraryInIt(@TempDir Path dir) throws IOException {
        String saved = System.getProperty(NativeLibrary.PATH_PROPERTY);
        try {
            System.setProperty(NativeLibrary.PATH_PROPERTY, dir.toString());
            assertFalse(CudaBackendProvider.gpuKernelsPresent(), "empty directory");
            Files.writeString(dir.resolve("libtransfuse_emu.so"), "");
            assertFalse(CudaBackendProvider.gpuKernelsPresent(), "only the emulator's library");
            Files.writeString(dir.resolve("libtransfuse_cuda.so"), "");
            assertTrue(CudaBackendProvider.gpuKernelsPresent(), "with libtransfuse_cuda.so");
        } finally {
            if (saved == null) System.clearProperty(NativeLibrary.PATH_PROPERTY);
            else System.setProperty(NativeLibrary.PATH_PROPERTY, saved);
        }
    }
}
