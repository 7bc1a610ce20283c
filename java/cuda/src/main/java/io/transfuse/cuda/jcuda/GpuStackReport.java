package io.transfuse.cuda.jcuda;

import io.transfuse.cuda.cudnn.CudnnConv2d;
import io.transfuse.cuda.cudnn.CudnnException;
import io.transfuse.cuda.cudnn.CudnnLibrary;
import io.transfuse.cuda.cudnn.CudnnLocator;
import io.transfuse.backend.NativeLibrary;
import io.transfuse.cuda.cublas.CublasLocator;
import io.transfuse.cuda.driver.DriverApiCheck;
import io.transfuse.cuda.runtime.Gemm;
import io.transfuse.cuda.runtime.GpuStream;
import io.transfuse.tensor.DType;
import jcuda.runtime.JCuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Random;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * Which GPU path works on this machine, one line each, for ci/gpu-test.sh's summary: the driver through Panama
 * (libcuda.so.1: version, then {@link DriverApiCheck}'s context and memory round trip without JCuda), the JCuda runtime (its static CUDA 12 runtime on this driver), cuBLAS through Panama (which
 * library) and one fp16 and one bf16 GEMM through {@link JCudaRuntime} against a double-precision loop.
 * Without a GPU it says so and lists the cuBLAS libraries it would try. Exit status 1 when a path failed on a GPU.
 *
 * <p>With {@code --gemm-bench} it also times 8192 x 8192 x 8192 GEMMs (bf16 and fp16 in and out, fp32 accumulation)
 * through the same path: median of 10 event-timed runs after 3 warm-ups, in TFLOP/s.
 *
 * <p>Usage: {@code java --enable-native-access=ALL-UNNAMED -cp ... io.transfuse.cuda.jcuda.GpuStackReport [--gemm-bench]}
 */
public final class GpuStackReport {
    private GpuStackReport() {}

    /** The cuDNN that would run convolutions (version and file), or the one line saying it is missing. Needs no GPU. */
    static String cudnn() {
        try {
            CudnnLibrary lib = CudnnLibrary.open(CudnnLocator.system());
            long v = lib.version();
            return (v / 10000) + "." + (v / 100 % 100) + "." + (v % 100) + " (" + lib.library() + ")";
        } catch (CudnnException e) {
            return e.getMessage();
        }
    }

    public static void main(String[] args) {
        boolean ok = true;
        System.out.println("java: " + Runtime.version() + " (" + System.getProperty("java.vm.name") + ")");
        String absent = GpuProbe.absenceReason();
        System.out.println("driver (Panama, libcuda.so.1): " + (absent == null
                ? "OK, CUDA " + driverVersion() + ", " + GpuProbe.deviceCount() + " device(s)" : "none: " + absent));
        var candidates = CublasLocator.system().candidates();
        System.out.println("cuBLAS candidates: " + candidates.stream()
                .map(c -> c.library() + (c.searchPath() ? " (loader path)" : "")).toList());
        System.out.println("cuDNN (Panama, conv2d with -D" + CudnnConv2d.ENABLE_PROPERTY + "=on): " + cudnn());
        if (absent != null) {
            System.out.println("JCuda runtime / cuBLAS GEMMs: not tried (no GPU)");
            return;
        }
        String driverApi;
        try {
            driverApi = DriverApiCheck.run();
        } catch (RuntimeException e) {
            driverApi = "FAILED: " + e;
        }
        ok &= driverApi.startsWith("OK");
        System.out.println("driver API via Panama (no JCuda): " + driverApi);
        try {
            int[] rt = {0}, drv = {0};
            JCuda.cudaRuntimeGetVersion(rt);
            JCuda.cudaDriverGetVersion(drv);
            System.out.println("JCuda runtime: OK, its CUDA runtime " + rt[0] + " on driver API " + drv[0]);
        } catch (Throwable t) {
            ok = false;
            System.out.println("JCuda runtime: FAILED: " + t);
        }
        try (JCudaRuntime rt = new JCudaRuntime(0)) {
            System.out.println("device: " + rt.properties());
            System.out.println("GEMM library: " + rt.blasDescription());
            for (DType t : new DType[] {DType.F16, DType.BF16}) {
                double err = gemmError(rt, t);
                boolean pass = err <= (t == DType.F16 ? 1e-3 : 1e-2);
                ok &= pass;
                System.out.printf("cuBLAS GemmEx %s in, f32 out, 96x80x128: max relative error %.2e %s%n", t, err, pass ? "OK" : "FAILED");
            }
            if (java.util.Arrays.asList(args).contains("--gemm-bench")) {
                for (DType t : new DType[] {DType.BF16, DType.F16}) {
                    System.out.printf("GEMM 8192x8192x8192 %s (cuBLAS via Panama): %.1f TFLOP/s%n", t, gemmTflops(rt, t, 8192));
                }
            }
        } catch (Throwable t) {
            ok = false;
            System.out.println("JCudaRuntime with Panama cuBLAS: FAILED: " + t);
        }
        if (!ok) System.exit(1);
    }

