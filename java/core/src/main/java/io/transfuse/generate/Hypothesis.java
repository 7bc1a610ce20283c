package io.transfuse.generate;

/**
 * One finished sequence of a search.
 *
 * @param tokens       the generated tokens, after the prompt (or decoder start), the final EOS included when it
 *                     ended with one
 * @param score        beam search: sum of the processed log-probabilities / generated length ** length_penalty
 *                     (HF's {@code sequences_scores}); greedy: NaN
 * @param endedWithEos whether the last token is an EOS token (otherwise the maximum length ended it)
 */
public record Hypothesis(int[] tokens, float score, boolean endedWithEos) {
    /** The generated tokens without the final EOS. */
    public int[] withoutEos() {
        return endedWithEos ? java.util.Arrays.copyOf(tokens, tokens.length - 1) : tokens.clone();
    }
}
