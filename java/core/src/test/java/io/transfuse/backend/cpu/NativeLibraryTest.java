package io.transfuse.backend.cpu;

import io.transfuse.backend.NativeLibrary;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** Loading errors name the library and the platform; a loaded library is cached. */
class NativeLibraryTest {

    @Test
    void cachesTheLookup() {
        CpuOps.version(); // loaded through CpuOps' class initialisation
        assertSame(NativeLibrary.load("transfuse_cpu"), NativeLibrary.load("transfuse_cpu"));
        assertEquals("linux-x86_64", NativeLibrary.platform());
    }

    @Test
    void missingLibraryInTheClasspath() {
        CpuOps.version();
        String saved = System.getProperty(NativeLibrary.PATH_PROPERTY);
        System.clearProperty(NativeLibrary.PATH_PROPERTY);
        try {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> NativeLibrary.load("transfuse_missing"));
            assertTrue(e.getMessage().contains("libtransfuse_missing.so for linux-x86_64 not found in the classpath"), e.getMessage());
        } finally {
            if (saved != null) System.setProperty(NativeLibrary.PATH_PROPERTY, saved);
        }
    }

    @Test
    void missingLibraryInTheConfiguredDirectory(@TempDir Path dir) {
        CpuOps.version();
        String saved = System.getProperty(NativeLibrary.PATH_PROPERTY);
        System.setProperty(NativeLibrary.PATH_PROPERTY, dir.toString());
        try {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> NativeLibrary.load("transfuse_missing"));
            assertTrue(e.getMessage().contains("libtransfuse_missing.so for linux-x86_64 not found in " + dir.toAbsolutePath()), e.getMessage());
            assertTrue(e.getMessage().contains(NativeLibrary.PATH_PROPERTY), e.getMessage());
        } finally {
            if (saved != null) System.setProperty(NativeLibrary.PATH_PROPERTY, saved);
            else System.clearProperty(NativeLibrary.PATH_PROPERTY);
        }
    }
}