    private static String driverVersion() {
        try (Arena a = Arena.ofConfined()) {
            SymbolLookup cuda = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
            MethodHandle get = NativeLibrary.downcall(cuda, "libcuda.so.1", "cuDriverGetVersion", FunctionDescriptor.of(JAVA_INT, ADDRESS));
            MemorySegment v = a.allocate(JAVA_INT);
            int rc = NativeLibrary.callInt(() -> (int) get.invokeExact(v));
            return rc == 0 ? v.get(JAVA_INT, 0) / 1000 + "." + v.get(JAVA_INT, 0) % 1000 / 10 : "? (CUresult " + rc + ")";
        }
    }

    /** C = A^T B (the linear layer's shape) in {@code t} with f32 output, against a double loop over the rounded inputs. */
    private static double gemmError(JCudaRuntime rt, DType t) {
        int m = 96, n = 80, k = 128;
        Random r = new Random(1);
        float[] a = new float[k * m], b = new float[k * n];
        try (Arena host = Arena.ofConfined()) {
            MemorySegment ha = host.allocate(2L * a.length), hb = host.allocate(2L * b.length), hc = host.allocate(4L * m * n);
            for (int i = 0; i < a.length; i++) a[i] = half(ha, i, r.nextFloat() * 2 - 1, t);
            for (int i = 0; i < b.length; i++) b[i] = half(hb, i, r.nextFloat() * 2 - 1, t);
            long da = rt.malloc(ha.byteSize()), db = rt.malloc(hb.byteSize()), dc = rt.malloc(hc.byteSize());
            try {
                GpuStream s = rt.defaultStream();
                rt.copyHostToDevice(s, ha, da, ha.byteSize());
                rt.copyHostToDevice(s, hb, db, hb.byteSize());
                // column-major: A is k x m (lda k) used transposed, B is k x n (ldb k), C is m x n (ldc m)
                rt.gemm(s, new Gemm(true, false, m, n, k, 1f, da, t, k, 0, db, t, k, 0, 0f, dc, DType.F32, m, 0, 1));
                rt.copyDeviceToHost(s, dc, hc, hc.byteSize());
            } finally {
                rt.free(da);
                rt.free(db);
                rt.free(dc);
            }
            double worst = 0, scale = 0;
            for (int j = 0; j < n; j++) {
                for (int i = 0; i < m; i++) {
                    double want = 0;
                    for (int p = 0; p < k; p++) want += (double) a[i * k + p] * b[j * k + p];
                    scale = Math.max(scale, Math.abs(want));
                    worst = Math.max(worst, Math.abs(want - hc.getAtIndex(JAVA_FLOAT, (long) j * m + i)));
                }
            }
            return worst / scale;
        }
    }

    /** Median TFLOP/s of n x n x n GEMMs in {@code t} (inputs left as allocated: timing only). */
    private static double gemmTflops(JCudaRuntime rt, DType t, int n) {
        long bytes = 2L * n * n;
        long a = rt.malloc(bytes), b = rt.malloc(bytes), c = rt.malloc(bytes);
        try {
            GpuStream s = rt.defaultStream();
            rt.memset(s, a, 0, bytes);
            rt.memset(s, b, 0, bytes);
            Gemm g = new Gemm(true, false, n, n, n, 1f, a, t, n, 0, b, t, n, 0, 0f, c, t, n, 0, 1);
            for (int i = 0; i < 3; i++) rt.gemm(s, g);
            double[] ms = new double[10];
            for (int i = 0; i < ms.length; i++) {
                try (var start = rt.recordEvent(s)) {
                    rt.gemm(s, g);
                    try (var end = rt.recordEvent(s)) {
                        end.synchronize();
                        ms[i] = end.millisSince(start);
                    }
                }
            }
            java.util.Arrays.sort(ms);
            return 2.0 * n * n * (double) n / (ms[ms.length / 2] * 1e-3) / 1e12;
        } finally {
            rt.free(a);
            rt.free(b);
            rt.free(c);
        }
    }

    /** Stores x rounded to t (f16 or bf16) at index i and returns the rounded value. */
    private static float half(MemorySegment seg, int i, float x, DType t) {
        short bits = t == DType.F16 ? Float.floatToFloat16(x) : bf16(x);
        seg.setAtIndex(JAVA_SHORT, i, bits);
        return t == DType.F16 ? Float.float16ToFloat(bits) : Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    private static short bf16(float x) {
        int u = Float.floatToRawIntBits(x);
        return (short) ((u + 0x7FFF + ((u >>> 16) & 1)) >>> 16); // round to nearest even
    }
}
