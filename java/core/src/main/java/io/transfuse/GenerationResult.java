package io.transfuse;

/**
 * The outcome of one generation: the new text and tokens, and how long each phase took.
 *
 * @param tokens      prompt tokens (with BOS) followed by the generated ones
 * @param decodeSteps forward passes of single generated tokens (timed by {@code decodeNanos})
 */
public record GenerationResult(String text, int[] tokens, int promptTokens, int generatedTokens,
                               int decodeSteps, long prefillNanos, long decodeNanos, StopReason stopReason) {

    /**
     * Why generation ended: MAX_TOKENS (the options' limit), END_OF_SEQUENCE (an end-of-generation token),
     * STOP_STRING (the text reached one of the options' stop strings), CONTEXT_FULL (the sequence's context),
     * TIMEOUT (the options' timeout passed; the text so far is kept).
     */
    public enum StopReason { MAX_TOKENS, END_OF_SEQUENCE, STOP_STRING, CONTEXT_FULL, TIMEOUT }

    /** Prompt tokens processed per second. */
    public double prefillTokensPerSecond() {
        return prefillNanos == 0 ? 0 : promptTokens * 1e9 / prefillNanos;
    }

    /** Single-token forward passes per second. */
    public double decodeTokensPerSecond() {
        return decodeNanos == 0 ? 0 : decodeSteps * 1e9 / decodeNanos;
    }
}
