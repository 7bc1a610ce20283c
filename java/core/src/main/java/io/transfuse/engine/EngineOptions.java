package io.transfuse.engine;

/**
 * How an {@link Engine} schedules.
 *
 * @param maxBatchTokens tokens one forward pass takes at most (decode tokens plus prefill chunks; 0 = the model's limit)
 * @param maxSequences   sequences running at once (0 = the most one forward pass of the model takes)
 * @param maxQueued      requests waiting to start before new ones are rejected ({@link EngineOverloadedException})
 * @param prefixCaching  whether full KV blocks are shared between requests that start with the same tokens
 * @param listener       told of each step and token, for metrics (never null; {@link EngineListener#NONE})
 */
public record EngineOptions(int maxBatchTokens, int maxSequences, int maxQueued, boolean prefixCaching, EngineListener listener) {
    public EngineOptions {
        if (maxBatchTokens < 0) throw new IllegalArgumentException("max batch tokens must be >= 0 (0 = the model's), got " + maxBatchTokens);
        if (maxSequences < 0) throw new IllegalArgumentException("max sequences must be >= 0 (0 = the model's), got " + maxSequences);
        if (maxQueued < 0) throw new IllegalArgumentException("max queued must be >= 0, got " + maxQueued);
        if (listener == null) throw new IllegalArgumentException("listener must not be null (EngineListener.NONE)");
    }

    /** The model's limits, 1024 waiting requests, prefix caching on. */
    public static EngineOptions defaults() {
        return new EngineOptions(0, 0, 1024, true, EngineListener.NONE);
    }

    public EngineOptions withMaxBatchTokens(int n) { return new EngineOptions(n, maxSequences, maxQueued, prefixCaching, listener); }

    public EngineOptions withMaxSequences(int n) { return new EngineOptions(maxBatchTokens, n, maxQueued, prefixCaching, listener); }

    public EngineOptions withMaxQueued(int n) { return new EngineOptions(maxBatchTokens, maxSequences, n, prefixCaching, listener); }

    public EngineOptions withPrefixCaching(boolean on) { return new EngineOptions(maxBatchTokens, maxSequences, maxQueued, on, listener); }

    public EngineOptions withListener(EngineListener l) { return new EngineOptions(maxBatchTokens, maxSequences, maxQueued, prefixCaching, l); }
}
