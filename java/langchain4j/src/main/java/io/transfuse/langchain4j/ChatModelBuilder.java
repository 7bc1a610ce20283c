package io.transfuse.langchain4j;

import io.transfuse.engine.ChatEngine;
import io.transfuse.GenerateOptions;
import io.transfuse.LoadOptions;
import io.transfuse.chat.ChatTemplate;
import io.transfuse.engine.Engine;
import io.transfuse.engine.EngineOptions;

import java.nio.file.Path;

/**
 * What both chat models are built from: an {@link Engine} the caller owns, or a model path (with load and engine
 * options) that the chat model loads and closes itself; a chat template when the model carries none; and the
 * generation defaults that request parameters override (Transfuse's: 256 tokens, greedy).
 */
public abstract class ChatModelBuilder<B extends ChatModelBuilder<B>> {
    Engine engine;
    Path modelPath;
    LoadOptions loadOptions;
    EngineOptions engineOptions;
    ChatTemplate chatTemplate;
    GenerateOptions defaults = GenerateOptions.defaults();
    String modelName;

    ChatModelBuilder() {}

    @SuppressWarnings("unchecked")
    private B self() { return (B) this; }

    /** Submits to this engine; closing the chat model leaves it (and its model) open. */
    public B engine(Engine engine) { this.engine = engine; return self(); }

    /** Loads this model (GGUF file or Hugging Face directory) and starts an engine on it; both close with the chat model. */
    public B modelPath(Path path) { this.modelPath = path; return self(); }

    /** How {@link #modelPath} is loaded (device, threads, context, max sequences). */
    public B loadOptions(LoadOptions options) { this.loadOptions = options; return self(); }

    /** How the engine started for {@link #modelPath} schedules. */
    public B engineOptions(EngineOptions options) { this.engineOptions = options; return self(); }

    /** Renders conversations with this template instead of the model's own (required when the model has none). */
    public B chatTemplate(ChatTemplate template) { this.chatTemplate = template; return self(); }

    /** Max tokens, sampling (with its seed), stop strings and timeout used where a request does not say. */
    public B defaultOptions(GenerateOptions options) {
        if (options == null) throw new IllegalArgumentException("default options must not be null (GenerateOptions.defaults())");
        this.defaults = options;
        return self();
    }

    /** The name responses report (default: the model's file name). */
    public B modelName(String name) { this.modelName = name; return self(); }

    ChatEngine bind() {
        return ChatEngine.of(engine, modelPath, loadOptions, engineOptions, chatTemplate, modelName);
    }
}
