package io.transfuse.backend.cpu;

import io.transfuse.backend.NativeLibrary;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The RWKV ops of libtransfuse_cpu (transfuse.h section 1, rwkv_ops.cpp) bound through Panama. Callers
 * ({@link CpuBackend}) check shapes with {@code RwkvChecks} first; this class checks that every segment holds what
 * the op reads or writes, so a wrong size is an exception, never a native crash.
 */
public final class CpuRwkvOps {
    private static final MethodHandle
            TOKEN_SHIFT = handle("tf_cpu_rwkv_token_shift", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT)),
            TOKEN_MIX = handle("tf_cpu_rwkv_token_mix", FunctionDescriptor.ofVoid(
                    ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT)),
            POINTWISE = handle("tf_cpu_rwkv_pointwise", FunctionDescriptor.ofVoid(ADDRESS, JAVA_LONG, JAVA_INT)),
            WKV6 = handle("tf_cpu_rwkv_wkv6", FunctionDescriptor.ofVoid(
                    ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT)),
            WKV7 = handle("tf_cpu_rwkv_wkv7", FunctionDescriptor.ofVoid(
                    ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                    JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT));

    /** Largest head size of the WKV ops ({@code TF_CPU_MAX_WKV_HEAD}). */
    public static final int MAX_HEAD_SIZE = 256;

    private CpuRwkvOps() {}

    private static MethodHandle handle(String name, FunctionDescriptor fd) {
        return NativeLibrary.downcall(NativeLibrary.load("transfuse_cpu"), "libtransfuse_cpu", name, fd);
    }

    /** Binds the ops (class initialisation); for the native-image metadata test. */
    public static void bind() {}

    public static void tokenShift(MemorySegment out, MemorySegment state, MemorySegment x, int tokens, int dim, boolean fresh) {
        long bytes = 4L * tokens * dim;
        need("out", out, bytes);
        need("x", x, bytes);
        need("state", state, 4L * dim);
        NativeLibrary.call(() -> { TOKEN_SHIFT.invokeExact(out, state, x, tokens, dim, fresh ? 1 : 0); });
    }

    public static void tokenMix(MemorySegment out, MemorySegment x, MemorySegment sx, MemorySegment mix, int mixRows, MemorySegment bias,
                                int tokens, int dim) {
        long bytes = 4L * tokens * dim;
        need("out", out, bytes);
        need("x", x, bytes);
        need("sx", sx, bytes);
        need("mix", mix, 4L * mixRows * dim);
        if (mixRows != 1 && mixRows != tokens) throw new IllegalArgumentException("mix must have 1 or " + tokens + " rows, got " + mixRows);
        MemorySegment b = bias == null ? MemorySegment.NULL : need("bias", bias, 4L * dim);
        NativeLibrary.call(() -> { TOKEN_MIX.invokeExact(out, x, sx, mix, mixRows, b, tokens, dim); });
    }

    public static void pointwise(MemorySegment x, long n, int fn) {
        need("x", x, 4L * n);
        NativeLibrary.call(() -> { POINTWISE.invokeExact(x, n, fn); });
    }

    public static void wkv6(MemorySegment out, MemorySegment state, MemorySegment r, MemorySegment k, MemorySegment v, MemorySegment w,
                            MemorySegment u, MemorySegment lnW, MemorySegment lnB, int tokens, int heads, int headSize, float eps) {
        long dim = (long) heads * headSize, act = 4L * tokens * dim;
        head(headSize);
        need("out", out, act);
        need("state", state, 4L * dim * headSize);
        need("r", r, act);
        need("k", k, act);
        need("v", v, act);
        need("w", w, act);
        need("u", u, 4L * dim);
        need("lnWeight", lnW, 4L * dim);
        need("lnBias", lnB, 4L * dim);
        NativeLibrary.call(() -> { WKV6.invokeExact(out, state, r, k, v, w, u, lnW, lnB, tokens, heads, headSize, eps); });
    }

    public static void wkv7(MemorySegment out, MemorySegment state, MemorySegment r, MemorySegment w, MemorySegment k, MemorySegment v,
                            MemorySegment a, MemorySegment vFirst, MemorySegment vMix, MemorySegment kK, MemorySegment kA, MemorySegment rK,
                            MemorySegment lnW, MemorySegment lnB, int tokens, int heads, int headSize, float eps) {
        long dim = (long) heads * headSize, act = 4L * tokens * dim;
        head(headSize);
        need("out", out, act);
        need("state", state, 4L * dim * headSize);
        need("r", r, act);
        need("w", w, act);
        need("k", k, act);
        need("v", v, act);
        need("a", a, act);
        if ((vFirst == null) != (vMix == null)) throw new IllegalArgumentException("vFirst and vMix must both be given or both be null");
        MemorySegment vf = vFirst == null ? MemorySegment.NULL : need("vFirst", vFirst, act);
        MemorySegment vm = vMix == null ? MemorySegment.NULL : need("vMix", vMix, act);
        need("kK", kK, 4L * dim);
        need("kA", kA, 4L * dim);
        need("rK", rK, 4L * dim);
        need("lnWeight", lnW, 4L * dim);
        need("lnBias", lnB, 4L * dim);
        NativeLibrary.call(() -> { WKV7.invokeExact(out, state, r, w, k, v, a, vf, vm, kK, kA, rK, lnW, lnB, tokens, heads, headSize, eps); });
    }

    private static void head(int headSize) {
        if (headSize < 1 || headSize > MAX_HEAD_SIZE) {
            throw new IllegalArgumentException("head size must be in [1, " + MAX_HEAD_SIZE + "], got " + headSize);
        }
    }

    private static MemorySegment need(String name, MemorySegment s, long bytes) {
        if (s == null || s.byteSize() < bytes) {
            throw new IllegalArgumentException(name + ": " + (s == null ? "null" : s.byteSize() + " bytes") + " cannot hold the " + bytes
                    + " bytes the op reads or writes");
        }
        return s;
    }
}
