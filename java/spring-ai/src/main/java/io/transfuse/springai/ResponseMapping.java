package io.transfuse.springai;

import io.transfuse.GenerationResult;
import org.springframework.ai.chat.messages.AssistantMessage;
import org.springframework.ai.chat.metadata.ChatGenerationMetadata;
import org.springframework.ai.chat.metadata.ChatResponseMetadata;
import org.springframework.ai.chat.metadata.DefaultUsage;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.ai.chat.model.Generation;

import java.util.List;

/** Transfuse generations as Spring AI chat responses: text, finish reason, id, model and token usage. */
final class ResponseMapping {
    private ResponseMapping() {}

    /** The whole reply (call), or the closing chunk of a stream with {@code text} "" (its pieces came before). */
    static ChatResponse finished(long id, String modelName, String text, GenerationResult r) {
        Generation g = new Generation(new AssistantMessage(text),
                ChatGenerationMetadata.builder().finishReason(finishReason(r.stopReason())).build());
        return ChatResponse.builder().generations(List.of(g)).metadata(ChatResponseMetadata.builder()
                .id("transfuse-" + id).model(modelName)
                .usage(new DefaultUsage(r.promptTokens(), r.generatedTokens(), r.promptTokens() + r.generatedTokens(), r))
                .build()).build();
    }

    /** One streamed piece of text (the id, finish reason and usage come with the closing chunk). */
    static ChatResponse piece(String modelName, String text) {
        return ChatResponse.builder().generations(List.of(new Generation(new AssistantMessage(text))))
                .metadata(ChatResponseMetadata.builder().model(modelName).build()).build();
    }

    /**
     * OpenAI's finish reason names, as Spring AI's OpenAI model reports them: STOP for an end-of-generation token or a
     * stop string, LENGTH for the token limit or a full context, TIMEOUT for Transfuse's deadline, CANCELLED for a cancelled generation.
     */
    static String finishReason(GenerationResult.StopReason why) {
        return switch (why) {
            case END_OF_SEQUENCE, STOP_STRING -> "STOP";
            case MAX_TOKENS, CONTEXT_FULL -> "LENGTH";
            case TIMEOUT -> "TIMEOUT";
            case CANCELLED -> "CANCELLED";
        };
    }
}
