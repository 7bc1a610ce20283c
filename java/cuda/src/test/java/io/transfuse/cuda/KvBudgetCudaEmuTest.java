package io.transfuse.cuda;

import io.transfuse.TransfuseException;
import io.transfuse.cuda.runtime.EmulatedRuntime;
import io.transfuse.model.DecoderLimits;
import io.transfuse.model.KvCache;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * On a GPU the KV cache is checked against the device memory free at load (the emulator's budget here), before any
 * of it is allocated: a cache that does not fit is an error giving both sizes and what to pass, not a failed cudaMalloc
 * halfway through the layers.
 */
class KvBudgetCudaEmuTest {
    @Test
    void kvCacheBeyondTheDevicesMemoryIsRefusedBeforeAllocating() {
        try (CudaBackend b = new CudaBackend("cuda-emu", new EmulatedRuntime(8L << 20), DType.F16)) {
            long free = b.memoryAvailable();
            assertTrue(free > 0 && free <= 8L << 20, "free " + free);
            // 16 sequences x 4096 positions x 2 layers x K,V x 64 x F16 = 33.5 MB on a device of 8 MiB
            TransfuseException e = assertThrows(TransfuseException.class,
                    () -> new KvCache(b, "test model", 2, 64, new DecoderLimits(32, 16, 4096, 16)));
            assertTrue(e.getMessage().contains("needs " + (16L * 4096 * 2 * 2 * 64 * 2) + " bytes")
                    && e.getMessage().contains("available to the cuda-emu backend") && e.getMessage().contains("--context N"), e.getMessage());
            assertEquals(free, b.memoryAvailable(), "nothing was allocated");
            KvCache fits = new KvCache(b, "test model", 2, 64, new DecoderLimits(32, 2, 64, 16));
            assertEquals(8, fits.blocks());
            assertTrue(b.memoryAvailable() < free);
        }
    }
}
