package io.transfuse.backend.cpu;

import io.transfuse.backend.NativeLibrary;
import io.transfuse.backend.RopeLayout;
import io.transfuse.tensor.DType;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The ops of libtransfuse_cpu (transfuse.h, section 1), one static method per C function.
 *
 * <p>Buffers are native {@link MemorySegment}s (arena allocations or mapped files); activations
 * are F32, row-major, {@code tokens} rows of {@code dim} values. Each method checks its arguments
 * before calling native code (dimensions positive, segments native, alive, writable where written,
 * and large enough for the dimensions, types supported, quantised rows whole blocks) and throws
 * {@link IllegalArgumentException} naming the offending argument: a bad call never reaches C.
 * Ops use {@link #getThreads()} OpenMP threads; small ops stay on the calling thread.
 */
public final class CpuOps {
    /** The C ABI version this binding expects ({@code tf_cpu_version}). */
    public static final int ABI_VERSION = 1;
    /** Largest head dimension {@link #attention} accepts. */
    public static final int MAX_HEAD_DIM = 1024;
    /** Longest sequence {@link #attentionBidirectional} accepts ({@code TF_CPU_MAX_ENCODER_SEQ}). */
    public static final int MAX_ENCODER_SEQ = 8192;

    /** Instruction sets of the kernels ({@code TF_CPU_ISA_*}). */
    public enum Isa { GENERIC, AVX2, AVX512 }

    private static final MethodHandle VERSION, SET_THREADS, GET_THREADS, SET_ISA, GET_ISA, BEST_ISA,
            MATMUL, MATMUL_BIAS, PACKED_F32_BYTES, PACK_F32, F32_AMX_ENABLED, PACKED_F32_AMX_BYTES, PACK_F32_AMX, RMSNORM, ROPE, ATTENTION, SILU_GLU, SOFTMAX, ADD, EMBEDDING,
            LAYERNORM, ADD_BIAS, GELU, BIAS_GELU, ATTENTION_BIDIRECTIONAL;

    static {
        VERSION = handle("tf_cpu_version", FunctionDescriptor.of(JAVA_INT));
        SET_THREADS = handle("tf_cpu_set_threads", FunctionDescriptor.ofVoid(JAVA_INT));
        GET_THREADS = handle("tf_cpu_get_threads", FunctionDescriptor.of(JAVA_INT));
        SET_ISA = handle("tf_cpu_set_isa", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        GET_ISA = handle("tf_cpu_get_isa", FunctionDescriptor.of(JAVA_INT));
        BEST_ISA = handle("tf_cpu_best_isa", FunctionDescriptor.of(JAVA_INT));
        MATMUL = handle("tf_cpu_matmul", FunctionDescriptor.ofVoid(
                ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
        MATMUL_BIAS = handle("tf_cpu_matmul_bias", FunctionDescriptor.ofVoid(
                ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
        PACKED_F32_BYTES = handle("tf_cpu_packed_f32_bytes", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_INT));
        PACK_F32 = handle("tf_cpu_pack_f32", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, JAVA_INT, JAVA_INT));
        F32_AMX_ENABLED = handle("tf_cpu_f32_amx_enabled", FunctionDescriptor.of(JAVA_INT));
        PACKED_F32_AMX_BYTES = handle("tf_cpu_packed_f32_amx_bytes", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_INT));
        PACK_F32_AMX = handle("tf_cpu_pack_f32_amx", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, JAVA_INT, JAVA_INT));
        RMSNORM = handle("tf_cpu_rmsnorm", FunctionDescriptor.ofVoid(
                ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_FLOAT));
        ROPE = handle("tf_cpu_rope", FunctionDescriptor.ofVoid(
                ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
        ATTENTION = handle("tf_cpu_attention", FunctionDescriptor.ofVoid(
                ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
        SILU_GLU = handle("tf_cpu_silu_glu", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
        SOFTMAX = handle("tf_cpu_softmax", FunctionDescriptor.ofVoid(ADDRESS, JAVA_INT, JAVA_INT));
        ADD = handle("tf_cpu_add", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
        EMBEDDING = handle("tf_cpu_embedding", FunctionDescriptor.ofVoid(
                ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
        LAYERNORM = handle("tf_cpu_layernorm", FunctionDescriptor.ofVoid(
                ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_FLOAT));
        ADD_BIAS = handle("tf_cpu_add_bias", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, JAVA_INT, JAVA_INT));
        GELU = handle("tf_cpu_gelu", FunctionDescriptor.ofVoid(ADDRESS, JAVA_LONG));
        BIAS_GELU = handle("tf_cpu_bias_gelu", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, JAVA_INT, JAVA_INT));
        ATTENTION_BIDIRECTIONAL = handle("tf_cpu_attention_bidirectional", FunctionDescriptor.ofVoid(
                ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
        int v = version();
        if (v != ABI_VERSION) {
            throw new IllegalStateException("libtransfuse_cpu has ABI version " + v + ", this binding expects "
                    + ABI_VERSION + " (mismatched transfuse-core build?)");
        }
    }

    private CpuOps() {}

    private static MethodHandle handle(String name, FunctionDescriptor fd) {
        return NativeLibrary.downcall(NativeLibrary.load("transfuse_cpu"), "libtransfuse_cpu", name, fd);
    }

    // ---- runtime -------------------------------------------------------------------------------

    /** The ABI version of the loaded library. */
    public static int version() {
        try {
            return (int) VERSION.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Sets the OpenMP threads the ops use (at least 1). */
    public static void setThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("threads must be >= 1, got " + n);
        try {
            SET_THREADS.invokeExact(n);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The OpenMP threads the ops use (default: one per processor). */
    public static int getThreads() {
        try {
            return (int) GET_THREADS.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The instruction set the kernels use now. */
    public static Isa isa() {
        try {
            return Isa.values()[(int) GET_ISA.invokeExact()];
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The best instruction set this CPU supports (the default choice). */
    public static Isa bestIsa() {
        try {
            return Isa.values()[(int) BEST_ISA.invokeExact()];
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Forces the kernels' instruction set (tests, benchmarks); returns false, changing nothing,
     * when this CPU lacks it. Not safe while other threads run ops.
     */
    public static boolean setIsa(Isa isa) {
        try {
            return (int) SET_ISA.invokeExact(isa.ordinal()) >= 0;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- ops -----------------------------------------------------------------------------------

    /**
     * {@code out[t][o] = sum_i w[o][i] * x[t][i]}: x F32 [tokens][inDim], w [outDim][inDim] of
     * {@code wType} (F32, F16, BF16, Q8_0, Q4_0, F32_PANELS from {@link #packF32} or F32_AMX from
     * {@link #packF32Amx}; quantised types
     * need inDim % 32 == 0), out F32 [tokens][outDim], not overlapping x or w. With Q8_0/Q4_0 weights x
     * is first quantised to int8 per block of 32 (as transfuse.h describes), which adds up to half a
     * quantisation step per element of x to the result's error.
     */
    public static void matmul(MemorySegment out, MemorySegment x, MemorySegment w, DType wType,
                              int tokens, int inDim, int outDim) {
        int type = checkMatmul(out, x, w, wType, tokens, inDim, outDim);
        try {
            MATMUL.invokeExact(out, x, w, type, tokens, inDim, outDim);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * A Linear layer: {@link #matmul}, then {@code out[t][o] += bias[o]}, then with {@code gelu} GELU as in
     * {@link #gelu}; the same result as those calls in turn. With F32_PANELS or F32_AMX weights the bias and GELU are
     * applied to each block of output as the matmul writes it, inside its parallel region.
     */
    public static void matmulBias(MemorySegment out, MemorySegment x, MemorySegment w, DType wType,
                                  int tokens, int inDim, int outDim, MemorySegment bias, boolean gelu) {
        int type = checkMatmul(out, x, w, wType, tokens, inDim, outDim);
        readable("bias", bias, (long) outDim * 4);
        disjoint("out", out, (long) tokens * outDim * 4, "bias", bias, (long) outDim * 4);
        try {
            MATMUL_BIAS.invokeExact(out, x, w, type, tokens, inDim, outDim, bias, gelu ? ACT_GELU : ACT_NONE);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** transfuse.h's TF_CPU_ACT_NONE and TF_CPU_ACT_GELU. */
    private static final int ACT_NONE = 0, ACT_GELU = 1;

    /** Checks matmul's arguments (naming the one at fault); returns the native weight-type code. */
    private static int checkMatmul(MemorySegment out, MemorySegment x, MemorySegment w, DType wType,
                                   int tokens, int inDim, int outDim) {
        positive("tokens", tokens);
        positive("inDim", inDim);
        positive("outDim", outDim);
        boolean panels = wType == DType.F32_PANELS, amx = wType == DType.F32_AMX;
        if (!panels && !amx) weightType("wType", wType, inDim, "inDim");
        long wBytes = panels ? packedF32Bytes(inDim, outDim)
                : amx ? packedF32AmxBytes(inDim, outDim) : (long) outDim * wType.bytesFor(inDim);
        writable("out", out, (long) tokens * outDim * 4);
        readable("x", x, (long) tokens * inDim * 4);
        readable("w", w, wBytes);
        disjoint("out", out, (long) tokens * outDim * 4, "x", x, (long) tokens * inDim * 4);
        disjoint("out", out, (long) tokens * outDim * 4, "w", w, wBytes);
        return panels ? F32_PANELS_CODE : amx ? F32_AMX_CODE : wType.ggmlType();
    }

    /** transfuse.h's TF_CPU_F32_PANELS and TF_CPU_F32_AMX: the weight-type codes of {@link DType#F32_PANELS}
     * and {@link DType#F32_AMX}. */
    private static final int F32_PANELS_CODE = 200, F32_AMX_CODE = 201;

    /** Bytes of an F32 [outDim][inDim] weight in column panels (whole panels of 32 output columns). */
    public static long packedF32Bytes(int inDim, int outDim) {
        return packedBytes(PACKED_F32_BYTES, inDim, outDim);
    }

    /**
     * Writes w (F32 [outDim][inDim]) into dst ({@link #packedF32Bytes} bytes) as column panels, the
     * layout matmul reads as {@link DType#F32_PANELS}: prefill of any length then runs the outer-product
     * kernel without repacking per call.
     */
    public static void packF32(MemorySegment dst, MemorySegment w, int inDim, int outDim) {
        pack(PACK_F32, packedF32Bytes(inDim, outDim), dst, w, inDim, outDim);
    }

    /**
     * True when matmul of {@link DType#F32_AMX} weights runs on AMX tiles now: a CPU with AMX-BF16, the
     * OS allows it, the AVX-512 instruction set chosen, and TRANSFUSE_CPU_AMX not 0. Then
     * {@link #packF32Amx} makes prefill faster than {@link #packF32} (f32-accurate, not bit-identical to
     * a plain f32 loop: transfuse.h, tf_cpu_f32_amx_enabled).
     */
    public static boolean f32AmxEnabled() {
        try {
            return (int) F32_AMX_ENABLED.invokeExact() != 0;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Bytes of an F32 [outDim][inDim] weight in the AMX layout (both dimensions padded to multiples of 32, 6 bytes each). */
    public static long packedF32AmxBytes(int inDim, int outDim) {
        return packedBytes(PACKED_F32_AMX_BYTES, inDim, outDim);
    }

    /**
     * Writes w (F32 [outDim][inDim], finite values) into dst ({@link #packedF32AmxBytes} bytes) as three
     * bf16 parts in AMX tile order, the layout matmul reads as {@link DType#F32_AMX}.
     */
    public static void packF32Amx(MemorySegment dst, MemorySegment w, int inDim, int outDim) {
        pack(PACK_F32_AMX, packedF32AmxBytes(inDim, outDim), dst, w, inDim, outDim);
    }

    /** A packed layout's size function (long f(int inDim, int outDim)), after checking the dimensions. */
    private static long packedBytes(MethodHandle sizeOf, int inDim, int outDim) {
        positive("inDim", inDim);
        positive("outDim", outDim);
        try {
            return (long) sizeOf.invokeExact(inDim, outDim);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** A packing function (void f(dst, w, inDim, outDim)) into dst of `bytes`, after checking the segments. */
    private static void pack(MethodHandle packer, long bytes, MemorySegment dst, MemorySegment w, int inDim, int outDim) {
        long wBytes = (long) inDim * outDim * 4;
        writable("dst", dst, bytes);
        readable("w", w, wBytes);
        disjoint("dst", dst, bytes, "w", w, wBytes);
        try {
            packer.invokeExact(dst, w, inDim, outDim);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code out[t] = x[t] / sqrt(mean(x[t]^2) + eps) * weight} over [tokens][dim]; out may be x. */
    public static void rmsnorm(MemorySegment out, MemorySegment x, MemorySegment weight, int tokens, int dim, float eps) {
        positive("tokens", tokens);
        positive("dim", dim);
        if (!(eps >= 0) || Float.isInfinite(eps)) throw new IllegalArgumentException("eps must be finite and >= 0, got " + eps);
        long bytes = (long) tokens * dim * 4;
        writable("out", out, bytes);
        readable("x", x, bytes);
        readable("weight", weight, (long) dim * 4);
        try {
            RMSNORM.invokeExact(out, x, weight, tokens, dim, eps);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Rotary position embedding, in place on x [tokens][heads][headDim]; token t is at position
     * {@code startPos + t}. The first {@code rotaryDim} values of each head (even, at most headDim)
     * are rotated by angles {@code pos * invFreq[i]}, i < rotaryDim / 2, paired as {@code layout} says.
     */
    public static void rope(MemorySegment x, int tokens, int heads, int headDim, int rotaryDim, int startPos,
                            MemorySegment invFreq, RopeLayout layout) {
        positive("tokens", tokens);
        positive("heads", heads);
        positive("headDim", headDim);
        positive("rotaryDim", rotaryDim);
        if (rotaryDim % 2 != 0 || rotaryDim > headDim) {
            throw new IllegalArgumentException("rotaryDim must be even and <= headDim " + headDim + ", got " + rotaryDim);
        }
        nonNegative("startPos", startPos);
        if ((long) startPos + tokens > Integer.MAX_VALUE) throw new IllegalArgumentException("startPos + tokens overflows");
        if (layout == null) throw new IllegalArgumentException("layout is null");
        writable("x", x, (long) tokens * heads * headDim * 4);
        readable("invFreq", invFreq, (long) (rotaryDim / 2) * 4);
        try {
            ROPE.invokeExact(x, tokens, heads, headDim, rotaryDim, startPos, invFreq, layout.ordinal());
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Causal grouped-query attention. q and out are [tokens][heads][headDim] for positions
     * startPos..startPos+tokens-1; cache row p of k and v starts at float {@code p * kvStride}
     * and holds [kvHeads][headDim]; rows 0..startPos+tokens-1 are read. Query head h reads kv head
     * {@code h / (heads / kvHeads)}; scores are scaled by 1/sqrt(headDim). out must not overlap q.
     */
    public static void attention(MemorySegment out, MemorySegment q, MemorySegment k, MemorySegment v,
                                 int tokens, int startPos, int heads, int kvHeads, int headDim, int kvStride) {
        positive("tokens", tokens);
        nonNegative("startPos", startPos);
        positive("heads", heads);
        positive("kvHeads", kvHeads);
        positive("headDim", headDim);
        if (headDim > MAX_HEAD_DIM) throw new IllegalArgumentException("headDim must be <= " + MAX_HEAD_DIM + ", got " + headDim);
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException("heads (" + heads + ") must be a multiple of kvHeads (" + kvHeads + ")");
        }
        if ((long) kvStride < (long) kvHeads * headDim) {
            throw new IllegalArgumentException("kvStride must be >= kvHeads * headDim = " + (long) kvHeads * headDim + ", got " + kvStride);
        }
        if ((long) startPos + tokens > Integer.MAX_VALUE) throw new IllegalArgumentException("startPos + tokens overflows");
        long qBytes = (long) tokens * heads * headDim * 4;
        long kvBytes = ((long) (startPos + tokens - 1) * kvStride + (long) kvHeads * headDim) * 4;
        writable("out", out, qBytes);
        readable("q", q, qBytes);
        readable("k", k, kvBytes);
        readable("v", v, kvBytes);
        disjoint("out", out, qBytes, "q", q, qBytes);
        disjoint("out", out, qBytes, "k", k, kvBytes);
        disjoint("out", out, qBytes, "v", v, kvBytes);
        try {
            ATTENTION.invokeExact(out, q, k, v, tokens, startPos, heads, kvHeads, headDim, kvStride);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code out = silu(gate) * up} over n values; out may be gate or up. */
    public static void siluGlu(MemorySegment out, MemorySegment gate, MemorySegment up, long n) {
        nonNegative("n", n);
        writable("out", out, n * 4);
        readable("gate", gate, n * 4);
        readable("up", up, n * 4);
        if (n == 0) return;
        try {
            SILU_GLU.invokeExact(out, gate, up, n);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Row-wise softmax of x [rows][n], in place. */
    public static void softmax(MemorySegment x, int rows, int n) {
        positive("rows", rows);
        positive("n", n);
        writable("x", x, (long) rows * n * 4);
        try {
            SOFTMAX.invokeExact(x, rows, n);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code out = a + b} over n values; out may be a or b. */
    public static void add(MemorySegment out, MemorySegment a, MemorySegment b, long n) {
        nonNegative("n", n);
        writable("out", out, n * 4);
        readable("a", a, n * 4);
        readable("b", b, n * 4);
        if (n == 0) return;
        try {
            ADD.invokeExact(out, a, b, n);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Gathers rows {@code ids[0..tokens)} (int32) of {@code table} [vocab][dim] of {@code type}
     * into out [tokens][dim] as F32. vocab is {@code table.byteSize() / rowBytes}; every id must
     * be in [0, vocab).
     */
    public static void embedding(MemorySegment out, MemorySegment table, DType type, MemorySegment ids,
                                 int tokens, int dim) {
        positive("tokens", tokens);
        positive("dim", dim);
        weightType("type", type, dim, "dim");
        writable("out", out, (long) tokens * dim * 4);
        readable("ids", ids, (long) tokens * 4);
        long rowBytes = type.bytesFor(dim);
        readable("table", table, rowBytes);
        long vocab = table.byteSize() / rowBytes;
        for (int t = 0; t < tokens; t++) {
            int id = ids.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, t);
            if (id < 0 || id >= vocab) {
                throw new IllegalArgumentException("ids[" + t + "] = " + id + " is outside the table's vocabulary [0, " + vocab + ")");
            }
        }
        try {
            EMBEDDING.invokeExact(out, table, type.ggmlType(), ids, tokens, dim);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- Mamba-1 ops (ssm_ops.cpp) -------------------------------------------------------------

    /** Largest kernel width {@link #causalConv1d} accepts ({@code TF_CPU_MAX_CONV_WIDTH}). */
    public static final int MAX_CONV_WIDTH = 4;
    /** Largest state size {@link #selectiveScan} accepts ({@code TF_CPU_MAX_DSTATE}, as the CUDA kernel). */
    public static final int MAX_DSTATE = 256;

    private static final MethodHandle CAUSAL_CONV1D = handle("tf_cpu_causal_conv1d", FunctionDescriptor.ofVoid(
            ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle SELECTIVE_SCAN = handle("tf_cpu_selective_scan", FunctionDescriptor.ofVoid(
            ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
            JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));

    /**
     * Causal depthwise conv1d over x [tokens][dim] with kernel width 1..{@value #MAX_CONV_WIDTH}:
     * {@code out[t][d] = bias[d] + sum_k weight[d][k] * in(t - (width-1) + k)}, then SiLU when
     * {@code silu}, where inputs before token 0 come from {@code convState} [dim][width-1] (the
     * previous width-1 inputs, oldest first; zeros at the start of a sequence). convState is updated
     * to the last width-1 inputs. weight [dim][width]; bias [dim] or null. out may be x itself
     * (exactly), convState overlaps neither. One token is a decode step.
     */
    public static void causalConv1d(MemorySegment out, MemorySegment convState, MemorySegment x, MemorySegment weight,
                                    MemorySegment bias, int tokens, int dim, int width, boolean silu) {
        positive("tokens", tokens);
        positive("dim", dim);
        positive("width", width);
        if (width > MAX_CONV_WIDTH) throw new IllegalArgumentException("width must be <= " + MAX_CONV_WIDTH + ", got " + width);
        long act = (long) tokens * dim * 4, stateBytes = (long) dim * (width - 1) * 4;
        writable("out", out, act);
        readable("x", x, act);
        writable("convState", convState, stateBytes);
        readable("weight", weight, (long) dim * width * 4);
        if (bias != null) readable("bias", bias, (long) dim * 4);
        if (out.address() != x.address()) disjoint("out", out, act, "x", x, act);
        disjoint("convState", convState, stateBytes, "out", out, act);
        disjoint("convState", convState, stateBytes, "x", x, act);
        try {
            CAUSAL_CONV1D.invokeExact(out, convState, x, weight, orNull(bias),
                    tokens, dim, width, silu ? 1 : 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Mamba-1 selective scan over [tokens][dim], carrying {@code state} [dim][dstate] (F32, in/out;
     * zeros at the start of a sequence). Per channel d, state n and token t:
     * {@code dt = delta[t][d] + deltaBias[d]} (softplus'd when {@code deltaSoftplus});
     * {@code state[d][n] = exp(dt A[d][n]) state[d][n] + dt B[t][n] u[t][d]};
     * {@code out[t][d] = (sum_n state[d][n] C[t][n] + D[d] u[t][d]) * silu(z[t][d])}.
     * B, C [tokens][dstate]; A [dim][dstate] (dstate <= {@value #MAX_DSTATE}); D, deltaBias [dim]. D, z and deltaBias may be null
     * (no skip term, no gate, no bias). out may be u, delta or z itself (exactly); nothing else overlaps.
     */
    public static void selectiveScan(MemorySegment out, MemorySegment state, MemorySegment u, MemorySegment delta,
                                     MemorySegment a, MemorySegment b, MemorySegment c, MemorySegment d,
                                     MemorySegment z, MemorySegment deltaBias, int tokens, int dim, int dstate,
                                     boolean deltaSoftplus) {
        positive("tokens", tokens);
        positive("dim", dim);
        positive("dstate", dstate);
        if (dstate > MAX_DSTATE) throw new IllegalArgumentException("dstate must be <= " + MAX_DSTATE + ", got " + dstate);
        long act = (long) tokens * dim * 4, stateBytes = (long) dim * dstate * 4, bc = (long) tokens * dstate * 4;
        writable("out", out, act);
        writable("state", state, stateBytes);
        readable("u", u, act);
        readable("delta", delta, act);
        readable("A", a, stateBytes);
        readable("B", b, bc);
        readable("C", c, bc);
        if (d != null) readable("D", d, (long) dim * 4);
        if (z != null) readable("z", z, act);
        if (deltaBias != null) readable("deltaBias", deltaBias, (long) dim * 4);
        if (out.address() != u.address()) disjoint("out", out, act, "u", u, act);
        if (out.address() != delta.address()) disjoint("out", out, act, "delta", delta, act);
        if (z != null && out.address() != z.address()) disjoint("out", out, act, "z", z, act);
        disjoint("out", out, act, "B", b, bc);
        disjoint("out", out, act, "C", c, bc);
        disjoint("state", state, stateBytes, "out", out, act);
        disjoint("state", state, stateBytes, "u", u, act);
        disjoint("state", state, stateBytes, "delta", delta, act);
        disjoint("state", state, stateBytes, "A", a, stateBytes);
        disjoint("state", state, stateBytes, "B", b, bc);
        disjoint("state", state, stateBytes, "C", c, bc);
        if (z != null) disjoint("state", state, stateBytes, "z", z, act);
        try {
            SELECTIVE_SCAN.invokeExact(out, state, u, delta, a, b, c, orNull(d), orNull(z), orNull(deltaBias),
                    tokens, dim, dstate, deltaSoftplus ? 1 : 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static MemorySegment orNull(MemorySegment s) {
        return s == null ? MemorySegment.NULL : s;
    }

    // ---- encoder ops (encoder_ops.cpp) ----------------------------------------------------------

    /**
     * LayerNorm over [tokens][dim] of {@code y = x + xBias + residual}, where xBias ([dim], a Linear
     * layer's bias) and residual ([tokens][dim]) may each be null:
     * {@code out[t] = (y[t] - mean) / sqrt(var + eps) * weight + bias}, biased variance.
     * out may alias x or residual.
     */
    public static void layerNorm(MemorySegment out, MemorySegment x, MemorySegment xBias, MemorySegment residual,
                                 MemorySegment weight, MemorySegment bias, int tokens, int dim, float eps) {
        positive("tokens", tokens);
        positive("dim", dim);
        if (!(eps >= 0) || Float.isInfinite(eps)) throw new IllegalArgumentException("eps must be finite and >= 0, got " + eps);
        long bytes = (long) tokens * dim * 4;
        writable("out", out, bytes);
        readable("x", x, bytes);
        if (xBias != null) readable("xBias", xBias, (long) dim * 4);
        if (residual != null) readable("residual", residual, bytes);
        readable("weight", weight, (long) dim * 4);
        readable("bias", bias, (long) dim * 4);
        MemorySegment xb = xBias == null ? MemorySegment.NULL : xBias;
        MemorySegment res = residual == null ? MemorySegment.NULL : residual;
        try {
            LAYERNORM.invokeExact(out, x, xb, res, weight, bias, tokens, dim, eps);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code x[r][i] += bias[i]} over [rows][dim], in place. */
    public static void addBias(MemorySegment x, MemorySegment bias, int rows, int dim) {
        positive("rows", rows);
        positive("dim", dim);
        writable("x", x, (long) rows * dim * 4);
        readable("bias", bias, (long) dim * 4);
        try {
            ADD_BIAS.invokeExact(x, bias, rows, dim);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** GELU (erf form) in place over n values: {@code x * 0.5 * (1 + erf(x / sqrt 2))}, within ~1e-7 * |x|. */
    public static void gelu(MemorySegment x, long n) {
        nonNegative("n", n);
        writable("x", x, n * 4);
        if (n == 0) return;
        try {
            GELU.invokeExact(x, n);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code x[r] = gelu(x[r] + bias)} over [rows][dim], in place (GELU as in {@link #gelu}). */
    public static void biasGelu(MemorySegment x, MemorySegment bias, int rows, int dim) {
        positive("rows", rows);
        positive("dim", dim);
        writable("x", x, (long) rows * dim * 4);
        readable("bias", bias, (long) dim * 4);
        try {
            BIAS_GELU.invokeExact(x, bias, rows, dim);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Non-causal multi-head attention over a padded batch of {@code batch} sequences of
     * {@code seqLen} rows. Row {@code r = b * seqLen + i} of q, k and v holds [heads][headDim] from
     * float {@code r * qkvStride} (q, k, v may be column blocks of one fused QKV buffer); out is
     * [batch * seqLen][heads * headDim]. {@code lengths} (int32 [batch], each in 0..seqLen) gives each
     * sequence's real rows: keys at or past it are masked, query rows at or past it become zeros.
     * Scale 1/sqrt(headDim). out must not overlap q, k or v.
     */
    public static void attentionBidirectional(MemorySegment out, MemorySegment q, MemorySegment k, MemorySegment v,
                                              MemorySegment lengths, int batch, int seqLen, int heads, int headDim,
                                              int qkvStride) {
        positive("batch", batch);
        positive("seqLen", seqLen);
        positive("heads", heads);
        positive("headDim", headDim);
        if (seqLen > MAX_ENCODER_SEQ) throw new IllegalArgumentException("seqLen must be <= " + MAX_ENCODER_SEQ + ", got " + seqLen);
        long width = (long) heads * headDim;
        if (qkvStride < width) throw new IllegalArgumentException("qkvStride must be >= heads * headDim = " + width + ", got " + qkvStride);
        long rows = (long) batch * seqLen;
        long outBytes = rows * width * 4;
        long inBytes = ((rows - 1) * qkvStride + width) * 4;
        writable("out", out, outBytes);
        readable("q", q, inBytes);
        readable("k", k, inBytes);
        readable("v", v, inBytes);
        readable("lengths", lengths, (long) batch * 4);
        disjoint("out", out, outBytes, "q", q, inBytes);
        disjoint("out", out, outBytes, "k", k, inBytes);
        disjoint("out", out, outBytes, "v", v, inBytes);
        for (int b = 0; b < batch; b++) {
            int len = lengths.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, b);
            if (len < 0 || len > seqLen) {
                throw new IllegalArgumentException("lengths[" + b + "] = " + len + " is outside [0, seqLen " + seqLen + "]");
            }
        }
        try {
            ATTENTION_BIDIRECTIONAL.invokeExact(out, q, k, v, lengths, batch, seqLen, heads, headDim, qkvStride);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- argument checks ---------------------------------------------------------------------

    private static void positive(String name, long v) {
        if (v <= 0) throw new IllegalArgumentException(name + " must be > 0, got " + v);
    }

    private static void nonNegative(String name, long v) {
        if (v < 0) throw new IllegalArgumentException(name + " must be >= 0, got " + v);
    }

    private static void weightType(String name, DType type, int inner, String innerName) {
        if (type == null) throw new IllegalArgumentException(name + " is null");
        switch (type) {
            case F32, F16, BF16 -> { }
            case Q8_0, Q4_0 -> {
                if (inner % type.blockSize() != 0) {
                    throw new IllegalArgumentException(innerName + " must be a multiple of " + type.blockSize()
                            + " for " + name + " " + type + ", got " + inner);
                }
            }
            default -> throw new IllegalArgumentException(name + " " + type + " is not supported by the CPU backend"
                    + " (F32, F16, BF16, Q8_0, Q4_0)");
        }
    }

    private static void readable(String name, MemorySegment s, long bytes) {
        if (s == null) throw new IllegalArgumentException(name + " is null");
        if (!s.isNative()) throw new IllegalArgumentException(name + " must be a native segment (not heap memory)");
        if (!s.scope().isAlive()) throw new IllegalArgumentException(name + " belongs to a closed arena");
        if (s.byteSize() < bytes) {
            throw new IllegalArgumentException(name + " holds " + s.byteSize() + " bytes, needs " + bytes);
        }
    }

    private static void writable(String name, MemorySegment s, long bytes) {
        readable(name, s, bytes);
        if (s.isReadOnly()) throw new IllegalArgumentException(name + " is read-only");
    }

    /** The first aBytes of a and the first bBytes of b (both already checked to exist) must not overlap. */
    private static void disjoint(String an, MemorySegment a, long aBytes, String bn, MemorySegment b, long bBytes) {
        long a0 = a.address(), b0 = b.address();
        if (a0 < b0 + bBytes && b0 < a0 + aBytes) {
            throw new IllegalArgumentException(an + " must not overlap " + bn);
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }
}
