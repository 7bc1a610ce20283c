package io.transfuse.model;

/**
 * How the two halves of each rotary pair are laid out within a head. Both rotate (a, b) by the
 * same angle; they differ only in which elements form a pair.
 */
public enum RopeLayout {
    /** Pairs are adjacent: (x[2i], x[2i+1]). GGUF and Meta's original checkpoints (llama2.c). */
    ADJACENT_PAIRS,
    /** Pairs are split in halves: (x[i], x[i + d/2]). Hugging Face checkpoints (Q/K rows permuted). */
    HALF_SPLIT
}
