package io.transfuse;

/**
 * The outcome of one generation: the new text and tokens, and how long each phase took.
 *
 * @param text            the generated text (without a stop string that ended it)
 * @param tokens          prompt tokens (with BOS) followed by the generated ones
 * @param promptTokens    tokens of the prompt
 * @param generatedTokens tokens generated
 * @param decodeSteps     forward passes of single generated tokens (timed by {@code decodeNanos})
 * @param prefillNanos    time until the prompt was processed (in an engine: until the first token)
 * @param decodeNanos     time of the single-token passes
 * @param stopReason      why generation ended
 */
public record GenerationResult(String text, int[] tokens, int promptTokens, int generatedTokens,
                               int decodeSteps, long prefillNanos, long decodeNanos, StopReason stopReason) {

    /**
     * Why generation ended: MAX_TOKENS (the options' limit), END_OF_SEQUENCE (an end-of-generation token),
     * STOP_STRING (the text reached one of the options' stop strings), CONTEXT_FULL (the sequence's context),
     * TIMEOUT (the options' timeout passed; the text so far is kept), CANCELLED (a {@link CancellationToken}
     * was cancelled; the text so far is kept).
     */
    public enum StopReason { MAX_TOKENS, END_OF_SEQUENCE, STOP_STRING, CONTEXT_FULL, TIMEOUT, CANCELLED }

    /**
     * Prompt tokens processed per second.
     *
     * @return tokens per second (0 when not timed)
     */
    public double prefillTokensPerSecond() {
        return prefillNanos == 0 ? 0 : promptTokens * 1e9 / prefillNanos;
    }

    /**
     * Single-token forward passes per second.
     *
     * @return passes per second (0 when not timed)
     */
    public double decodeTokensPerSecond() {
        return decodeNanos == 0 ? 0 : decodeSteps * 1e9 / decodeNanos;
    }
}
