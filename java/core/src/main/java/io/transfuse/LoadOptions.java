package io.transfuse;

import io.transfuse.model.DecoderLimits;

/**
 * How to load a model.
 *
 * @param device        where it runs
 * @param threads       CPU threads for the native kernels (0 = one per core)
 * @param contextLength tokens of context a sequence may hold (0 = the model's maximum)
 * @param maxSequences  sequences a decoder serves at once: its KV cache (or state slots) and the largest
 *                      batch of one forward pass (0 = {@link #DEFAULT_MAX_SEQUENCES})
 */
public record LoadOptions(Device device, int threads, int contextLength, int maxSequences) {
    /** Sequences a decoder plans for when the options name no number. */
    public static final int DEFAULT_MAX_SEQUENCES = 16;

    public LoadOptions {
        if (device == null) throw new IllegalArgumentException("device must not be null");
        if (threads < 0) throw new IllegalArgumentException("threads must be >= 0 (0 = one per core), got " + threads);
        if (contextLength < 0) throw new IllegalArgumentException("context length must be >= 0 (0 = the model's), got " + contextLength);
        if (maxSequences < 0) throw new IllegalArgumentException("max sequences must be >= 0 (0 = " + DEFAULT_MAX_SEQUENCES + "), got " + maxSequences);
    }

    public static LoadOptions defaults() {
        return new LoadOptions(Device.AUTO, 0, 0, 0);
    }

    public LoadOptions withDevice(Device d) { return new LoadOptions(d, threads, contextLength, maxSequences); }

    public LoadOptions withThreads(int n) { return new LoadOptions(device, n, contextLength, maxSequences); }

    public LoadOptions withContextLength(int n) { return new LoadOptions(device, threads, n, maxSequences); }

    public LoadOptions withMaxSequences(int n) { return new LoadOptions(device, threads, contextLength, n); }

    /**
     * A decoder's limits: the context (these options' if set, at most the model's), the sequences to plan
     * for, and tokens per forward pass: one decode token per sequence plus {@code batchTokens} (the family's
     * prefill chunk), so a pass in which every sequence decodes still leaves a whole chunk for a waiting prompt
     * (with 64 sequences decoding and only 128 tokens a pass, a new prompt got 64 a pass: slow first tokens).
     */
    public DecoderLimits decoderLimits(int modelContext, int batchTokens) {
        int context = contextLength == 0 ? modelContext : Math.min(contextLength, modelContext);
        int sequences = maxSequences == 0 ? DEFAULT_MAX_SEQUENCES : maxSequences;
        return new DecoderLimits(batchTokens + sequences, sequences, context, DecoderLimits.BLOCK_SIZE);
    }
}
