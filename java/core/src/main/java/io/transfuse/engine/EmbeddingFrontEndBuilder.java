package io.transfuse.engine;

import io.transfuse.EncoderOptions;
import io.transfuse.LoadOptions;

import java.nio.file.Path;

/**
 * The settings an embedding front end (the langchain4j and Spring AI adapters) is built from: an
 * {@link EmbeddingEngine} the caller owns, or a model path that the front end loads, batches for and closes.
 * The embedding counterpart of {@link ChatEngine}: one place for the choice, the ownership and the model name.
 *
 * @param <B> the front end's own builder, returned by every setter
 */
public abstract class EmbeddingFrontEndBuilder<B extends EmbeddingFrontEndBuilder<B>> {
    private EmbeddingEngine engine;
    private Path modelPath;
    private LoadOptions loadOptions = LoadOptions.defaults();
    private EncoderOptions encoderOptions = EncoderOptions.defaults();
    private int maxBatchTexts = 64;
    private boolean truncate = true;
    private String modelName;

    /** For subclasses. */
    protected EmbeddingFrontEndBuilder() {}

    /**
     * This builder as its own type.
     *
     * @return this
     */
    protected abstract B self();

    /**
     * Embeds with this engine; closing the front end leaves it (and its model) open.
     *
     * @param engine the engine
     * @return this builder
     */
    public B engine(EmbeddingEngine engine) { this.engine = engine; return self(); }

    /**
     * Loads this encoder (a Hugging Face directory: BERT family) and starts an embedding engine on it.
     *
     * @param path the model directory
     * @return this builder
     */
    public B modelPath(Path path) { this.modelPath = path; return self(); }

    /**
     * How {@link #modelPath} is loaded.
     *
     * @param options the load options
     * @return this builder
     */
    public B loadOptions(LoadOptions options) { this.loadOptions = options; return self(); }

    /**
     * Pooling, normalization and encoder batch size for {@link #modelPath}.
     *
     * @param options the encoder options
     * @return this builder
     */
    public B encoderOptions(EncoderOptions options) { this.encoderOptions = options; return self(); }

    /**
     * Texts one batch of the engine started for {@link #modelPath} takes at most (default 64).
     *
     * @param n texts per batch
     * @return this builder
     */
    public B maxBatchTexts(int n) { this.maxBatchTexts = n; return self(); }

    /**
     * Whether texts longer than the model takes are truncated (default) or refused.
     *
     * @param on true to truncate
     * @return this builder
     */
    public B truncate(boolean on) { this.truncate = on; return self(); }

    /**
     * The name the front end reports (default: the model directory's name, or "transfuse-encoder" for an engine).
     *
     * @param name the model name
     * @return this builder
     */
    public B modelName(String name) { this.modelName = name; return self(); }

    /**
     * The engine these settings name: the given one, or one started on {@link #modelPath} that the binding owns.
     *
     * @return the binding (close it to close what it owns)
     */
    public final Binding bind() {
        if ((engine == null) == (modelPath == null)) {
            throw new IllegalArgumentException("give exactly one of engine(EmbeddingEngine) and modelPath(Path) to the builder");
        }
        boolean owned = engine == null;
        EmbeddingEngine e = owned ? EmbeddingEngine.open(modelPath, loadOptions, encoderOptions, maxBatchTexts, truncate) : engine;
        String name = modelName != null ? modelName
                : modelPath != null ? modelPath.toAbsolutePath().normalize().getFileName().toString() : "transfuse-encoder";
        return new Binding(e, owned, name);
    }

    /**
     * An engine bound to a front end.
     *
     * @param engine    the engine to embed with
     * @param owned     whether the front end loaded it (and so closes it and its model)
     * @param modelName the name the front end reports
     */
    public record Binding(EmbeddingEngine engine, boolean owned, String modelName) implements AutoCloseable {
        /** Closes the engine and its model when owned; otherwise does nothing. */
        @Override
        public void close() {
            if (owned) engine.close(); // and the model it loaded
        }
    }
}
