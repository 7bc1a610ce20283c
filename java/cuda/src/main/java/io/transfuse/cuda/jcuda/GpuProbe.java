package io.transfuse.cuda.jcuda;

import io.transfuse.backend.NativeLibrary;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Finds out, through Panama and without touching any JCuda class (they fail to initialise without a
 * driver), whether a CUDA GPU is usable: loads libcuda.so.1 (absent: IllegalArgumentException),
 * then cuInit(0) and cuDeviceGetCount. The answer is computed once per JVM.
 */
public final class GpuProbe {
    private static volatile String absence; // null until probed; "" = a GPU is present
    private static volatile int deviceCount;

    private GpuProbe() {}

    /** Whether a CUDA device and a working driver are present. */
    public static boolean present() {
        return absenceReason() == null;
    }

    /** CUDA devices the driver reports (0 without a driver). */
    public static int deviceCount() {
        absenceReason();
        return deviceCount;
    }

    /** Null when a GPU is usable, else one line saying why not. */
    public static synchronized String absenceReason() {
        if (absence == null) absence = probe();
        return absence.isEmpty() ? null : absence;
    }

    private static String probe() {
        SymbolLookup cuda;
        try {
            cuda = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
        } catch (IllegalArgumentException e) {
            return "no CUDA device/driver was found (libcuda.so.1 is not installed)";
        }
        try (Arena arena = Arena.ofConfined()) {
            MethodHandle init = NativeLibrary.downcall(cuda, "libcuda.so.1", "cuInit", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            MethodHandle count = NativeLibrary.downcall(cuda, "libcuda.so.1", "cuDeviceGetCount", FunctionDescriptor.of(JAVA_INT, ADDRESS));
            int rc = NativeLibrary.callInt(() -> (int) init.invokeExact(0));
            if (rc != 0) return "no CUDA device/driver was found (cuInit failed with CUresult " + rc + ")";
            MemorySegment n = arena.allocate(JAVA_INT);
            rc = NativeLibrary.callInt(() -> (int) count.invokeExact(n));
            if (rc != 0) return "no CUDA device/driver was found (cuDeviceGetCount failed with CUresult " + rc + ")";
            deviceCount = n.get(JAVA_INT, 0);
            return deviceCount > 0 ? "" : "no CUDA device/driver was found (the driver reports 0 devices)";
        } catch (RuntimeException e) {
            return "no CUDA device/driver was found (" + e + ")";
        }
    }
}
