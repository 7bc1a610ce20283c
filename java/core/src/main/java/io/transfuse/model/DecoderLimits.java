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

    /**
     * A decoder's limits from the load options, the one sizing rule of its state: the context (the options' if set,
     * else {@link io.transfuse.LoadOptions#DEFAULT_CONTEXT}; at most the model's), the
     * sequences to plan for, and tokens per forward pass: one decode token per sequence plus {@code batchTokens}
     * (the family's prefill chunk), so a pass in which every sequence decodes still leaves a whole chunk for a
     * waiting prompt (with 64 sequences decoding and only 128 tokens a pass, a new prompt got 64 a pass: slow
     * first tokens). (Here, not in LoadOptions, so that the API does not show this internal type.)
     */
    public static DecoderLimits of(io.transfuse.LoadOptions options, int modelContext, int batchTokens) {
        int context = Math.min(options.contextLength() == 0 ? io.transfuse.LoadOptions.DEFAULT_CONTEXT : options.contextLength(), modelContext);
        int sequences = options.maxSequences() == 0 ? io.transfuse.LoadOptions.DEFAULT_MAX_SEQUENCES : options.maxSequences();
        return new DecoderLimits(batchTokens + sequences, sequences, context, BLOCK_SIZE);
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
