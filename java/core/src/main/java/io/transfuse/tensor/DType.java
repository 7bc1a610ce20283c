package io.transfuse.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Storage types of tensor elements. Block-quantised types store {@link #blockSize()} elements in
 * {@link #blockBytes()} bytes (GGML layouts: Q8_0 = f16 scale + 32 int8; Q4_0 = f16 scale + 16 bytes
 * of 4-bit values, element j in the low nibble of byte j and element j+16 in the high nibble). The
 * other ggml block types (Q4_1, Q5_0, Q5_1 in blocks of 32; the K-quants Q4_K, Q5_K, Q6_K in
 * super-blocks of 256) follow the ggml specification, ggml-common.h; native/cpu/quant_blocks.h
 * summarises their layouts.
 */
public enum DType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    BF16(30, 1, 2),
    Q8_0(8, 32, 34),
    Q4_0(2, 32, 18),
    Q4_1(3, 32, 20),
    Q5_0(6, 32, 22),
    Q5_1(7, 32, 24),
    Q4_K(12, 256, 144),
    Q5_K(13, 256, 176),
    Q6_K(14, 256, 210),
    /** Integer tensors (token ids, positions). Not a GGUF weight type. */
    I32(-1, 1, 4),
    /**
     * F32 weights repacked into the CPU backend's column panels (transfuse.h, TF_CPU_F32_PANELS; padded
     * to whole panels, so the data is larger than {@link #bytesFor}). Made at load by
     * {@code Backend.weight} (BATCHED); only the CPU matmul reads it. Not a GGUF type.
     */
    F32_PANELS(-1, 1, 4),
    /**
     * F32 weights split into three bf16 parts in AMX tile order (transfuse.h, TF_CPU_F32_AMX; padded to
     * whole tiles). Made at load by {@code Backend.weight} (BATCHED) on CPUs with AMX-BF16; only the
     * CPU matmul reads it, with f32-level accuracy. Not a GGUF type.
     */
    F32_AMX(-1, 1, 4),
    /**
     * Q8_0 weights repacked into groups of 16 rows (transfuse.h, TF_CPU_Q8_0_R16: each vector lane one row's
     * block; padded to whole groups). Made at load by {@code Backend.weight} on CPUs whose kernels prefer it
     * (AVX-512 VNNI without AMX); the CPU matmul and embedding read it, with the numerics of Q8_0. Not a GGUF
     * type.
     */
    Q8_0_R16(-1, 32, 34),
    /** Q4_0 weights repacked into groups of 16 rows (transfuse.h, TF_CPU_Q4_0_R16), as {@link #Q8_0_R16} for Q8_0. */
    Q4_0_R16(-1, 32, 18);

    private final int ggmlType;
    private final int blockSize;
    private final int blockBytes;

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    DType(int ggmlType, int blockSize, int blockBytes) {
        this.ggmlType = ggmlType;
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
    }

    /** The GGML type id used in GGUF tensor infos, or -1 when GGUF has none. */
    public int ggmlType() { return ggmlType; }

    public int blockSize() { return blockSize; }

    public int blockBytes() { return blockBytes; }

    public boolean quantized() { return blockSize > 1; }

    /**
     * The stored type a backend's load-time layout is made from (F32 for {@link #F32_PANELS} and {@link #F32_AMX},
     * Q8_0 / Q4_0 for the 16-row groups), or null for a stored type.
     */
    public DType repackedFrom() {
        return switch (this) {
            case F32_PANELS, F32_AMX -> F32;
            case Q8_0_R16 -> Q8_0;
            case Q4_0_R16 -> Q4_0;
            default -> null;
        };
    }

    /** A backend's load-time layout of a weight (whole row groups or panels): no row or column views of it. */
    public boolean repacked() { return repackedFrom() != null; }

    /** One of the 16-row-group layouts of block types ({@link #Q8_0_R16}, {@link #Q4_0_R16}). */
    public boolean rows16() { return repacked() && repackedFrom().quantized(); }

    /** Bytes needed for {@code elements} elements; throws if they do not fill whole blocks. */
    public long bytesFor(long elements) {
        if (elements % blockSize != 0) {
            throw new IllegalArgumentException(
                    this + " stores blocks of " + blockSize + " elements; " + elements + " is not a multiple");
        }
        return elements / blockSize * blockBytes;
    }

    /** The element type code of the CUDA kernels ({@code TF_DTYPE_*}: F32 0, F16 1, BF16 2); -1 for other types. */
    public int tfCode() {
        return switch (this) {
            case F32 -> 0;
            case F16 -> 1;
            case BF16 -> 2;
            default -> -1;
        };
    }

    /** cudaDataType_t for cuBLAS (CUDA_R_32F 0, CUDA_R_16F 2, CUDA_R_16BF 14); -1 for other types. */
    public int cudaDataType() {
        return switch (this) {
            case F32 -> 0;
            case F16 -> 2;
            case BF16 -> 14;
            default -> -1;
        };
    }

    /** Bytes of one element of a float type (F32 4, F16 and BF16 2, I32 4). */
    public int elementBytes() {
        if (blockSize != 1) throw new IllegalArgumentException(this + " is block-quantised: elements have no size of their own");
        return blockBytes;
    }

    /** Element {@code index} of {@code src} (F32, F16 or BF16) as a float. */
    public float get(MemorySegment src, long index) {
        return switch (this) {
            case F32 -> src.getAtIndex(F32_LE, index);
            case F16 -> Float.float16ToFloat(src.getAtIndex(U16, index));
            case BF16 -> Float.intBitsToFloat((src.getAtIndex(U16, index) & 0xffff) << 16);
            default -> throw new IllegalArgumentException("element access needs F32, F16 or BF16, not " + this);
        };
    }

    /** Stores {@code v} at element {@code index} of {@code dst} (F32, F16 or BF16), rounded to nearest even. */
    public void put(MemorySegment dst, long index, float v) {
        switch (this) {
            case F32 -> dst.setAtIndex(F32_LE, index, v);
            case F16 -> dst.setAtIndex(U16, index, Float.floatToFloat16(v));
            case BF16 -> dst.setAtIndex(U16, index, toBf16(v));
            default -> throw new IllegalArgumentException("element access needs F32, F16 or BF16, not " + this);
        }
    }

    /** bfloat16 bits of {@code v}, rounded to nearest even (NaN stays a quiet NaN). */
    public static short toBf16(float v) {
        int bits = Float.floatToRawIntBits(v);
        if (Float.isNaN(v)) return (short) ((bits >>> 16) | 0x40);
        return (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
    }

    /** Parses a float element type as configuration names it ("f32", "f16"/"fp16", "bf16"), naming the valid ones on error. */
    public static DType parseFloat(String s) {
        return switch (s.toLowerCase(java.util.Locale.ROOT)) {
            case "f32", "fp32", "float32" -> F32;
            case "f16", "fp16", "float16" -> F16;
            case "bf16", "bfloat16" -> BF16;
            default -> throw new IllegalArgumentException("unknown element type '" + s + "' (valid: f32, f16, bf16)");
        };
    }

    /**
     * ggml's name of type id {@code id} (ggml.h's enum ggml_type), also for the types Transfuse does not
     * read, so that an error can say "IQ4_XS" rather than "23"; "type N" for ids ggml does not define.
     */
    public static String ggmlName(int id) {
        String[] names = {"F32", "F16", "Q4_0", "Q4_1", null, null, "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K", "Q3_K",
            "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S",
            "IQ4_XS", "I8", "I16", "I32", "I64", "F64", "IQ1_M", "BF16", null, null, null, "TQ1_0", "TQ2_0",
            null, null, null, "MXFP4"};
        return id >= 0 && id < names.length && names[id] != null ? names[id] : "type " + id;
    }

    /** The type with GGML id {@code id}, or null when Transfuse does not support it. */
    public static DType fromGgml(int id) {
        for (DType t : values()) {
            if (t.ggmlType == id && id >= 0) return t;
        }
        return null;
    }
}
