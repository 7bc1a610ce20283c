package io.transfuse.backend;

/**
 * How rotary position embedding pairs the values of a head. Both rotate a pair {@code (a, b)} by
 * the angle {@code pos * invFreq[i]} for {@code i < rotaryDim / 2}; they differ in which values form
 * pair {@code i}.
 */
public enum RopeLayout {
    /** Pair i is {@code (x[2i], x[2i + 1])}: GGUF files and llama2.c checkpoints. */
    ADJACENT_PAIRS,
    /** Pair i is {@code (x[i], x[i + rotaryDim / 2])}: Hugging Face (safetensors) checkpoints. */
    HALF_SPLIT
}
