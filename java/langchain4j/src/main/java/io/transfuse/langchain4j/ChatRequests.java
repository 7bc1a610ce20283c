package io.transfuse.langchain4j;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import io.transfuse.ChatMessage;
import io.transfuse.GenerateOptions;
import io.transfuse.SamplingOptions;

import java.util.ArrayList;
import java.util.List;

/** langchain4j chat requests in Transfuse's terms: the conversation, and its parameters over the adapter's defaults. */
final class ChatRequests {
    private ChatRequests() {}

    /** System, user and assistant turns; anything a plain text model cannot take (images, tool calls) is refused by name. */
    static List<ChatMessage> messages(List<dev.langchain4j.data.message.ChatMessage> messages) {
        if (messages == null || messages.isEmpty()) throw new IllegalArgumentException("the chat request has no messages");
        List<ChatMessage> out = new ArrayList<>(messages.size());
        for (int i = 0; i < messages.size(); i++) {
            dev.langchain4j.data.message.ChatMessage m = messages.get(i);
            switch (m) {
                case SystemMessage s -> out.add(ChatMessage.system(s.text()));
                case UserMessage u -> {
                    if (!u.hasSingleText()) {
                        throw new UnsupportedFeatureException("message " + i + ": Transfuse chat models take text only, "
                                + "not the user message's " + u.contents().size() + " contents of types "
                                + u.contents().stream().map(c -> c.type().toString()).toList());
                    }
                    out.add(ChatMessage.user(u.singleText()));
                }
                case AiMessage a -> {
                    if (a.hasToolExecutionRequests()) {
                        throw new UnsupportedFeatureException("message " + i + ": Transfuse chat models do not call tools (the AI message has tool execution requests)");
                    }
                    out.add(ChatMessage.assistant(a.text() == null ? "" : a.text()));
                }
                default -> throw new UnsupportedFeatureException("message " + i + ": Transfuse chat models take system, user and AI messages, not " + m.type());
            }
        }
        return out;
    }

    /**
     * {@code base} with the request's maxOutputTokens, temperature, topP, topK, frequencyPenalty, presencePenalty and
     * stopSequences where they are set (the seed and timeout stay the base's). Parameters Transfuse does not implement
     * are refused rather than ignored.
     */
    static GenerateOptions options(ChatRequest request, GenerateOptions base) {
        ChatRequestParameters p = request.parameters();
        if (p == null) return base;
        if (p.toolSpecifications() != null && !p.toolSpecifications().isEmpty()) {
            throw new UnsupportedFeatureException("Transfuse chat models do not call tools (the request has " + p.toolSpecifications().size() + " tool specifications)");
        }
        ResponseFormat format = p.responseFormat();
        if (format != null && format.type() != ResponseFormatType.TEXT) {
            throw new UnsupportedFeatureException("Transfuse chat models answer in plain text, not response format " + format.type());
        }
        GenerateOptions o = base;
        if (p.maxOutputTokens() != null) {
            if (p.maxOutputTokens() < 1) throw new IllegalArgumentException("maxOutputTokens must be >= 1, got " + p.maxOutputTokens());
            o = o.withMaxTokens(p.maxOutputTokens());
        }
        SamplingOptions.Builder s = o.sampling().toBuilder();
        if (p.temperature() != null) s.temperature(p.temperature());
        if (p.topK() != null) s.topK(p.topK());
        if (p.topP() != null) s.topP(p.topP());
        if (p.frequencyPenalty() != null) s.frequencyPenalty(p.frequencyPenalty());
        if (p.presencePenalty() != null) s.presencePenalty(p.presencePenalty());
        o = o.withSampling(s.build());
        if (p.stopSequences() != null && !p.stopSequences().isEmpty()) o = o.withStop(p.stopSequences());
        return o;
    }


    /** The defaults as langchain4j parameters, so ChatModel.chat merges request parameters over them. */
    static ChatRequestParameters parameters(GenerateOptions base, String modelName) {
        SamplingOptions s = base.sampling();
        return ChatRequestParameters.builder()
                .modelName(modelName)
                .maxOutputTokens(base.maxTokens())
                .temperature(s.temperature())
                .topP(s.topP())
                .topK(s.topK())
                .frequencyPenalty(s.frequencyPenalty())
                .presencePenalty(s.presencePenalty())
                .stopSequences(base.stop())
                .build();
    }
}
