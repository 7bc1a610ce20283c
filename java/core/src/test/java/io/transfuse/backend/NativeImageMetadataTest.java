package io.transfuse.backend;

import io.transfuse.backend.cpu.CpuOps;
import io.transfuse.memory.TrackedArena;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.lang.foreign.FunctionDescriptor;
import java.util.Set;
import java.util.stream.Collectors;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every downcall transfuse-core binds is registered for GraalVM native-image, nothing else is, and the
 * native library ships as a resource the metadata includes. (native-image itself is not available on these
 * machines; this keeps the metadata from drifting as ops are added.)
 */
class NativeImageMetadataTest {
    static final String FILE = "/META-INF/native-image/io.transfuse/transfuse-core/reachability-metadata.json";

    @Test
    void everyCpuDowncallIsRegistered() throws Exception {
        CpuOps.getThreads(); // binds every CPU op
        io.transfuse.backend.cpu.CpuRwkvOps.bind(); // and the RWKV ops (issue 17)
        try (TrackedArena a = new TrackedArena("metadata test")) {
            a.allocateLazily(TrackedArena.LAZY_THRESHOLD); // binds mmap and munmap (address space only)
        }
        Set<FunctionDescriptor> bound = NativeLibrary.boundDescriptors();
        assertTrue(bound.size() > 5, "CpuOps binds its ops through NativeLibrary.downcall");
        try (InputStream in = getClass().getResourceAsStream(FILE)) {
            assertNotNull(in, FILE);
            Set<String> missing = NativeImageMetadata.missing(bound, in);
            assertTrue(missing.isEmpty(), "add to " + FILE + " foreign.downcalls:\n"
                    + missing.stream().collect(Collectors.joining(",\n")));
        }
        // CpuOps and TrackedArena are the only binders in transfuse-core: whatever they do not bind is stale
        try (InputStream in = getClass().getResourceAsStream(FILE)) {
            Set<String> stale = NativeImageMetadata.unused(bound, in);
            assertTrue(stale.isEmpty(), "remove from " + FILE + " foreign.downcalls (nothing binds them):\n"
                    + stale.stream().collect(Collectors.joining(",\n")));
        }
    }

    @Test
    void entriesUseNativeImageLayoutNames() {
        assertEquals("{\"returnType\": \"jint\", \"parameterTypes\": [\"void*\", \"jint\"]}",
                NativeImageMetadata.entry(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT)));
        assertEquals("{\"returnType\": \"void\", \"parameterTypes\": []}", NativeImageMetadata.entry(FunctionDescriptor.ofVoid()));
    }

    @Test
    void metadataIncludesTheNativeLibraryResource() throws Exception {
        try (InputStream in = getClass().getResourceAsStream(FILE)) {
            String json = new String(in.readAllBytes());
            assertTrue(json.contains("native/linux-x86_64/libtransfuse_cpu.so"), json);
        }
        assertNotNull(getClass().getResource("/native/linux-x86_64/libtransfuse_cpu.so"));
    }
}
