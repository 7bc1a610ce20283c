package io.transfuse.springai;

import io.transfuse.engine.ChatEngine;
import io.transfuse.ChatMessage;
import io.transfuse.GenerateOptions;
import io.transfuse.GenerationResult;
import io.transfuse.LoadOptions;
import io.transfuse.chat.ChatTemplate;
import io.transfuse.engine.Engine;
import io.transfuse.engine.EngineOptions;
import io.transfuse.engine.Generation;
import org.springframework.ai.chat.model.ChatModel;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.ai.chat.prompt.ChatOptions;
import org.springframework.ai.chat.prompt.Prompt;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;
import reactor.core.scheduler.Schedulers;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletionException;

/**
 * A Spring AI {@link ChatModel} answering with a Transfuse {@link Engine}: calls and streams from many threads
 * run batched together. Maps system, user and assistant messages and the prompt's ChatOptions (maxTokens,
 * temperature, topP, topK, stopSequences); responses carry the finish reason, id, model and token usage.
 * {@link #stream} emits one ChatResponse per piece of text, then a closing one with empty text, the finish reason
 * and usage; subscribers run on Reactor's bounded-elastic threads, never the engine's, and cancelling the
 * subscription cancels the generation. Close it when it loaded its own model.
 */
public final class TransfuseChatModel implements ChatModel, AutoCloseable {
    private final ChatEngine binding;
    private final GenerateOptions defaults;

    private TransfuseChatModel(Builder b) {
        this.defaults = b.defaults;
        this.binding = ChatEngine.of(b.engine, b.modelPath, b.loadOptions, b.engineOptions, b.chatTemplate, b.modelName);
    }

    public static Builder builder() { return new Builder(); }

    @Override
    public ChatResponse call(Prompt prompt) {
        GenerateOptions options = PromptMapping.options(prompt.getOptions(), defaults);
        List<ChatMessage> messages = PromptMapping.messages(prompt.getInstructions());
        Generation g = binding.submit(messages, options, text -> {});
        GenerationResult r;
        try {
            r = g.join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException re ? re : e;
        }
        return ResponseMapping.finished(g.id(), binding.modelName(), r.text(), r);
    }

    @Override
    public Flux<ChatResponse> stream(Prompt prompt) {
        GenerateOptions options = PromptMapping.options(prompt.getOptions(), defaults);
        List<ChatMessage> messages = PromptMapping.messages(prompt.getInstructions());
        return Flux.<ChatResponse>create(sink -> {
            Generation g;
            try {
                // Text arrives on the engine's thread: it is only queued in the sink there.
                g = binding.submit(messages, options, text -> sink.next(ResponseMapping.piece(binding.modelName(), text)));
            } catch (RuntimeException e) {
                sink.error(e);
                return;
            }
            sink.onDispose(() -> {
                if (!g.result().isDone()) g.cancel();
            });
            g.result().whenComplete((r, e) -> {
                if (e == null) {
                    sink.next(ResponseMapping.finished(g.id(), binding.modelName(), "", r));
                    sink.complete();
                } else {
                    sink.error(e instanceof CompletionException && e.getCause() != null ? e.getCause() : e);
                }
            });
        }, FluxSink.OverflowStrategy.BUFFER).publishOn(Schedulers.boundedElastic());
    }

    @Override
    public ChatOptions getDefaultOptions() {
        return PromptMapping.chatOptions(defaults, binding.modelName());
    }

    /** Closes the engine and model when the builder loaded them ({@code modelPath}); otherwise does nothing. */
    @Override
    public void close() {
        binding.close();
    }

    /**
     * An {@link Engine} the caller owns, or a model path (with load and engine options) that the chat model loads and
     * closes; a chat template when the model carries none; the generation defaults that ChatOptions override
     * (Transfuse's: 256 tokens, greedy).
     */
    public static final class Builder {
        private Engine engine;
        private Path modelPath;
        private LoadOptions loadOptions;
        private EngineOptions engineOptions;
        private ChatTemplate chatTemplate;
        private GenerateOptions defaults = GenerateOptions.defaults();
        private String modelName;

        private Builder() {}

        /** Submits to this engine; closing the chat model leaves it (and its model) open. */
        public Builder engine(Engine engine) { this.engine = engine; return this; }

        /** Loads this model (GGUF file or Hugging Face directory) and starts an engine on it; both close with the chat model. */
        public Builder modelPath(Path path) { this.modelPath = path; return this; }

        /** How {@link #modelPath} is loaded (device, threads, context, max sequences). */
        public Builder loadOptions(LoadOptions options) { this.loadOptions = options; return this; }

        /** How the engine started for {@link #modelPath} schedules. */
        public Builder engineOptions(EngineOptions options) { this.engineOptions = options; return this; }

        /** Renders conversations with this template instead of the model's own (required when the model has none). */
        public Builder chatTemplate(ChatTemplate template) { this.chatTemplate = template; return this; }

        /** Max tokens, sampling (with its seed), stop strings and timeout used where the prompt's options do not say. */
        public Builder defaultOptions(GenerateOptions options) {
            if (options == null) throw new IllegalArgumentException("default options must not be null (GenerateOptions.defaults())");
            this.defaults = options;
            return this;
        }

        /** The model name responses report (default: the model's file name). */
        public Builder modelName(String name) { this.modelName = name; return this; }

        public TransfuseChatModel build() { return new TransfuseChatModel(this); }
    }
}
