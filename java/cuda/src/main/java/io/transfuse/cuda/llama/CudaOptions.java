package io.transfuse.cuda.llama;

import io.transfuse.cuda.runtime.ElemType;

/**
 * Sizes the CUDA Llama graph plans for at load.
 *
 * @param dtype        element type of weights, activations and the KV cache (F16 or BF16)
 * @param maxTokens    tokens one forward call may carry over all sequences (sizes the activation workspace;
 *                     longer prompts of one sequence are fed token by token)
 * @param maxBatch     sequences one batched call may carry
 * @param maxSequences sequences that may hold KV pages at once (sizes the page pool)
 * @param blockSize    tokens per KV-cache page
 */
public record CudaOptions(ElemType dtype, int maxTokens, int maxBatch, int maxSequences, int blockSize) {
    /** System property choosing the element type: f16 (default) or bf16. */
    public static final String DTYPE_PROPERTY = "transfuse.cuda.dtype";

    public CudaOptions {
        if (dtype != ElemType.F16 && dtype != ElemType.BF16) throw new IllegalArgumentException("GPU element type must be F16 or BF16, got " + dtype);
        if (maxTokens < 1 || maxBatch < 1 || maxSequences < 1 || blockSize < 1) {
            throw new IllegalArgumentException("CUDA options must be positive: " + maxTokens + ", " + maxBatch + ", " + maxSequences + ", " + blockSize);
        }
    }

    /** fp16 (or the type named by -Dtransfuse.cuda.dtype), 128 tokens, batches of 8, 8 sequences, 16-token pages. */
    public static CudaOptions defaults() {
        return new CudaOptions(ElemType.parseHalf(System.getProperty(DTYPE_PROPERTY, "f16")), 128, 8, 8, 16);
    }

    public CudaOptions withDtype(ElemType t) { return new CudaOptions(t, maxTokens, maxBatch, maxSequences, blockSize); }
}
