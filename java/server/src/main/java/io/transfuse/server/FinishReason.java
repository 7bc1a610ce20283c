package io.transfuse.server;

import io.transfuse.GenerationResult.StopReason;

/** OpenAI's {@code finish_reason} for the engine's stop reasons. */
final class FinishReason {
    private FinishReason() {}

    /**
     * "stop" for an end-of-generation token or a stop string; "length" when the token limit or the context ended
     * it, and for the server's request timeout too (the text was cut short, as with a limit; OpenAI has no own name).
     * A cancelled generation (the engine's requests are cancelled through their handle, never through a token, and a
     * cancelled request gets no response) would be cut short as well: "length".
     */
    static String of(StopReason r) {
        return switch (r) {
            case END_OF_SEQUENCE, STOP_STRING -> "stop";
            case MAX_TOKENS, CONTEXT_FULL, TIMEOUT, CANCELLED -> "length";
        };
    }
}
