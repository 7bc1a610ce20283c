package io.transfuse.cuda;

import io.transfuse.backend.NativeImageMetadata;
import io.transfuse.backend.NativeLibrary;
import io.transfuse.cuda.runtime.EmulatedRuntime;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.lang.foreign.FunctionDescriptor;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every downcall this module binds (kernels, emulated runtime, driver probe, cuBLAS, cuDNN) is registered for
 * GraalVM native-image in this module's metadata or in transfuse-core's.
 */
class NativeImageMetadataTest {
    @Test
    void everyDowncallIsRegistered() throws Exception {
        new EmulatedRuntime().close(); // binds the kernel launchers, tf_emu_gemm, and libc's allocator
        Set<FunctionDescriptor> bound = new java.util.HashSet<>(NativeLibrary.boundDescriptors());
        bound.addAll(io.transfuse.cuda.cublas.PanamaCublas.DESCRIPTORS); // these three bind only on a GPU
        bound.addAll(io.transfuse.cuda.driver.DriverApiCheck.DESCRIPTORS);
        bound.addAll(io.transfuse.cuda.cudnn.CudnnLibrary.DESCRIPTORS);
        Set<String> missing = NativeImageMetadata.missing(bound, merged());
        assertTrue(missing.isEmpty(), "add to java/cuda/src/main/resources/META-INF/native-image/io.transfuse/transfuse-cuda/"
                + "reachability-metadata.json foreign.downcalls:\n" + String.join(",\n", missing));
    }

    /** This module's and core's downcalls as one document. */
    private InputStream merged() throws Exception {
        StringBuilder all = new StringBuilder();
        for (String artifact : new String[] {"transfuse-cuda", "transfuse-core"}) {
            try (InputStream in = getClass().getResourceAsStream("/META-INF/native-image/io.transfuse/" + artifact + "/reachability-metadata.json")) {
                assertNotNull(in, artifact + " metadata");
                String json = new String(in.readAllBytes());
                int start = json.indexOf('[', json.indexOf("\"downcalls\"")) + 1, end = json.lastIndexOf(']');
                String body = json.substring(start, end).strip();
                if (!body.isEmpty()) all.append(all.isEmpty() ? "" : ",").append(body);
            }
        }
        return new ByteArrayInputStream(("{\"foreign\": {\"downcalls\": [" + all + "]}}").getBytes());
    }
}
