package io.transfuse.cuda;

import io.transfuse.backend.OpConformance;
import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.cuda.runtime.EmulatedRuntime;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The CUDA backend (the real kernels and the GEMM on the host emulator) against the op set's
 * double-precision reference ({@link OpConformance}): every op, the paged KV cache with scattered blocks,
 * prefill, mixed and recorded decode batches, strided fused-QKV attention, the Mamba conv and scan through
 * their transposes.
 *
 * <p>Tolerance relative to the largest reference value (+1): fp16 keeps 11 significant bits (relative
 * rounding 4.9e-4) and an op rounds its inputs and its output, with fp32 sums of up to 64 terms in between
 * and softmax / exp in the scan: 1e-2 is ~20 roundings, and a wrong index, stride, mask or block read
 * moves values by O(1). bf16 keeps 8 bits (3.9e-3 per rounding): 8e-2.
 */
class CudaBackendConformanceTest {
    @Test
    void f16() {
        check(DType.F16, 1e-2);
    }

    @Test
    void bf16() {
        check(DType.BF16, 8e-2);
    }

    private static void check(DType type, double tol) {
        long before = DeviceArena.bytesInUse();
        try (CudaBackend b = new CudaBackend("cuda-emu", new EmulatedRuntime(), type)) {
            OpConformance.check(b, tol);
        }
        assertEquals(before, DeviceArena.bytesInUse(), "closing the backend frees every device byte");
    }
}
