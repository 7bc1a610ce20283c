package io.transfuse.cuda.runtime;

/** Element types of device tensors, with the codes each native API uses for them. */
public enum ElemType {
    F32(4, 0, 0), F16(2, 1, 2), BF16(2, 2, 14);

    private final int bytes, tfCode, cudaDataType;

    ElemType(int bytes, int tfCode, int cudaDataType) {
        this.bytes = bytes;
        this.tfCode = tfCode;
        this.cudaDataType = cudaDataType;
    }

    public int bytes() { return bytes; }

    /** TF_DTYPE_* of transfuse.h. */
    public int tfCode() { return tfCode; }

    /** cudaDataType_t (CUDA_R_32F 0, CUDA_R_16F 2, CUDA_R_16BF 14) for cuBLAS. */
    public int cudaDataType() { return cudaDataType; }

    /** Parses "f16", "fp16", "bf16" (configuration), naming the valid ones on error. */
    public static ElemType parseHalf(String s) {
        return switch (s.toLowerCase(java.util.Locale.ROOT)) {
            case "f16", "fp16", "float16" -> F16;
            case "bf16", "bfloat16" -> BF16;
            default -> throw new IllegalArgumentException("unknown GPU weight type '" + s + "' (valid: f16, bf16)");
        };
    }
}
