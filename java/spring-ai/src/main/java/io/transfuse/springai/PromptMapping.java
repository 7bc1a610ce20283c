package io.transfuse.springai;

import io.transfuse.ChatMessage;
import io.transfuse.GenerateOptions;
import io.transfuse.SamplingOptions;
import org.springframework.ai.chat.messages.AssistantMessage;
import org.springframework.ai.chat.messages.Message;
import org.springframework.ai.chat.messages.UserMessage;
import org.springframework.ai.chat.prompt.ChatOptions;
import org.springframework.ai.model.tool.ToolCallingChatOptions;

import java.util.ArrayList;
import java.util.List;

/** Spring AI prompts in Transfuse's terms: the conversation, and the prompt's ChatOptions over the model's defaults. */
final class PromptMapping {
    private PromptMapping() {}

    /** System, user and assistant messages; media, tool calls and tool responses are refused by name. */
    static List<ChatMessage> messages(List<Message> messages) {
        if (messages == null || messages.isEmpty()) throw new IllegalArgumentException("the prompt has no messages");
        List<ChatMessage> out = new ArrayList<>(messages.size());
        for (int i = 0; i < messages.size(); i++) {
            Message m = messages.get(i);
            String text = m.getText() == null ? "" : m.getText();
            switch (m.getMessageType()) {
                case SYSTEM -> out.add(ChatMessage.system(text));
                case USER -> {
                    if (m instanceof UserMessage u && !u.getMedia().isEmpty()) {
                        throw new UnsupportedOperationException("message " + i + ": Transfuse chat models take text only, not the user message's "
                                + u.getMedia().size() + " media");
                    }
                    out.add(ChatMessage.user(text));
                }
                case ASSISTANT -> {
                    if (m instanceof AssistantMessage a && a.hasToolCalls()) {
                        throw new UnsupportedOperationException("message " + i + ": Transfuse chat models do not call tools (the assistant message has tool calls)");
                    }
                    out.add(ChatMessage.assistant(text));
                }
                case TOOL -> throw new UnsupportedOperationException("message " + i + ": Transfuse chat models do not call tools (a tool response message)");
            }
        }
        return out;
    }

    /**
     * {@code base} with the options' maxTokens, temperature, topP, topK, frequencyPenalty, presencePenalty and
     * stopSequences where they are set (the seed and timeout stay the base's). Options Transfuse does not implement
     * are refused rather than ignored.
     */
    static GenerateOptions options(ChatOptions o, GenerateOptions base) {
        if (o == null) return base;
        if (o instanceof ToolCallingChatOptions t && t.getToolCallbacks() != null && !t.getToolCallbacks().isEmpty()) {
            throw new UnsupportedOperationException("Transfuse chat models do not call tools (the options have " + t.getToolCallbacks().size() + " tool callbacks)");
        }
        GenerateOptions g = base;
        if (o.getMaxTokens() != null) {
            if (o.getMaxTokens() < 1) throw new IllegalArgumentException("maxTokens must be >= 1, got " + o.getMaxTokens());
            g = g.withMaxTokens(o.getMaxTokens());
        }
        SamplingOptions.Builder s = g.sampling().toBuilder();
        if (o.getTemperature() != null) s.temperature(o.getTemperature());
        if (o.getTopK() != null) s.topK(o.getTopK());
        if (o.getTopP() != null) s.topP(o.getTopP());
        if (o.getFrequencyPenalty() != null) s.frequencyPenalty(o.getFrequencyPenalty());
        if (o.getPresencePenalty() != null) s.presencePenalty(o.getPresencePenalty());
        g = g.withSampling(s.build());
        if (o.getStopSequences() != null && !o.getStopSequences().isEmpty()) g = g.withStop(o.getStopSequences());
        return g;
    }


    /** The defaults as Spring AI ChatOptions (what {@code getDefaultOptions()} reports and ChatClient merges over). */
    static ChatOptions chatOptions(GenerateOptions base, String modelName) {
        SamplingOptions s = base.sampling();
        return ChatOptions.builder().model(modelName).maxTokens(base.maxTokens()).temperature(s.temperature())
                .topP(s.topP()).topK(s.topK()).frequencyPenalty(s.frequencyPenalty()).presencePenalty(s.presencePenalty()).stopSequences(base.stop()).build();
    }
}
