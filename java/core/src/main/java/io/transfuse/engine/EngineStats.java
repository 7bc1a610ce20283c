package io.transfuse.engine;

/**
 * A snapshot of an {@link Engine}: its load now and its counters since it started.
 *
 * @param queued            requests waiting to start
 * @param running           sequences being prefilled or decoded
 * @param kvBlocksUsed      KV blocks held by sequences (0 for models without a paged KV cache)
 * @param kvBlocksTotal     KV blocks of the model's cache
 * @param prefixQueryBlocks full prompt blocks looked up in the prefix cache
 * @param prefixHitBlocks   of those, blocks found (their tokens were not computed again)
 * @param promptTokens      prompt tokens computed (prefix hits not counted)
 * @param generatedTokens   tokens generated
 * @param steps             forward passes run
 * @param preemptions       sequences put back in the queue to free KV blocks (recomputed later)
 * @param rejected          requests refused because the queue was full
 */
public record EngineStats(int queued, int running, int kvBlocksUsed, int kvBlocksTotal, long prefixQueryBlocks,
                          long prefixHitBlocks, long promptTokens, long generatedTokens, long steps, long preemptions,
                          long rejected) {
    /** Share of looked-up prompt blocks found in the prefix cache (0 when none was looked up). */
    public double prefixHitRate() {
        return prefixQueryBlocks == 0 ? 0 : (double) prefixHitBlocks / prefixQueryBlocks;
    }
}
