package io.transfuse.langchain4j;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;
import io.transfuse.GenerationResult;

/** A finished Transfuse generation as a langchain4j chat response (text, finish reason, token usage). */
final class ChatResponses {
    private ChatResponses() {}

    static ChatResponse of(long id, String modelName, GenerationResult r) {
        return ChatResponse.builder()
                .aiMessage(AiMessage.from(r.text()))
                .id("transfuse-" + id)
                .modelName(modelName)
                .tokenUsage(new TokenUsage(r.promptTokens(), r.generatedTokens()))
                .finishReason(finishReason(r.stopReason()))
                .build();
    }

    /** The token limit and a full context are both LENGTH (cut short); a timeout or a cancellation is OTHER; the rest ended by itself. */
    static FinishReason finishReason(GenerationResult.StopReason why) {
        return switch (why) {
            case END_OF_SEQUENCE, STOP_STRING -> FinishReason.STOP;
            case MAX_TOKENS, CONTEXT_FULL -> FinishReason.LENGTH;
            case TIMEOUT, CANCELLED -> FinishReason.OTHER;
        };
    }
}
