package io.transfuse.langchain4j;

import io.transfuse.engine.ChatEngine;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;
import io.transfuse.GenerateOptions;
import io.transfuse.GenerationResult;
import io.transfuse.engine.Generation;

/**
 * A langchain4j {@link ChatModel} answering with a Transfuse {@link io.transfuse.engine.Engine}: calls from many
 * threads run batched together. Maps system, user and AI messages, maxOutputTokens, temperature, topP, topK and
 * stopSequences; responses carry the finish reason and token usage. Close it when it loaded its own model.
 */
public final class TransfuseChatModel implements ChatModel, AutoCloseable {
    private final ChatEngine binding;
    private final GenerateOptions defaults;

    private TransfuseChatModel(Builder b) {
        this.defaults = b.defaults;
        this.binding = b.bind();
    }

    public static Builder builder() { return new Builder(); }

    @Override
    public ChatResponse doChat(ChatRequest request) {
        GenerateOptions options = ChatRequests.options(request, defaults);
        var messages = ChatRequests.messages(request.messages());
        try {
            Generation g = binding.submit(messages, options, text -> {});
            GenerationResult r = g.join();
            return ChatResponses.of(g.id(), binding.modelName(), r);
        } catch (RuntimeException e) {
            throw Failures.map(e);
        }
    }

    @Override
    public ChatRequestParameters defaultRequestParameters() {
        return ChatRequests.parameters(defaults, binding.modelName());
    }

    /** Closes the engine and model when the builder loaded them ({@code modelPath}); otherwise does nothing. */
    @Override
    public void close() {
        binding.close();
    }

    public static final class Builder extends ChatModelBuilder<Builder> {
        private Builder() {}

        public TransfuseChatModel build() { return new TransfuseChatModel(this); }
    }
}
