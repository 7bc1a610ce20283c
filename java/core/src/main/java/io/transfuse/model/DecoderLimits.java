package io.transfuse.model;

/**
 * What a decoder graph plans its memory for at load: {@code maxTokens} tokens and {@code maxSequences}
 * sequences per forward pass (the activation workspace), and a state store for {@code maxSequences}
 * sequences of {@code context} positions (the KV cache, in blocks of {@code blockSize}).
 */
public record DecoderLimits(int maxTokens, int maxSequences, int context, int blockSize) {
    /** Positions per KV block (vLLM's default: small enough to waste little, large enough for the kernels). */
    public static final int BLOCK_SIZE = 16;

    public DecoderLimits {
        if (maxTokens < 1 || maxSequences < 1 || context < 1 || blockSize < 1) {
            throw new IllegalArgumentException("decoder limits must be positive: " + maxTokens + " tokens, " + maxSequences
                    + " sequences, context " + context + ", block size " + blockSize);
        }
    }

    /** KV blocks one sequence of the full context holds. */
    public int blocksPerSequence() { return (context + blockSize - 1) / blockSize; }

    /**
     * KV blocks of the whole pool: {@code maxSequences} sequences of the full context. Sessions and the engine draw
     * from it as their sequences grow, so this bounds the KV memory whatever the number of sequences open.
     */
    public int poolBlocks() {
        long blocks = (long) blocksPerSequence() * maxSequences;
        if (blocks > Integer.MAX_VALUE) {
            throw new io.transfuse.TransfuseException("a KV cache of " + maxSequences + " sequences of " + context + " positions is "
                    + blocks + " blocks of " + blockSize + ", more than a pool numbers (2^31-1); " + MemoryBudget.KV_ADVICE);
        }
        return (int) blocks;
    }
}
