package io.transfuse.engine;

import io.transfuse.ChatMessage;
import io.transfuse.GenerateOptions;
import io.transfuse.LanguageModel;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.TransfuseException;
import io.transfuse.chat.ChatTemplate;

import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

/**
 * What a chat front end (the langchain4j and Spring AI adapters) holds: the engine it submits to, the chat
 * template conversations are rendered with, the name the model is served under, and whether it owns the
 * engine and its model (it loaded them) and so closes them.
 */
public final class ChatEngine implements AutoCloseable {
    private final Engine engine;
    private final ChatTemplate template;
    private final String modelName;
    private final boolean owned;

    private ChatEngine(Engine engine, ChatTemplate template, String modelName, boolean owned) {
        this.engine = engine;
        this.template = template;
        this.modelName = modelName;
        this.owned = owned;
    }

    /**
     * Binds to {@code engine} when given (the caller keeps it), else loads {@code modelPath} and starts an engine
     * on it that this binding owns. The template is {@code template} when given, else the model's own.
     */
    public static ChatEngine of(Engine engine, Path modelPath, LoadOptions load, EngineOptions options, ChatTemplate template, String modelName) {
        if ((engine == null) == (modelPath == null)) {
            throw new IllegalArgumentException("give exactly one of engine(Engine) and modelPath(Path) to the builder");
        }
        boolean owned = engine == null;
        if (owned) {
            LanguageModel model = Transfuse.load(modelPath, load == null ? LoadOptions.defaults() : load);
            try {
                engine = Engine.start(model, options == null ? EngineOptions.defaults() : options);
            } catch (RuntimeException e) {
                model.close();
                throw e;
            }
        }
        LanguageModel model = engine.model();
        ChatTemplate t = template != null ? template : model.chatTemplate().orElse(null);
        if (t == null) {
            if (owned) closeOwned(engine);
            throw new TransfuseException(model.source() + ": the model has no chat template (no tokenizer.chat_template in a GGUF file, "
                    + "no chat_template in tokenizer_config.json); give one to the builder with chatTemplate(ChatTemplate)");
        }
        String name = modelName != null ? modelName : Path.of(model.source()).getFileName().toString();
        return new ChatEngine(engine, t, name, owned);
    }

    public Engine engine() { return engine; }

    public ChatTemplate template() { return template; }

    /** The file or directory name unless the front end named the model. */
    public String modelName() { return modelName; }

    /** Renders {@code messages} with the template and queues the reply's generation. */
    public Generation submit(List<ChatMessage> messages, GenerateOptions options, Consumer<String> onText) {
        java.util.Objects.requireNonNull(messages, "messages");
        int[] prompt = engine.model().chatPrompt(template, messages);
        return engine.submit(prompt, options, onText);
    }

    @Override
    public void close() {
        if (owned) closeOwned(engine);
    }

    private static void closeOwned(Engine engine) {
        try {
            engine.close();
        } finally {
            engine.model().close();
        }
    }
}
