package io.transfuse.backend.cpu;

import io.transfuse.backend.OpConformance;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The CPU backend against the op set's double-precision reference ({@link OpConformance}), on every
 * instruction set this CPU has: every op, the paged KV cache with scattered blocks, prefill, mixed and
 * decode batches, strided fused-QKV attention, the Mamba conv and scan.
 *
 * <p>Tolerance 1e-5 relative to the largest reference value (+1): the kernels compute in F32 (sums of up to
 * 96 terms, vectorised exp/erf/tanh of about 1e-7 relative error), a few ulps (6e-8 each) per op; a wrong
 * index, mask, stride or block moves values by O(1).
 *
 * <p>Both KV cache types run: F32, and the default F16, against a reference whose cache holds the same
 * f16-rounded keys and values (the kernels widen exactly what the reference reads). What reads the cache is
 * then compared within one f16 ulp (2^-10) relative instead of 1e-5: a rotated key that f32 and double RoPE
 * round to neighbouring halves (about one in 2000) differs by that much (OpConformance's kvTol).
 */
class CpuBackendConformanceTest {
    @AfterEach
    void restoreIsa() {
        CpuOps.setIsa(CpuOps.bestIsa());
    }

    @ParameterizedTest
    @EnumSource(CpuOps.Isa.class)
    void everyOpMatchesTheReference(CpuOps.Isa isa) {
        assumeTrue(CpuOps.setIsa(isa), isa + " is not available on this CPU");
        long before = TrackedArena.bytesInUse();
        for (DType kv : new DType[] {DType.F32, DType.F16}) {
            try (CpuBackend b = CpuBackend.create(0, kv)) {
                OpConformance.check(b, 1e-5);
            }
        }
        assertEquals(before, TrackedArena.bytesInUse(), "closing the backend frees its memory");
    }
}
