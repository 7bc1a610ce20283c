package io.transfuse.tensor;

/**
 * Storage types of tensor elements. Block-quantised types store {@link #blockSize()} elements in
 * {@link #blockBytes()} bytes (GGML layouts: Q8_0 = f16 scale + 32 int8; Q4_0 = f16 scale + 16 bytes
 * of 4-bit values, element j in the low nibble of byte j and element j+16 in the high nibble).
 */
public enum DType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    BF16(30, 1, 2),
    Q8_0(8, 32, 34),
    Q4_0(2, 32, 18),
    /** Integer tensors (token ids, positions). Not a GGUF weight type. */
    I32(-1, 1, 4),
    /**
     * F32 weights repacked into the CPU backend's column panels (transfuse.h, TF_CPU_F32_PANELS; padded
     * to whole panels, so the data is larger than {@link #bytesFor}). Made at load by
     * {@code Backend.prepareMatmulWeight}; only the CPU matmul reads it. Not a GGUF type.
     */
    F32_PANELS(-1, 1, 4),
    /**
     * F32 weights split into three bf16 parts in AMX tile order (transfuse.h, TF_CPU_F32_AMX; padded to
     * whole tiles). Made at load by {@code Backend.prepareMatmulWeight} on CPUs with AMX-BF16; only the
     * CPU matmul reads it, with f32-level accuracy. Not a GGUF type.
     */
    F32_AMX(-1, 1, 4);

    private final int ggmlType;
    private final int blockSize;
    private final int blockBytes;

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

    /** Bytes needed for {@code elements} elements; throws if they do not fill whole blocks. */
    public long bytesFor(long elements) {
        if (elements % blockSize != 0) {
            throw new IllegalArgumentException(
                    this + " stores blocks of " + blockSize + " elements; " + elements + " is not a multiple");
        }
        return elements / blockSize * blockBytes;
    }

    /** The type with GGML id {@code id}, or null when Transfuse does not support it. */
    public static DType fromGgml(int id) {
        for (DType t : values()) {
            if (t.ggmlType == id && id >= 0) return t;
        }
        return null;
    }
}
