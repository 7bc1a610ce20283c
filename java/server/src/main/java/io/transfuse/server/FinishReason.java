package io.transfuse.server;

import io.transfuse.GenerationResult.StopReason;

/** OpenAI's {@code finish_reason} for the engine's stop reasons. */
final class FinishReason {
    private FinishReason() {}

    /**
     * "stop" for an end-of-generation token or a stop string; "length" when the token limit or the context ended
     * it, and for the server's request timeout too (the text was cut short, as with a limit; OpenAI has no own name).
     */
    static String of(StopReason r) {
        return switch (r) {
            case END_OF_SEQUENCE, STOP_STRING -> "stop";
            case MAX_TOKENS, CONTEXT_FULL, TIMEOUT -> "length";
        };
    }
}
