package io.transfuse.backend.cpu;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The Mamba-2 CPU ops' argument checks: every bad size, short buffer, read-only output or overlap is an
 * IllegalArgumentException naming the argument, before native code runs. (Their values are checked by the
 * native test cpu_ssd_ops against a double recurrence, and through the graph by Mamba2ModelTest.)
 */
class CpuSsdOpsTest {
    private static void rejects(String argument, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(argument), "message should name " + argument + ": " + e.getMessage());
    }

    @Test
    void ssdScanArguments() {
        try (Arena a = Arena.ofConfined()) {
            int t = 3, h = 4, p = 8, g = 2, n = 16;
            MemorySegment out = a.allocate(4L * t * h * p), x = a.allocate(4L * t * h * p), st = a.allocate(4L * h * p * n),
                    dt = a.allocate(4L * t * h), A = a.allocate(4L * h), B = a.allocate(4L * t * g * n), C = a.allocate(4L * t * g * n),
                    D = a.allocate(4L * h), bias = a.allocate(4L * h);
            CpuOps.ssdScan(out, st, x, dt, A, B, C, D, bias, t, h, p, g, n); // fine
            CpuOps.ssdScan(out, st, x, dt, A, B, C, null, null, t, h, p, g, n); // fine: D and bias optional
            rejects("tokens", () -> CpuOps.ssdScan(out, st, x, dt, A, B, C, D, bias, 0, h, p, g, n));
            rejects("groups", () -> CpuOps.ssdScan(out, st, x, dt, A, B, C, D, bias, t, h, p, 3, n));
            rejects("dstate", () -> CpuOps.ssdScan(out, st, x, dt, A, B, C, D, bias, t, h, p, g, 257));
            rejects("out", () -> CpuOps.ssdScan(out.asSlice(4), st, x, dt, A, B, C, D, bias, t, h, p, g, n));
            rejects("state", () -> CpuOps.ssdScan(out, st.asSlice(4), x, dt, A, B, C, D, bias, t, h, p, g, n));
            rejects("state", () -> CpuOps.ssdScan(out, st.asReadOnly(), x, dt, A, B, C, D, bias, t, h, p, g, n));
            rejects("dt", () -> CpuOps.ssdScan(out, st, x, dt.asSlice(4), A, B, C, D, bias, t, h, p, g, n));
            rejects("B", () -> CpuOps.ssdScan(out, st, x, dt, A, B.asSlice(4), C, D, bias, t, h, p, g, n));
            rejects("dtBias", () -> CpuOps.ssdScan(out, st, x, dt, A, B, C, D, bias.asSlice(4), t, h, p, g, n));
            rejects("x", () -> CpuOps.ssdScan(out, st, MemorySegment.ofArray(new float[t * h * p]), dt, A, B, C, D, bias, t, h, p, g, n));
            rejects("overlap", () -> CpuOps.ssdScan(x, st, x, dt, A, B, C, D, bias, t, h, p, g, n)); // out must not be x
        }
    }

    @Test
    void gatedRmsNormArguments() {
        try (Arena a = Arena.ofConfined()) {
            int rows = 2, dim = 12;
            MemorySegment out = a.allocate(4L * rows * dim), x = a.allocate(4L * rows * dim), z = a.allocate(4L * rows * dim),
                    w = a.allocate(4L * dim);
            CpuOps.gatedRmsNorm(out, x, z, w, rows, dim, 4, 1e-5f); // fine
            CpuOps.gatedRmsNorm(x, x, z, w, rows, dim, 12, 1e-5f); // fine: in place
            rejects("groupSize", () -> CpuOps.gatedRmsNorm(out, x, z, w, rows, dim, 5, 1e-5f));
            rejects("weight", () -> CpuOps.gatedRmsNorm(out, x, z, w.asSlice(4), rows, dim, 4, 1e-5f));
            rejects("overlap", () -> CpuOps.gatedRmsNorm(out.asSlice(4, 4L * dim), out, z, w, 1, dim, 4, 1e-5f));
        }
    }
}
