package io.transfuse.cuda.driver;

import io.transfuse.backend.NativeLibrary;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The CUDA driver API through Panama alone (libcuda.so.1, no JCuda): driver version, device name, the primary
 * context, and a 1 MiB host -> device -> host round trip. The GPU kit runs it beside the JCuda runtime so a
 * report says which of the two works on a machine; it is the base a Panama runtime would stand on if JCuda's
 * (static CUDA 12) runtime ever failed on a newer driver. Only call where {@code GpuProbe.present()}.
 */
public final class DriverApiCheck {
    private static final FunctionDescriptor INT = FunctionDescriptor.of(JAVA_INT, JAVA_INT);
    private static final FunctionDescriptor PTR = FunctionDescriptor.of(JAVA_INT, ADDRESS);
    private static final FunctionDescriptor PTR_INT = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT);
    private static final FunctionDescriptor PTR_INT_INT = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);
    private static final FunctionDescriptor PTR_LONG = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG);
    private static final FunctionDescriptor LONG = FunctionDescriptor.of(JAVA_INT, JAVA_LONG);
    private static final FunctionDescriptor LONG_PTR_LONG = FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG);
    private static final FunctionDescriptor PTR_LONG_LONG = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG);
    /** Every downcall signature this class binds (GraalVM native-image metadata lists them; a test checks). */
    public static final java.util.List<FunctionDescriptor> DESCRIPTORS =
            java.util.List.of(INT, PTR, PTR_INT, PTR_INT_INT, PTR_LONG, LONG, LONG_PTR_LONG, PTR_LONG_LONG);

    private DriverApiCheck() {}

    /** One line: what worked, or the first call that failed with its CUresult. */
    public static String run() {
        SymbolLookup cuda = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
        MethodHandle init = bind(cuda, "cuInit", INT);
        MethodHandle version = bind(cuda, "cuDriverGetVersion", PTR);
        MethodHandle device = bind(cuda, "cuDeviceGet", PTR_INT);
        MethodHandle name = bind(cuda, "cuDeviceGetName", PTR_INT_INT);
        MethodHandle retain = bind(cuda, "cuDevicePrimaryCtxRetain", PTR_INT);
        MethodHandle release = bind(cuda, "cuDevicePrimaryCtxRelease_v2", INT);
        MethodHandle setCurrent = bind(cuda, "cuCtxSetCurrent", PTR);
        MethodHandle alloc = bind(cuda, "cuMemAlloc_v2", PTR_LONG);
        MethodHandle free = bind(cuda, "cuMemFree_v2", LONG);
        MethodHandle toDevice = bind(cuda, "cuMemcpyHtoD_v2", LONG_PTR_LONG);
        MethodHandle toHost = bind(cuda, "cuMemcpyDtoH_v2", PTR_LONG_LONG);
        try (Arena a = Arena.ofConfined()) {
            check("cuInit", NativeLibrary.callInt(() -> (int) init.invokeExact(0)));
            MemorySegment v = a.allocate(JAVA_INT), dev = a.allocate(JAVA_INT), ctx = a.allocate(ADDRESS);
            MemorySegment nameBuf = a.allocate(256), ptr = a.allocate(JAVA_LONG);
            check("cuDriverGetVersion", NativeLibrary.callInt(() -> (int) version.invokeExact(v)));
            check("cuDeviceGet", NativeLibrary.callInt(() -> (int) device.invokeExact(dev, 0)));
            int d = dev.get(JAVA_INT, 0);
            check("cuDeviceGetName", NativeLibrary.callInt(() -> (int) name.invokeExact(nameBuf, 256, d)));
            check("cuDevicePrimaryCtxRetain", NativeLibrary.callInt(() -> (int) retain.invokeExact(ctx, d)));
            try {
                MemorySegment context = ctx.get(ADDRESS, 0);
                check("cuCtxSetCurrent", NativeLibrary.callInt(() -> (int) setCurrent.invokeExact(context)));
                long bytes = 1 << 20;
                check("cuMemAlloc", NativeLibrary.callInt(() -> (int) alloc.invokeExact(ptr, bytes)));
                long dptr = ptr.get(JAVA_LONG, 0);
                MemorySegment src = a.allocate(bytes), dst = a.allocate(bytes);
                for (long i = 0; i < bytes; i++) src.set(JAVA_BYTE, i, (byte) (i * 7 + 3));
                try {
                    check("cuMemcpyHtoD", NativeLibrary.callInt(() -> (int) toDevice.invokeExact(dptr, src, bytes)));
                    check("cuMemcpyDtoH", NativeLibrary.callInt(() -> (int) toHost.invokeExact(dst, dptr, bytes)));
                } finally {
                    NativeLibrary.callInt(() -> (int) free.invokeExact(dptr));
                }
                if (src.mismatch(dst) != -1) return "FAILED: the 1 MiB round trip came back different at byte " + src.mismatch(dst);
            } finally {
                NativeLibrary.callInt(() -> (int) release.invokeExact(d));
            }
            int ver = v.get(JAVA_INT, 0);
            return "OK: CUDA " + ver / 1000 + "." + ver % 1000 / 10 + " driver, " + nameBuf.getString(0)
                    + ", primary context, 1 MiB host -> device -> host round trip";
        } catch (IllegalStateException e) {
            return "FAILED: " + e.getMessage();
        }
    }

    private static void check(String call, int rc) {
        if (rc != 0) throw new IllegalStateException(call + " returned CUresult " + rc);
    }

    private static MethodHandle bind(SymbolLookup lib, String symbol, FunctionDescriptor fd) {
        return NativeLibrary.downcall(lib, "libcuda.so.1", symbol, fd);
    }
}
