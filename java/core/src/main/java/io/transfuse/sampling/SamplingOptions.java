package io.transfuse.sampling;

/**
 * How the next token is chosen from the logits.
 *
 * @param temperature 0 picks the most likely token (greedy); otherwise logits are divided by it
 * @param topK        keep only the k most likely tokens (0 = no limit)
 * @param topP        keep the smallest set of most likely tokens whose probability reaches p (1 = no limit)
 * @param seed        seed of the random generator, so runs are reproducible
 */
public record SamplingOptions(float temperature, int topK, float topP, long seed) {
    public SamplingOptions {
        if (!(temperature >= 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + temperature);
        }
        if (topK < 0) throw new IllegalArgumentException("top-k must be >= 0 (0 = off), got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top-p must be in (0, 1], got " + topP);
    }

    public static SamplingOptions greedy() {
        return new SamplingOptions(0, 0, 1, 0);
    }
}
