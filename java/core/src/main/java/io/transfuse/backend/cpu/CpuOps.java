package io.transfuse.backend.cpu;

import io.transfuse.backend.Activation;
import io.transfuse.backend.Conv2d;
import io.transfuse.backend.NativeLibrary;
import io.transfuse.backend.RopeLayout;
import io.transfuse.tensor.DType;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Arrays;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The ops of libtransfuse_cpu (transfuse.h, section 1), one static method per C function.
 *
 * <p>Buffers are native {@link MemorySegment}s (arena allocations or mapped files); activations
 * are F32, row-major, {@code rows} of {@code dim} values. Each method checks its arguments
 * before calling native code (dimensions positive, segments native, alive, writable where written,
 * and large enough for the dimensions, outputs not overlapping inputs unless the op allows it, types
 * supported, quantised rows whole blocks, and for the paged KV cache every sequence id, position and
 * block id that the op would follow) and throws {@link IllegalArgumentException} naming the offending
 * argument: a bad call never reaches C. A {@code null} segment is C's NULL where the op allows one.
 * Ops use {@link #getThreads()} threads (the caller and libtransfuse_cpu's pool); small ops stay on the calling thread.
 *
 * <p>The paged KV cache (shared with the CUDA kernels): per layer, {@code kCache} and {@code vCache}
 * are F32 or F16 (the {@code kvType} argument; F16 stores each value rounded to nearest even and widens it
 * on every read) [numBlocks][blockSize][kvHeads][headDim], numBlocks being {@code kCache.byteSize()} divided by
 * the bytes of one block; position p of a sequence lives in block {@code blockTable[row][p / blockSize]},
 * slot {@code p % blockSize}, with blockTable int32 [rows][maxBlocksPerSeq].
 */
public final class CpuOps {
    /** The C ABI version this binding expects ({@code tf_cpu_version}). */
    public static final int ABI_VERSION = 4;
    /** Largest head dimension of {@link #ropeKvCache} and the attention ops ({@code TF_CPU_MAX_HEAD_DIM}). */
    public static final int MAX_HEAD_DIM = 1024;
    /** Largest kernel width {@link #causalConv1d} accepts ({@code TF_CPU_MAX_CONV_WIDTH}). */
    public static final int MAX_CONV_WIDTH = 4;
    /** Largest state size {@link #selectiveScan} accepts ({@code TF_CPU_MAX_DSTATE}, as the CUDA kernel). */
    public static final int MAX_DSTATE = 256;
    /** Largest state size {@link #ssdScan} accepts ({@code TF_CPU_MAX_SSD_STATE}). */
    public static final int MAX_SSD_STATE = 256;
    /** Most tokens per window of {@link #windowAttention} ({@code TF_CPU_WINDOW_MAX_TOKENS}: window 12). */
    public static final int MAX_WINDOW_TOKENS = 144;
    /** Largest head dimension of {@link #windowAttention} ({@code TF_CPU_WINDOW_MAX_HEAD_DIM}). */
    public static final int MAX_WINDOW_HEAD_DIM = 64;

    /** Instruction sets of the kernels ({@code TF_CPU_ISA_*}). */
    public enum Isa { GENERIC, AVX2, AVX512 }

    private static final MethodHandle
            VERSION = handle("tf_cpu_version", FunctionDescriptor.of(JAVA_INT)),
            SET_THREADS = handle("tf_cpu_set_threads", FunctionDescriptor.ofVoid(JAVA_INT)),
            GET_THREADS = handle("tf_cpu_get_threads", FunctionDescriptor.of(JAVA_INT)),
            SET_ISA = handle("tf_cpu_set_isa", FunctionDescriptor.of(JAVA_INT, JAVA_INT)),
            GET_ISA = handle("tf_cpu_get_isa", FunctionDescriptor.of(JAVA_INT)),
            BEST_ISA = handle("tf_cpu_best_isa", FunctionDescriptor.of(JAVA_INT)),
            MATMUL = handle("tf_cpu_matmul", FunctionDescriptor.ofVoid(
                    ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT)),
            MATMUL_BIAS = handle("tf_cpu_matmul_bias", FunctionDescriptor.ofVoid(
                    ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT)),
            PACKED_F32_BYTES = handle("tf_cpu_packed_f32_bytes", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_INT)),
            PACK_F32 = handle("tf_cpu_pack_f32", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, JAVA_INT, JAVA_INT)),
            F32_AMX_ENABLED = handle("tf_cpu_f32_amx_enabled", FunctionDescriptor.of(JAVA_INT)),
            PACKED_F32_AMX_BYTES = handle("tf_cpu_packed_f32_amx_bytes", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_INT)),
            PACK_F32_AMX = handle("tf_cpu_pack_f32_amx", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, JAVA_INT, JAVA_INT)),
            ROWS16_TYPE = handle("tf_cpu_rows16_type", FunctionDescriptor.of(JAVA_INT, JAVA_INT)),
            PACKED_ROWS16_BYTES = handle("tf_cpu_packed_rows16_bytes", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT)),
            PACK_ROWS16 = handle("tf_cpu_pack_rows16", FunctionDescriptor.ofVoid(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT)),
            RMSNORM = handle("tf_cpu_rmsnorm", FunctionDescriptor.ofVoid(
                    ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_FLOAT)),
            LAYERNORM = handle("tf_cpu_layernorm", FunctionDescriptor.ofVoid(
                    ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_FLOAT)),
            BIAS_ACT = handle("tf_cpu_bias_act", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT)),
            GLU = handle("tf_cpu_glu", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT)),
            ADD = handle("tf_cpu_add", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, ADDRESS, JAVA_LONG)),
            EMBEDDING = handle("tf_cpu_embedding", FunctionDescriptor.ofVoid(
                    ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT)),
            ROPE_KV_CACHE = handle("tf_cpu_rope_kv_cache", FunctionDescriptor.ofVoid(
                    ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                    JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_INT, JAVA_INT)),
            ATTENTION_PAGED = handle("tf_cpu_attention_paged", FunctionDescriptor.ofVoid(
                    ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS,
                    JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_INT, JAVA_FLOAT)),
            ATTENTION_VARLEN = handle("tf_cpu_attention_varlen", FunctionDescriptor.ofVoid(
                    ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                    JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_FLOAT, JAVA_INT)),
            WINDOW_ATTENTION = handle("tf_cpu_window_attention", FunctionDescriptor.ofVoid(
                    ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                    JAVA_LONG, JAVA_FLOAT)),
            CAUSAL_CONV1D = handle("tf_cpu_causal_conv1d", FunctionDescriptor.ofVoid(
                    ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT)),
            CONV2D = handle("tf_cpu_conv2d", FunctionDescriptor.of(JAVA_INT,
                    ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS)),
            SELECTIVE_SCAN = handle("tf_cpu_selective_scan", FunctionDescriptor.ofVoid(
                    ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                    JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT)),
            SSD_SCAN = handle("tf_cpu_ssd_scan", FunctionDescriptor.ofVoid(
                    ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                    JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT)),
            GATED_RMSNORM = handle("tf_cpu_gated_rmsnorm", FunctionDescriptor.ofVoid(
                    ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT));

    static {
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
        return NativeLibrary.callInt(() -> (int) VERSION.invokeExact());
    }

    /** Sets the threads the ops use, the caller included (at least 1). */
    public static void setThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("threads must be >= 1, got " + n);
        NativeLibrary.call(() -> { SET_THREADS.invokeExact(n); });
    }

    /** The threads the ops use (default: one per processor). */
    public static int getThreads() {
        return NativeLibrary.callInt(() -> (int) GET_THREADS.invokeExact());
    }

    /** The instruction set the kernels use now. */
    public static Isa isa() {
        return Isa.values()[NativeLibrary.callInt(() -> (int) GET_ISA.invokeExact())];
    }

    /** The best instruction set this CPU supports (the default choice). */
    public static Isa bestIsa() {
        return Isa.values()[NativeLibrary.callInt(() -> (int) BEST_ISA.invokeExact())];
    }

    /**
     * Forces the kernels' instruction set (tests, benchmarks); returns false, changing nothing,
     * when this CPU lacks it. Not safe while other threads run ops.
     */
    public static boolean setIsa(Isa isa) {
        if (isa == null) throw new IllegalArgumentException("isa is null");
        return NativeLibrary.callInt(() -> (int) SET_ISA.invokeExact(isa.ordinal())) >= 0;
    }

    // ---- matmul --------------------------------------------------------------------------------

    /**
     * {@code out[t][o] = sum_i w[o][i] * x[t][i]}: x F32 [tokens][inDim], w [outDim][inDim] of
     * {@code wType} (F32, F16, BF16, a ggml block type: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K;
     * F32_PANELS from {@link #packF32}, F32_AMX from {@link #packF32Amx}, Q8_0_R16 / Q4_0_R16 from {@link #packRows16};
     * block types need inDim a
     * multiple of their block size, 32 or 256), out F32 [tokens][outDim], not overlapping x or w. With
     * Q8_0/Q4_0 weights x is first quantised to int8 per block of 32, with the other block types per 256
     * (as transfuse.h describes), which adds up to half a quantisation step per element of x to the
     * result's error.
     */
    public static void matmul(MemorySegment out, MemorySegment x, MemorySegment w, DType wType,
                              int tokens, int inDim, int outDim) {
        int type = checkMatmul(out, x, w, wType, tokens, inDim, outDim);
        NativeLibrary.call(() -> { MATMUL.invokeExact(out, x, w, type, tokens, inDim, outDim); });
    }

    /**
     * A Linear layer: {@code out[t][o] = act(sum_i w[o][i] x[t][i] + bias[o])}, bias F32 [outDim] or null
     * (none). Bit for bit {@link #matmul} then {@link #biasAct}; with F32_PANELS or F32_AMX weights the bias
     * and activation are applied to each block of output as the matmul writes it, inside its parallel region.
     */
    public static void matmulBias(MemorySegment out, MemorySegment x, MemorySegment w, DType wType,
                                  int tokens, int inDim, int outDim, MemorySegment bias, Activation act) {
        int type = checkMatmul(out, x, w, wType, tokens, inDim, outDim);
        if (act == null) throw new IllegalArgumentException("act is null");
        if (bias != null) {
            readable("bias", bias, (long) outDim * 4);
            disjoint(span("out", out, (long) tokens * outDim * 4), span("bias", bias, (long) outDim * 4));
        }
        MemorySegment b = orNull(bias);
        int code = act.code();
        NativeLibrary.call(() -> { MATMUL_BIAS.invokeExact(out, x, w, type, tokens, inDim, outDim, b, code); });
    }

    /** Checks matmul's arguments (naming the one at fault); returns the native weight-type code. */
    private static int checkMatmul(MemorySegment out, MemorySegment x, MemorySegment w, DType wType,
                                   int tokens, int inDim, int outDim) {
        positive("tokens", tokens);
        positive("inDim", inDim);
        positive("outDim", outDim);
        boolean panels = wType == DType.F32_PANELS, amx = wType == DType.F32_AMX;
        if (!panels && !amx) weightType("wType", wType, inDim, "inDim");
        long wBytes = panels ? packedF32Bytes(inDim, outDim)
                : amx ? packedF32AmxBytes(inDim, outDim)
                : wType.rows16() ? packedRows16Bytes(wType, inDim, outDim) : (long) outDim * wType.bytesFor(inDim);
        long outBytes = (long) tokens * outDim * 4;
        writable("out", out, outBytes);
        readable("x", x, (long) tokens * inDim * 4);
        readable("w", w, wBytes);
        disjoint(span("out", out, outBytes), span("x", x, (long) tokens * inDim * 4), span("w", w, wBytes));
        return typeCode(wType);
    }

    /** The native weight-type code: the ggml id, or transfuse.h's TF_CPU_F32_PANELS, _F32_AMX, _Q8_0_R16, _Q4_0_R16. */
    private static int typeCode(DType type) {
        return switch (type) {
            case F32_PANELS -> 200;
            case F32_AMX -> 201;
            case Q8_0_R16 -> 202;
            case Q4_0_R16 -> 203;
            default -> type.ggmlType();
        };
    }

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
        return NativeLibrary.callInt(() -> (int) F32_AMX_ENABLED.invokeExact()) != 0;
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

    /**
     * The 16-row-group type the kernels prefer now for weights of {@code type}, or null to keep them as they are:
     * Q8_0 to {@link DType#Q8_0_R16} and Q4_0 to {@link DType#Q4_0_R16} with the AVX-512 VNNI kernels chosen (Q8_0
     * only while AMX int8 is not in use; transfuse.h, tf_cpu_rows16_type). Batched decode then does about a third
     * of the vector work per multiply-add; one token reads the same bytes. Other instruction sets still read the
     * 16-row types, slowly, with the same results.
     */
    public static DType rows16Type(DType type) {
        if (type != DType.Q8_0 && type != DType.Q4_0) return null;
        int code = type.ggmlType();
        int r = NativeLibrary.callInt(() -> (int) ROWS16_TYPE.invokeExact(code));
        return r == typeCode(DType.Q8_0_R16) ? DType.Q8_0_R16 : r == typeCode(DType.Q4_0_R16) ? DType.Q4_0_R16 : null;
    }

    /** Bytes of an [outDim][inDim] weight in 16-row-group type {@code type} (inDim a multiple of 32; whole groups, 64-byte padded). */
    public static long packedRows16Bytes(DType type, int inDim, int outDim) {
        if (!type.rows16()) throw new IllegalArgumentException("type " + type + " is not a 16-row-group type");
        weightType("16-row-group weights", type, inDim, "inDim");
        positive("outDim", outDim);
        int code = typeCode(type);
        return NativeLibrary.callLong(() -> (long) PACKED_ROWS16_BYTES.invokeExact(code, inDim, outDim));
    }

    /**
     * Writes w (Q8_0 for {@link DType#Q8_0_R16}, Q4_0 for {@link DType#Q4_0_R16}, [outDim][inDim]) into dst
     * ({@link #packedRows16Bytes} bytes) in 16-row groups, the layout matmul and embedding read as {@code type}.
     */
    public static void packRows16(DType type, MemorySegment dst, MemorySegment w, int inDim, int outDim) {
        long bytes = packedRows16Bytes(type, inDim, outDim);
        long wBytes = (long) outDim * type.repackedFrom().bytesFor(inDim);
        writable("dst", dst, bytes);
        readable("w", w, wBytes);
        disjoint(span("dst", dst, bytes), span("w", w, wBytes));
        int code = typeCode(type);
        NativeLibrary.call(() -> { PACK_ROWS16.invokeExact(code, dst, w, inDim, outDim); });
    }

    /** A packed layout's size function (long f(int inDim, int outDim)), after checking the dimensions. */
    private static long packedBytes(MethodHandle sizeOf, int inDim, int outDim) {
        positive("inDim", inDim);
        positive("outDim", outDim);
        return NativeLibrary.callLong(() -> (long) sizeOf.invokeExact(inDim, outDim));
    }

    /** A packing function (void f(dst, w, inDim, outDim)) into dst of `bytes`, after checking the segments. */
    private static void pack(MethodHandle packer, long bytes, MemorySegment dst, MemorySegment w, int inDim, int outDim) {
        long wBytes = (long) inDim * outDim * 4;
        writable("dst", dst, bytes);
        readable("w", w, wBytes);
        disjoint(span("dst", dst, bytes), span("w", w, wBytes));
        NativeLibrary.call(() -> { packer.invokeExact(dst, w, inDim, outDim); });
    }

    // ---- norms, activations, elementwise -------------------------------------------------------

    /**
     * RMSNorm over [rows][dim] with an optional fused residual add: residual null: {@code h = x}; else
     * {@code h = residual + x}, written back to residual (the new residual stream). Then
     * {@code out = h / sqrt(mean(h^2) + eps) * weight}. out may be x or residual itself (exactly);
     * x and residual must not overlap.
     */
    public static void rmsNorm(MemorySegment out, MemorySegment residual, MemorySegment x, MemorySegment weight,
                               int rows, int dim, float eps) {
        checkNorm(out, residual, x, weight, null, rows, dim, eps);
        MemorySegment res = orNull(residual);
        NativeLibrary.call(() -> { RMSNORM.invokeExact(out, res, x, weight, rows, dim, eps); });
    }

    /**
     * LayerNorm with the residual contract of {@link #rmsNorm}:
     * {@code out = (h - mean) / sqrt(var + eps) * weight + bias} (biased variance; bias null: none).
     * out may be x or residual itself (post-LN encoders pass out == residual).
     */
    public static void layerNorm(MemorySegment out, MemorySegment residual, MemorySegment x, MemorySegment weight,
                                 MemorySegment bias, int rows, int dim, float eps) {
        checkNorm(out, residual, x, weight, bias, rows, dim, eps);
        MemorySegment res = orNull(residual), b = orNull(bias);
        NativeLibrary.call(() -> { LAYERNORM.invokeExact(out, res, x, weight, b, rows, dim, eps); });
    }

    private static void checkNorm(MemorySegment out, MemorySegment residual, MemorySegment x, MemorySegment weight,
                                  MemorySegment bias, int rows, int dim, float eps) {
        positive("rows", rows);
        positive("dim", dim);
        if (!(eps >= 0) || Float.isInfinite(eps)) throw new IllegalArgumentException("eps must be finite and >= 0, got " + eps);
        long bytes = (long) rows * dim * 4, vec = (long) dim * 4;
        writable("out", out, bytes);
        readable("x", x, bytes);
        if (residual != null) writable("residual", residual, bytes);
        readable("weight", weight, vec);
        if (bias != null) readable("bias", bias, vec);
        Span o = span("out", out, bytes), xs = span("x", x, bytes), r = span("residual", residual, bytes);
        Span w = span("weight", weight, vec), b = span("bias", bias, vec);
        sameOrDisjoint(o, xs);
        sameOrDisjoint(o, r);
        disjoint(r, xs, w, b);
        disjoint(o, w, b);
    }

    /**
     * {@code x[r][i] = act(x[r][i] + bias[i])} in place over [rows][dim]; bias F32 [dim] or null (none).
     * The activations' accuracy is stated in transfuse.h (tf_cpu_bias_act).
     */
    public static void biasAct(MemorySegment x, MemorySegment bias, int rows, int dim, Activation act) {
        positive("rows", rows);
        positive("dim", dim);
        if (act == null) throw new IllegalArgumentException("act is null");
        long bytes = (long) rows * dim * 4;
        writable("x", x, bytes);
        if (bias != null) {
            readable("bias", bias, (long) dim * 4);
            disjoint(span("x", x, bytes), span("bias", bias, (long) dim * 4));
        }
        MemorySegment b = orNull(bias);
        int code = act.code();
        NativeLibrary.call(() -> { BIAS_ACT.invokeExact(x, b, rows, dim, code); });
    }

    /**
     * Gated linear unit: {@code out[i] = act(gate[i]) * up[i]} over n values (IDENTITY: the plain product,
     * also an elementwise scale). out may be gate or up itself (exactly).
     */
    public static void glu(MemorySegment out, MemorySegment gate, MemorySegment up, long n, Activation act) {
        nonNegative("n", n);
        if (act == null) throw new IllegalArgumentException("act must not be null");
        long bytes = n * 4;
        writable("out", out, bytes);
        readable("gate", gate, bytes);
        readable("up", up, bytes);
        Span o = span("out", out, bytes);
        sameOrDisjoint(o, span("gate", gate, bytes));
        sameOrDisjoint(o, span("up", up, bytes));
        if (n == 0) return;
        int code = act.code();
        NativeLibrary.call(() -> { GLU.invokeExact(out, gate, up, n, code); });
    }

    /** {@code out = a + b} over n values; out may be a or b itself (exactly). */
    public static void add(MemorySegment out, MemorySegment a, MemorySegment b, long n) {
        nonNegative("n", n);
        long bytes = n * 4;
        writable("out", out, bytes);
        readable("a", a, bytes);
        readable("b", b, bytes);
        Span o = span("out", out, bytes);
        sameOrDisjoint(o, span("a", a, bytes));
        sameOrDisjoint(o, span("b", b, bytes));
        if (n == 0) return;
        NativeLibrary.call(() -> { ADD.invokeExact(out, a, b, n); });
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
        long outBytes = (long) tokens * dim * 4;
        writable("out", out, outBytes);
        readable("ids", ids, (long) tokens * 4);
        // 16-row-group types: whole groups of 16 rows (the rows padding the last group read as zeros)
        boolean r16 = type.rows16();
        long unitBytes = r16 ? packedRows16Bytes(type, dim, 16) : type.bytesFor(dim);
        readable("table", table, unitBytes);
        disjoint(span("out", out, outBytes), span("ids", ids, (long) tokens * 4), span("table", table, table.byteSize()));
        long vocab = table.byteSize() / unitBytes * (r16 ? 16 : 1);
        for (int t = 0; t < tokens; t++) {
            int id = intAt(ids, t);
            if (id < 0 || id >= vocab) {
                throw new IllegalArgumentException("ids[" + t + "] = " + id + " is outside the table's vocabulary [0, " + vocab + ")");
            }
        }
        int code = typeCode(type);
        NativeLibrary.call(() -> { EMBEDDING.invokeExact(out, table, code, ids, tokens, dim); });
    }

    // ---- RoPE and attention over the paged KV cache ---------------------------------------------

    /**
     * Rotary position embedding fused with the paged KV-cache write (the CUDA tf_rope_kv_cache's semantics):
     * token t, of the sequence whose block-table row is {@code seqIds[t]}, at position {@code positions[t]}:
     * q [tokens][heads][headDim] is rotated in place (q may be null), k [tokens][kvHeads][headDim] is rotated
     * (k itself is not modified) and stored, and v is stored unchanged, in that position's cache slot. The
     * first rotaryDim values of each head (even, at most headDim; 0: no rotation, invFreq may be null) turn by
     * {@code positions[t] * invFreq[i]} for pair i, paired as {@code layout} says, scaled by mscale (YaRN's
     * attention factor; 1 otherwise). The cache is of {@code kvType} (F32, or F16: stored rounded to nearest
     * even). All int32: seqIds and positions [tokens]; blockTable has
     * {@code blockTable.byteSize() / (4 * maxBlocksPerSeq)} rows. The outputs (q, kCache, vCache) overlap no
     * input, and no two tokens may write the same cache slot.
     */
    public static void ropeKvCache(MemorySegment q, MemorySegment k, MemorySegment v, MemorySegment kCache,
                                   MemorySegment vCache, DType kvType, MemorySegment blockTable, MemorySegment positions,
                                   MemorySegment seqIds, MemorySegment invFreq, int tokens, int heads, int kvHeads,
                                   int headDim, int rotaryDim, RopeLayout layout, float mscale, int blockSize,
                                   int maxBlocksPerSeq) {
        positive("tokens", tokens);
        positive("heads", heads);
        positive("kvHeads", kvHeads);
        headDim(headDim);
        if (rotaryDim < 0 || rotaryDim % 2 != 0 || rotaryDim > headDim) {
            throw new IllegalArgumentException("rotaryDim must be even, >= 0 and <= headDim " + headDim + ", got " + rotaryDim);
        }
        if (layout == null) throw new IllegalArgumentException("layout is null");
        if (!Float.isFinite(mscale)) throw new IllegalArgumentException("mscale must be finite, got " + mscale);
        PagedCache cache = pagedCache(kCache, vCache, kvType, blockTable, blockSize, maxBlocksPerSeq, kvHeads, headDim, true);
        long qBytes = (long) tokens * heads * headDim * 4, kvBytes = (long) tokens * kvHeads * headDim * 4;
        long idBytes = (long) tokens * 4, freqBytes = (long) (rotaryDim / 2) * 4;
        if (q != null) writable("q", q, qBytes);
        readable("k", k, kvBytes);
        readable("v", v, kvBytes);
        readable("positions", positions, idBytes);
        readable("seqIds", seqIds, idBytes);
        if (rotaryDim > 0 || invFreq != null) readable("invFreq", invFreq, freqBytes);
        Span[] inputs = {span("k", k, kvBytes), span("v", v, kvBytes), cache.table, span("positions", positions, idBytes),
                span("seqIds", seqIds, idBytes), span("invFreq", invFreq, freqBytes)};
        for (Span out : new Span[] {span("q", q, qBytes), cache.k, cache.v}) {
            disjoint(out, inputs);
        }
        disjoint(span("q", q, qBytes), cache.k, cache.v);
        disjoint(cache.k, cache.v);
        // Each token's cache slot in the high half, the token in the low half: sorted, two tokens writing one
        // slot sit side by side, the later token second (no boxing on this per-layer path).
        long[] slotTokens = new long[tokens];
        for (int t = 0; t < tokens; t++) {
            int seq = intAt(seqIds, t), pos = intAt(positions, t);
            if (seq < 0 || seq >= cache.rows) {
                throw new IllegalArgumentException("seqIds[" + t + "] = " + seq + " is outside the block table's rows [0, " + cache.rows + ")");
            }
            if (pos < 0 || pos / blockSize >= maxBlocksPerSeq) {
                throw new IllegalArgumentException("positions[" + t + "] = " + pos + " is outside [0, maxBlocksPerSeq * blockSize = "
                        + (long) maxBlocksPerSeq * blockSize + ")");
            }
            long slot = (long) cache.block(seq, pos / blockSize) * blockSize + pos % blockSize;
            slotTokens[t] = slot << 32 | t;
        }
        Arrays.sort(slotTokens);
        for (int i = 1; i < tokens; i++) {
            if (slotTokens[i] >>> 32 == slotTokens[i - 1] >>> 32) {
                int t = (int) slotTokens[i];
                throw new IllegalArgumentException("positions[" + t + "] = " + intAt(positions, t) + " of seqIds[" + t + "] = "
                        + intAt(seqIds, t) + " writes a cache slot that an earlier token writes too");
            }
        }
        MemorySegment qs = orNull(q), f = orNull(invFreq);
        int code = layout.ordinal();
        int kvCode = kvType.ggmlType();
        NativeLibrary.call(() -> { ROPE_KV_CACHE.invokeExact(qs, k, v, kCache, vCache, kvCode, blockTable, positions, seqIds, f,
                tokens, heads, kvHeads, headDim, rotaryDim, code, mscale, blockSize, maxBlocksPerSeq); });
    }

    /**
     * Attention over the paged KV cache (the CUDA tf_attention_decode's semantics with one row per token):
     * query row t of q, out [tokens][heads][headDim] sits at position {@code contextLens[t] - 1} of the
     * sequence whose block-table row is t (blockTable int32 [tokens][maxBlocksPerSeq]) and attends to its keys
     * 0 .. contextLens[t]-1, only the last {@code window} of them when window > 0:
     * {@code out = softmax(cap(scale q k^T)) v} with {@code cap(x) = softcap tanh(x / softcap)} when softcap > 0,
     * else the identity. A context length of 0 gives zeros. Query head h reads kv head
     * {@code h / (heads / kvHeads)}. One call serves decode (a row per sequence) and chunked prefill (a row
     * per token, each with its own context length). The cache is of {@code kvType} (F32 or F16, widened to
     * f32 as it is read; the arithmetic is f32). out overlaps no input.
     */
    public static void attentionPaged(MemorySegment out, MemorySegment q, MemorySegment kCache, MemorySegment vCache,
                                      DType kvType, MemorySegment blockTable, MemorySegment contextLens, int tokens, int heads,
                                      int kvHeads, int headDim, int blockSize, int maxBlocksPerSeq, float scale,
                                      int window, float softcap) {
        nonNegative("window", window);
        if (!(softcap >= 0) || !Float.isFinite(softcap)) {
            throw new IllegalArgumentException("softcap must be finite and >= 0 (0: none), got " + softcap);
        }
        PagedCache cache = pagedQueries(out, q, kCache, vCache, kvType, blockTable, tokens, heads, kvHeads, headDim, blockSize,
                maxBlocksPerSeq, scale);
        long qBytes = (long) tokens * heads * headDim * 4;
        readable("contextLens", contextLens, (long) tokens * 4);
        disjoint(span("out", out, qBytes), span("q", q, qBytes), cache.k, cache.v, cache.table,
                span("contextLens", contextLens, (long) tokens * 4));
        for (int t = 0; t < tokens; t++) {
            int ctx = intAt(contextLens, t);
            if (ctx < 0 || ctx > (long) maxBlocksPerSeq * blockSize) {
                throw new IllegalArgumentException("contextLens[" + t + "] = " + ctx + " is outside [0, maxBlocksPerSeq * blockSize = "
                        + (long) maxBlocksPerSeq * blockSize + "]");
            }
            int first = window > 0 && ctx > window ? ctx - window : 0;
            for (int i = first / blockSize; i < (ctx + blockSize - 1) / blockSize; i++) cache.block(t, i);
        }
        int kvCode = kvType.ggmlType();
        NativeLibrary.call(() -> { ATTENTION_PAGED.invokeExact(out, q, kCache, vCache, kvCode, blockTable, contextLens,
                tokens, heads, kvHeads, headDim, blockSize, maxBlocksPerSeq, scale, window, softcap); });
    }

    /**
     * Packed variable-length attention (the CUDA tf_attention_prefill's semantics without window, ALiBi or
     * log-sum-exp): sequence b owns rows {@code cuSeqlens[b] .. cuSeqlens[b+1]-1} (int32 [batch + 1],
     * starting at 0, non-decreasing). Row r's query heads [heads][headDim] start at float {@code r * qStride}
     * of q, its key and value heads [kvHeads][headDim] at {@code r * kvStride} of k and v (so q, k, v may be
     * column blocks of one fused QKV buffer); out is packed [rows][heads * headDim].
     * {@code out = softmax(scale q k^T) v} over the keys of the query's own sequence, with {@code causal}
     * only those at or before it. Query head h reads kv head {@code h / (heads / kvHeads)}. out overlaps no
     * input.
     */
    public static void attentionVarlen(MemorySegment out, MemorySegment q, MemorySegment k, MemorySegment v,
                                       MemorySegment cuSeqlens, int batch, int heads, int kvHeads, int headDim,
                                       long qStride, long kvStride, float scale, boolean causal) {
        checkVarlen(out, q, k, v, cuSeqlens, batch, heads, kvHeads, headDim, qStride, kvStride, scale);
        long rows = intAt(cuSeqlens, batch);
        if (rows == 0) return;
        int c = causal ? 1 : 0;
        NativeLibrary.call(() -> { ATTENTION_VARLEN.invokeExact(out, q, k, v, cuSeqlens, batch, heads, kvHeads, headDim,
                qStride, kvStride, scale, c); });
    }

    /** The checks of {@link #attentionVarlen} (also {@code attentionVarlenMasked}'s): sizes, strides, offsets, overlaps. */
    private static void checkVarlen(MemorySegment out, MemorySegment q, MemorySegment k, MemorySegment v, MemorySegment cuSeqlens,
                                    int batch, int heads, int kvHeads, int headDim, long qStride, long kvStride, float scale) {
        positive("batch", batch);
        heads(heads, kvHeads);
        headDim(headDim);
        if (!Float.isFinite(scale)) throw new IllegalArgumentException("scale must be finite, got " + scale);
        long qWidth = (long) heads * headDim, kvWidth = (long) kvHeads * headDim;
        if (qStride < qWidth) throw new IllegalArgumentException("qStride must be >= heads * headDim = " + qWidth + ", got " + qStride);
        if (kvStride < kvWidth) {
            throw new IllegalArgumentException("kvStride must be >= kvHeads * headDim = " + kvWidth + ", got " + kvStride);
        }
        long cuBytes = ((long) batch + 1) * 4;
        readable("cuSeqlens", cuSeqlens, cuBytes);
        if (intAt(cuSeqlens, 0) != 0) throw new IllegalArgumentException("cuSeqlens[0] must be 0, got " + intAt(cuSeqlens, 0));
        for (int b = 0; b < batch; b++) {
            if (intAt(cuSeqlens, b + 1) < intAt(cuSeqlens, b)) {
                throw new IllegalArgumentException("cuSeqlens[" + (b + 1) + "] = " + intAt(cuSeqlens, b + 1)
                        + " is below cuSeqlens[" + b + "] = " + intAt(cuSeqlens, b));
            }
        }
        long rows = intAt(cuSeqlens, batch);
        long outBytes = rows * qWidth * 4;
        long qBytes = rows == 0 ? 0 : ((rows - 1) * qStride + qWidth) * 4;
        long kvBytes = rows == 0 ? 0 : ((rows - 1) * kvStride + kvWidth) * 4;
        writable("out", out, outBytes);
        readable("q", q, qBytes);
        readable("k", k, kvBytes);
        readable("v", v, kvBytes);
        disjoint(span("out", out, outBytes), span("q", q, qBytes), span("k", k, kvBytes), span("v", v, kvBytes),
                span("cuSeqlens", cuSeqlens, cuBytes));
    }

    /**
     * Swin's (shifted) window attention over one image's gridH x gridW tokens (tf_cpu_window_attention): the grid
     * rolled by -shift is cut into window x window windows, each token attends to its window with the relative
     * position bias {@code bias} [(2 window - 1)^2][heads] and, when shift > 0, the -100 region mask; its output
     * lands in its own row. Row t's heads start at float {@code t * stride} of q, k and v (column blocks of one
     * fused QKV buffer allowed); out is packed [tokens][heads * headDim] and overlaps no input. {@code logitScale}
     * null, or F32 [heads] for Swin-V2's cosine attention (scores logitScale[h] cos(q, k); scale unused).
     */
    public static void windowAttention(MemorySegment out, MemorySegment q, MemorySegment k, MemorySegment v, MemorySegment bias,
                                       MemorySegment logitScale, int gridH, int gridW, int window, int shift, int heads, int headDim, long stride,
                                       float scale) {
        positive("gridH", gridH);
        positive("gridW", gridW);
        positive("window", window);
        positive("heads", heads);
        positive("headDim", headDim);
        if (gridH % window != 0 || gridW % window != 0) {
            throw new IllegalArgumentException("the " + gridH + "x" + gridW + " grid is not a whole number of " + window + "x" + window + " windows");
        }
        if (shift < 0 || shift >= window) throw new IllegalArgumentException("shift must be in [0, " + window + "), got " + shift);
        if ((long) window * window > MAX_WINDOW_TOKENS) {
            throw new IllegalArgumentException("window " + window + " has " + window * window + " tokens; the CPU kernel takes at most "
                    + MAX_WINDOW_TOKENS + " (window 12)");
        }
        if (headDim > MAX_WINDOW_HEAD_DIM) {
            throw new IllegalArgumentException("head dim " + headDim + " is above the window attention's " + MAX_WINDOW_HEAD_DIM);
        }
        if (!Float.isFinite(scale)) throw new IllegalArgumentException("scale must be finite, got " + scale);
        long width = (long) heads * headDim, tokens = (long) gridH * gridW;
        if (stride < width) throw new IllegalArgumentException("stride must be >= heads * headDim = " + width + ", got " + stride);
        long outBytes = tokens * width * 4, inBytes = ((tokens - 1) * stride + width) * 4;
        long biasBytes = (long) (2 * window - 1) * (2 * window - 1) * heads * 4;
        writable("out", out, outBytes);
        readable("q", q, inBytes);
        readable("k", k, inBytes);
        readable("v", v, inBytes);
        readable("bias", bias, biasBytes);
        if (logitScale != null) readable("logitScale", logitScale, (long) heads * 4);
        disjoint(span("out", out, outBytes), span("q", q, inBytes), span("k", k, inBytes), span("v", v, inBytes),
                span("bias", bias, biasBytes));
        if (logitScale != null) disjoint(span("out", out, outBytes), span("logitScale", logitScale, (long) heads * 4));
        MemorySegment ls = orNull(logitScale);
        NativeLibrary.call(() -> { WINDOW_ATTENTION.invokeExact(out, q, k, v, bias, ls, gridH, gridW, window, shift, heads, headDim,
                stride, scale); });
    }

    /** A checked paged cache: its spans, the block table's rows and the cache's blocks. */
    private record PagedCache(Span k, Span v, Span table, MemorySegment blockTable, int maxBlocksPerSeq, long rows,
                              long blocks) {
        /** blockTable[row][i], checked to name a block of the cache. */
        int block(long row, int i) {
            int b = intAt(blockTable, row * maxBlocksPerSeq + i);
            if (b < 0 || b >= blocks) {
                throw new IllegalArgumentException("blockTable[" + row + "][" + i + "] = " + b + " is outside the cache's blocks [0, "
                        + blocks + ")");
            }
            return b;
        }
    }

    /** Checks the cache's element type, its segments (writable for a cache write) and the block table's shape. */
    /**
     * The checks every attention over the paged cache shares: the shapes, a finite scale, the cache and a block-table
     * row per token, and q / out [tokens][heads * headDim] f32.
     */
    private static PagedCache pagedQueries(MemorySegment out, MemorySegment q, MemorySegment kCache, MemorySegment vCache,
                                           DType kvType, MemorySegment blockTable, int tokens, int heads, int kvHeads, int headDim,
                                           int blockSize, int maxBlocksPerSeq, float scale) {
        positive("tokens", tokens);
        heads(heads, kvHeads);
        headDim(headDim);
        if (!Float.isFinite(scale)) throw new IllegalArgumentException("scale must be finite, got " + scale);
        PagedCache cache = pagedCache(kCache, vCache, kvType, blockTable, blockSize, maxBlocksPerSeq, kvHeads, headDim, false);
        if (cache.rows < tokens) {
            throw new IllegalArgumentException("blockTable holds " + cache.rows + " rows of maxBlocksPerSeq " + maxBlocksPerSeq
                    + " entries, needs one per token (" + tokens + ")");
        }
        long qBytes = (long) tokens * heads * headDim * 4;
        writable("out", out, qBytes);
        readable("q", q, qBytes);
        return cache;
    }

    private static PagedCache pagedCache(MemorySegment kCache, MemorySegment vCache, DType kvType, MemorySegment blockTable,
                                         int blockSize, int maxBlocksPerSeq, int kvHeads, int headDim, boolean write) {
        if (kvType != DType.F32 && kvType != DType.F16) {
            throw new IllegalArgumentException("kvType: the KV cache holds F32 or F16, not " + kvType);
        }
        positive("blockSize", blockSize);
        positive("maxBlocksPerSeq", maxBlocksPerSeq);
        long blockBytes = (long) blockSize * kvHeads * headDim * (kvType == DType.F16 ? 2 : 4);
        if (write) writable("kCache", kCache, blockBytes);
        else readable("kCache", kCache, blockBytes);
        long blocks = kCache.byteSize() / blockBytes, cacheBytes = blocks * blockBytes;
        if (write) writable("vCache", vCache, cacheBytes);
        else readable("vCache", vCache, cacheBytes);
        long rowBytes = (long) maxBlocksPerSeq * 4;
        readable("blockTable", blockTable, rowBytes);
        long rows = blockTable.byteSize() / rowBytes;
        return new PagedCache(span("kCache", kCache, cacheBytes), span("vCache", vCache, cacheBytes),
                span("blockTable", blockTable, rows * rowBytes), blockTable, maxBlocksPerSeq, rows, blocks);
    }

    // ---- convolution ---------------------------------------------------------------------------

    /**
     * 2-D convolution, NHWC, F32 (transfuse.h, tf_cpu_conv2d): x [pixels][inChannels], weight
     * [outChannels][kernelH][kernelW][inChannels / groups], bias [outChannels] or null, out [outPixels][outChannels],
     * ReLU when {@code relu}. out overlaps none of the inputs.
     */
    public static void conv2d(MemorySegment out, MemorySegment x, MemorySegment weight, MemorySegment bias, Conv2d conv,
                              boolean relu) {
        if (conv == null) throw new IllegalArgumentException("conv (the geometry) is null");
        long xBytes = conv.inPixels() * conv.inChannels() * 4, wBytes = conv.outChannels() * conv.patch() * 4;
        long outBytes = conv.outPixels() * conv.outChannels() * 4, bBytes = (long) conv.outChannels() * 4;
        writable("out", out, outBytes);
        readable("x", x, xBytes);
        readable("weight", weight, wBytes);
        if (bias != null) readable("bias", bias, bBytes);
        Span o = span("out", out, outBytes);
        disjoint(o, span("x", x, xBytes), span("weight", weight, wBytes));
        if (bias != null) disjoint(o, span("bias", bias, bBytes));
        MemorySegment b = orNull(bias);
        int r = relu ? 1 : 0;
        int rc;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment geom = arena.allocateFrom(JAVA_INT, conv.geometry());
            rc = NativeLibrary.callInt(() -> (int) CONV2D.invokeExact(out, x, weight, b, r, geom));
        }
        if (rc == -2) throw new OutOfMemoryError("conv2d " + conv + ": no memory for the im2col tile and packed weight");
        if (rc != 0) throw new IllegalStateException("tf_cpu_conv2d refused " + conv + " (code " + rc + ")");
    }

    // ---- Mamba-1 ops ------------------------------------------------------------------------------

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
        Span o = span("out", out, act), xs = span("x", x, act);
        sameOrDisjoint(o, xs);
        disjoint(span("convState", convState, stateBytes), o, xs);
        MemorySegment b = orNull(bias);
        int s = silu ? 1 : 0;
        NativeLibrary.call(() -> { CAUSAL_CONV1D.invokeExact(out, convState, x, weight, b, tokens, dim, width, s); });
    }

    /**
     * Mamba-1 selective scan over [tokens][dim], carrying {@code state} [dim][dstate] (F32, in/out;
     * zeros at the start of a sequence). Per channel d, state n and token t:
     * {@code dt = delta[t][d] + deltaBias[d]} (softplus'd when {@code deltaSoftplus});
     * {@code state[d][n] = exp(dt A[d][n]) state[d][n] + dt B[t][n] u[t][d]};
     * {@code out[t][d] = (sum_n state[d][n] C[t][n] + D[d] u[t][d]) * silu(z[t][d])}.
     * B, C [tokens][dstate]; A [dim][dstate] (dstate at most {@value #MAX_DSTATE}); D, deltaBias [dim]. D, z and deltaBias may be null
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
        Span o = span("out", out, act), us = span("u", u, act), ds = span("delta", delta, act), zs = span("z", z, act);
        Span bs = span("B", b, bc), cs = span("C", c, bc);
        sameOrDisjoint(o, us);
        sameOrDisjoint(o, ds);
        sameOrDisjoint(o, zs);
        disjoint(o, bs, cs);
        disjoint(span("state", state, stateBytes), o, us, ds, span("A", a, stateBytes), bs, cs, zs);
        MemorySegment dd = orNull(d), zz = orNull(z), db = orNull(deltaBias);
        int softplus = deltaSoftplus ? 1 : 0;
        NativeLibrary.call(() -> { SELECTIVE_SCAN.invokeExact(out, state, u, delta, a, b, c, dd, zz, db,
                tokens, dim, dstate, softplus); });
    }

    // ---- Mamba-2 ops ------------------------------------------------------------------------------

    /**
     * Mamba-2 SSD scan over [tokens] of {@code heads} heads of {@code headDim} channels, carrying {@code state}
     * [heads][headDim][dstate] (F32, in/out; zeros at the start of a sequence). Per head h (group g = h / (heads /
     * groups)) and token t: {@code dt = softplus(dtIn[t][h] + dtBias[h])};
     * {@code state[h][p][n] = exp(dt A[h]) state[h][p][n] + dt x[t][h][p] B[t][g][n]};
     * {@code out[t][h][p] = sum_n C[t][g][n] state[h][p][n] + D[h] x[t][h][p]}. x, out [tokens][heads * headDim];
     * dtIn [tokens][heads]; B, C [tokens][groups * dstate]; A, D, dtBias [heads] (D, dtBias may be null). dstate at
     * most {@value #MAX_SSD_STATE}. out overlaps nothing; the state overlaps nothing.
     */
    public static void ssdScan(MemorySegment out, MemorySegment state, MemorySegment x, MemorySegment dtIn, MemorySegment a,
                               MemorySegment b, MemorySegment c, MemorySegment d, MemorySegment dtBias, int tokens, int heads,
                               int headDim, int groups, int dstate) {
        positive("tokens", tokens);
        positive("heads", heads);
        positive("headDim", headDim);
        positive("groups", groups);
        positive("dstate", dstate);
        if (dstate > MAX_SSD_STATE) throw new IllegalArgumentException("dstate must be <= " + MAX_SSD_STATE + ", got " + dstate);
        if (heads % groups != 0) throw new IllegalArgumentException("heads (" + heads + ") must be a multiple of groups (" + groups + ")");
        long act = (long) tokens * heads * headDim * 4, stateBytes = (long) heads * headDim * dstate * 4;
        long bc = (long) tokens * groups * dstate * 4, dts = (long) tokens * heads * 4, perHead = (long) heads * 4;
        writable("out", out, act);
        writable("state", state, stateBytes);
        readable("x", x, act);
        readable("dt", dtIn, dts);
        readable("A", a, perHead);
        readable("B", b, bc);
        readable("C", c, bc);
        if (d != null) readable("D", d, perHead);
        if (dtBias != null) readable("dtBias", dtBias, perHead);
        Span o = span("out", out, act), st = span("state", state, stateBytes), xs = span("x", x, act), ds = span("dt", dtIn, dts);
        Span bs = span("B", b, bc), cs = span("C", c, bc);
        disjoint(o, st, xs, ds, bs, cs);
        disjoint(st, xs, ds, bs, cs, span("A", a, perHead));
        MemorySegment dd = orNull(d), db = orNull(dtBias);
        NativeLibrary.call(() -> { SSD_SCAN.invokeExact(out, state, x, dtIn, a, b, c, dd, db, tokens, heads, headDim, groups, dstate); });
    }

    /**
     * Gated RMSNorm over [rows][dim] in groups of {@code groupSize} columns: {@code v = x silu(z)},
     * {@code out = v / sqrt(mean_group(v^2) + eps) weight}. weight [dim]. out may be x or z itself (exactly).
     */
    public static void gatedRmsNorm(MemorySegment out, MemorySegment x, MemorySegment z, MemorySegment weight, int rows, int dim,
                                    int groupSize, float eps) {
        positive("rows", rows);
        positive("dim", dim);
        positive("groupSize", groupSize);
        if (dim % groupSize != 0) throw new IllegalArgumentException("groupSize (" + groupSize + ") must divide dim (" + dim + ")");
        long bytes = (long) rows * dim * 4;
        writable("out", out, bytes);
        readable("x", x, bytes);
        readable("z", z, bytes);
        readable("weight", weight, (long) dim * 4);
        Span o = span("out", out, bytes);
        sameOrDisjoint(o, span("x", x, bytes));
        sameOrDisjoint(o, span("z", z, bytes));
        disjoint(o, span("weight", weight, (long) dim * 4));
        NativeLibrary.call(() -> { GATED_RMSNORM.invokeExact(out, x, z, weight, rows, dim, groupSize, eps); });
    }

    // ---- BERT variants (MobileBERT, ModernBERT, nomic-bert, JinaBERT): bert_variant_ops.cpp ----------------

    private static final MethodHandle
            NO_NORM = handle("tf_cpu_no_norm", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT)),
            ROPE = handle("tf_cpu_rope", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT,
                    JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT)),
            ATTENTION_VARLEN_MASKED = handle("tf_cpu_attention_varlen_masked", FunctionDescriptor.ofVoid(
                    ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG,
                    JAVA_FLOAT, JAVA_INT, ADDRESS));

    /**
     * MobileBERT's NoNorm with the residual contract of {@link #layerNorm} (tf_cpu_no_norm): h = x, or
     * {@code residual += x} and h the new residual; {@code out = h * weight + bias} (bias may be null).
     */
    public static void noNorm(MemorySegment out, MemorySegment residual, MemorySegment x, MemorySegment weight, MemorySegment bias,
                              int rows, int dim) {
        checkNorm(out, residual, x, weight, bias, rows, dim, 0f);
        MemorySegment res = orNull(residual), b = orNull(bias);
        NativeLibrary.call(() -> { NO_NORM.invokeExact(out, res, x, weight, b, rows, dim); });
    }


    /**
     * RoPE in place (tf_cpu_rope) on q [tokens][heads * headDim] and k [tokens][kvHeads * headDim] (either may be
     * null) at {@code positions} (I32 [tokens]) with {@code invFreq} (F32 [rotaryDim / 2]); layout 0 adjacent pairs,
     * 1 half split.
     */
    public static void rope(MemorySegment q, MemorySegment k, MemorySegment positions, MemorySegment invFreq, int tokens, int heads,
                            int kvHeads, int headDim, int rotaryDim, int layout, float mscale) {
        positive("tokens", tokens);
        heads(heads, kvHeads);
        headDim(headDim);
        if (rotaryDim <= 0 || rotaryDim % 2 != 0 || rotaryDim > headDim) {
            throw new IllegalArgumentException("rotaryDim must be even and in (0, headDim = " + headDim + "], got " + rotaryDim);
        }
        if (layout != 0 && layout != 1) throw new IllegalArgumentException("rope layout must be 0 or 1, got " + layout);
        if (!(mscale > 0) || Float.isInfinite(mscale)) throw new IllegalArgumentException("mscale must be positive, got " + mscale);
        long qBytes = (long) tokens * heads * headDim * 4, kBytes = (long) tokens * kvHeads * headDim * 4;
        if (q != null) writable("q", q, qBytes);
        if (k != null) writable("k", k, kBytes);
        readable("positions", positions, (long) tokens * 4);
        readable("invFreq", invFreq, (long) rotaryDim / 2 * 4);
        disjoint(span("q", q, qBytes), span("k", k, kBytes), span("positions", positions, (long) tokens * 4),
                span("invFreq", invFreq, (long) rotaryDim / 2 * 4));
        disjoint(span("k", k, kBytes), span("positions", positions, (long) tokens * 4), span("invFreq", invFreq, (long) rotaryDim / 2 * 4));
        MemorySegment qs = orNull(q), ks = orNull(k);
        NativeLibrary.call(() -> { ROPE.invokeExact(qs, ks, positions, invFreq, tokens, heads, kvHeads, headDim, rotaryDim, layout, mscale); });
    }

    /**
     * Bidirectional packed attention with the encoder masks (tf_cpu_attention_varlen_masked): the layout and
     * checks of {@link #attentionVarlen}; {@code window > 0} lets query i see key j only when |i - j| &lt; window;
     * {@code alibiSlopes} (F32 [heads] or null) adds {@code -slope[h] |i - j|} to the scaled score.
     */
    public static void attentionVarlenMasked(MemorySegment out, MemorySegment q, MemorySegment k, MemorySegment v,
                                             MemorySegment cuSeqlens, int batch, int heads, int kvHeads, int headDim, long qStride,
                                             long kvStride, float scale, int window, MemorySegment alibiSlopes) {
        if (window < 0) throw new IllegalArgumentException("window must be >= 0 (0: none), got " + window);
        if (alibiSlopes != null) readable("alibiSlopes", alibiSlopes, (long) heads * 4);
        // The shared checks (strides, sequence offsets, bounds, overlaps) are attentionVarlen's.
        checkVarlen(out, q, k, v, cuSeqlens, batch, heads, kvHeads, headDim, qStride, kvStride, scale);
        if (intAt(cuSeqlens, batch) == 0) return;
        MemorySegment slopes = orNull(alibiSlopes);
        NativeLibrary.call(() -> { ATTENTION_VARLEN_MASKED.invokeExact(out, q, k, v, cuSeqlens, batch, heads, kvHeads, headDim,
                qStride, kvStride, scale, window, slopes); });
    }

    // ---- argument checks ---------------------------------------------------------------------

    private static void positive(String name, long v) {
        if (v <= 0) throw new IllegalArgumentException(name + " must be > 0, got " + v);
    }

    private static void nonNegative(String name, long v) {
        if (v < 0) throw new IllegalArgumentException(name + " must be >= 0, got " + v);
    }

    private static void headDim(int headDim) {
        positive("headDim", headDim);
        if (headDim > MAX_HEAD_DIM) throw new IllegalArgumentException("headDim must be <= " + MAX_HEAD_DIM + ", got " + headDim);
    }

    private static void heads(int heads, int kvHeads) {
        positive("heads", heads);
        positive("kvHeads", kvHeads);
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException("heads (" + heads + ") must be a multiple of kvHeads (" + kvHeads + ")");
        }
    }

    private static void weightType(String name, DType type, int inner, String innerName) {
        if (type == null) throw new IllegalArgumentException(name + " is null");
        switch (type) {
            case F32, F16, BF16 -> { }
            case Q8_0, Q8_0_R16, Q4_0, Q4_0_R16, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K -> {
                if (inner % type.blockSize() != 0) {
                    throw new IllegalArgumentException(innerName + " must be a multiple of " + type.blockSize()
                            + " for " + name + " " + type + ", got " + inner);
                }
            }
            default -> throw new IllegalArgumentException(name + " " + type + " is not supported by the CPU backend"
                    + " (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K; Q8_0_R16, Q4_0_R16)");
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

    /** The first `bytes` of a segment (already checked to hold them), named for error messages; null for a null segment. */
    private record Span(String name, long address, long bytes) {}

    private static Span span(String name, MemorySegment s, long bytes) {
        return s == null ? null : new Span(name, s.address(), bytes);
    }

    private static boolean overlap(Span a, Span b) {
        return a.address < b.address + b.bytes && b.address < a.address + a.bytes;
    }

    /** The written span must overlap none of the others (null spans are absent arguments). */
    private static void disjoint(Span written, Span... others) {
        if (written == null) return;
        for (Span o : others) {
            if (o != null && overlap(written, o)) throw new IllegalArgumentException(written.name + " must not overlap " + o.name);
        }
    }

    /** An output that may be one of its inputs exactly (same start, same size), but not partly overlap it. */
    private static void sameOrDisjoint(Span out, Span in) {
        if (out == null || in == null || (out.address == in.address && out.bytes == in.bytes)) return;
        if (overlap(out, in)) {
            throw new IllegalArgumentException(out.name + " must be " + in.name + " itself or not overlap it");
        }
    }

    private static int intAt(MemorySegment s, long index) {
        return s.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, index);
    }

    private static MemorySegment orNull(MemorySegment s) {
        return s == null ? MemorySegment.NULL : s;
    }

    // ---- DETR: max pooling -------------------------------------------------------------------------

    private static final MethodHandle MAX_POOL2D = handle("tf_cpu_max_pool2d", FunctionDescriptor.of(JAVA_INT,
            ADDRESS, ADDRESS, ADDRESS));

    /**
     * 2-D max pooling, NHWC, F32 (transfuse.h, tf_cpu_max_pool2d): x [pixels][channels], out [outPixels][channels],
     * {@code pool} the geometry with inChannels == outChannels and padding at most half the window. out overlaps no input.
     */
    public static void maxPool2d(MemorySegment out, MemorySegment x, Conv2d pool) {
        if (pool == null) throw new IllegalArgumentException("pool (the geometry) is null");
        if (pool.inChannels() != pool.outChannels() || 2 * pool.padH() > pool.kernelH() || 2 * pool.padW() > pool.kernelW()) {
            throw new IllegalArgumentException("max pool " + pool + ": needs inChannels == outChannels and padding at most half the window");
        }
        long xBytes = pool.inPixels() * pool.inChannels() * 4, outBytes = pool.outPixels() * pool.outChannels() * 4;
        writable("out", out, outBytes);
        readable("x", x, xBytes);
        disjoint(span("out", out, outBytes), span("x", x, xBytes));
        int rc;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment geom = arena.allocateFrom(JAVA_INT, pool.geometry());
            rc = NativeLibrary.callInt(() -> (int) MAX_POOL2D.invokeExact(out, x, geom));
        }
        if (rc != 0) throw new IllegalStateException("tf_cpu_max_pool2d refused " + pool + " (code " + rc + ")");
    }

    // ---- encoder-decoder (seq2seq) ------------------------------------------------------------

    private static final MethodHandle ATTENTION_REL_BIAS = handle("tf_cpu_attention_rel_bias", FunctionDescriptor.ofVoid(
            ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT));

    /**
     * Attention over key spans with a relative-position bias (tf_cpu_attention_rel_bias): query token t attends to
     * key rows spans[t][0] .. + spans[t][1] - 1, key j biased by {@code bias[h][clamp(j - spans[t][2], -R, R) + R]}
     * (bias f32 [heads][2R + 1], or null). q, out [tokens][heads * headDim]; k, v [keyRows][kvHeads * headDim].
     * The spans are checked here against keyRows, so the kernel never reads outside k and v.
     */
    public static void attentionRelBias(MemorySegment out, MemorySegment q, MemorySegment k, MemorySegment v, MemorySegment spans,
                                        MemorySegment bias, int biasRadius, int tokens, long keyRows, int heads, int kvHeads,
                                        int headDim, float scale) {
        positive("tokens", tokens);
        heads(heads, kvHeads);
        headDim(headDim);
        if (!Float.isFinite(scale)) throw new IllegalArgumentException("scale must be finite, got " + scale);
        long qBytes = (long) tokens * heads * headDim * 4, kvBytes = keyRows * kvHeads * headDim * 4, spanBytes = (long) tokens * 12;
        writable("out", out, qBytes);
        readable("q", q, qBytes);
        readable("k", k, kvBytes);
        readable("v", v, kvBytes);
        readable("spans", spans, spanBytes);
        for (int t = 0; t < tokens; t++) {
            long first = intAt(spans, 3L * t), count = intAt(spans, 3L * t + 1), pos = intAt(spans, 3L * t + 2);
            if (first < 0 || count < 0 || pos < 0 || first + count > keyRows) {
                throw new IllegalArgumentException("spans[" + t + "] = (" + first + ", " + count + ", " + pos + ") lies outside the "
                        + keyRows + " key rows");
            }
        }
        long biasBytes = 0;
        if (bias != null) {
            if (biasRadius < 0) throw new IllegalArgumentException("bias radius must be >= 0, got " + biasRadius);
            biasBytes = (long) heads * (2L * biasRadius + 1) * 4;
            readable("bias", bias, biasBytes);
        }
        disjoint(span("out", out, qBytes), span("q", q, qBytes), span("k", k, kvBytes), span("v", v, kvBytes),
                span("spans", spans, spanBytes), bias == null ? null : span("bias", bias, biasBytes));
        MemorySegment b = orNull(bias);
        NativeLibrary.call(() -> { ATTENTION_REL_BIAS.invokeExact(out, q, k, v, spans, b, biasRadius, tokens, heads, kvHeads, headDim,
                scale); });
    }

    // ---- seq2seq decoder on the paged KV cache (issue 17) ---------------------------------------

    private static final MethodHandle ATTENTION_REL_BIAS_PAGED = handle("tf_cpu_attention_rel_bias_paged", FunctionDescriptor.ofVoid(
            ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
            JAVA_INT, JAVA_FLOAT));

    /**
     * A seq2seq decoder's causal self-attention over its paged KV cache with a relative-position bias
     * (tf_cpu_attention_rel_bias_paged): query token t at position p = positions[t] attends to keys 0 .. p of block-table
     * row t (blockTable int32 [tokens][maxBlocksPerSeq]), key j biased by {@code bias[h][clamp(j - p, -R, R) + R]}
     * (bias f32 [heads][2R + 1], or null). q, out [tokens][heads * headDim]; the cache F32. Every block a query reads
     * is checked here, so the kernel never reads outside the cache.
     */
    public static void attentionRelBiasPaged(MemorySegment out, MemorySegment q, MemorySegment kCache, MemorySegment vCache,
                                             MemorySegment blockTable, MemorySegment positions, MemorySegment bias, int biasRadius,
                                             int tokens, int heads, int kvHeads, int headDim, int blockSize, int maxBlocksPerSeq,
                                             float scale) {
        PagedCache cache = pagedQueries(out, q, kCache, vCache, DType.F32, blockTable, tokens, heads, kvHeads, headDim, blockSize,
                maxBlocksPerSeq, scale);
        long qBytes = (long) tokens * heads * headDim * 4;
        readable("positions", positions, (long) tokens * 4);
        long biasBytes = 0;
        if (bias != null) {
            if (biasRadius < 0) throw new IllegalArgumentException("bias radius must be >= 0, got " + biasRadius);
            biasBytes = (long) heads * (2L * biasRadius + 1) * 4;
            readable("bias", bias, biasBytes);
        }
        disjoint(span("out", out, qBytes), span("q", q, qBytes), cache.k, cache.v, cache.table,
                span("positions", positions, (long) tokens * 4), bias == null ? null : span("bias", bias, biasBytes));
        for (int t = 0; t < tokens; t++) {
            int p = intAt(positions, t);
            if (p < 0 || p >= (long) maxBlocksPerSeq * blockSize) {
                throw new IllegalArgumentException("positions[" + t + "] = " + p + " is outside [0, maxBlocksPerSeq * blockSize = "
                        + (long) maxBlocksPerSeq * blockSize + ")");
            }
            for (int i = 0; i <= p / blockSize; i++) cache.block(t, i);
        }
        MemorySegment b = orNull(bias);
        NativeLibrary.call(() -> { ATTENTION_REL_BIAS_PAGED.invokeExact(out, q, kCache, vCache, blockTable, positions, b, biasRadius,
                tokens, heads, kvHeads, headDim, blockSize, maxBlocksPerSeq, scale); });
    }
}
