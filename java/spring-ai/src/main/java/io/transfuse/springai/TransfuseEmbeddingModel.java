package io.transfuse.springai;

import io.transfuse.EncoderOptions;
import io.transfuse.LoadOptions;
import io.transfuse.engine.EmbeddingEngine;
import org.springframework.ai.chat.metadata.DefaultUsage;
import org.springframework.ai.document.Document;
import org.springframework.ai.embedding.Embedding;
import org.springframework.ai.embedding.EmbeddingModel;
import org.springframework.ai.embedding.EmbeddingOptions;
import org.springframework.ai.embedding.EmbeddingRequest;
import org.springframework.ai.embedding.EmbeddingResponse;
import org.springframework.ai.embedding.EmbeddingResponseMetadata;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionException;

/**
 * A Spring AI {@link EmbeddingModel} over a Transfuse {@link EmbeddingEngine}: concurrent callers are joined into
 * packed encoder batches. The response's usage counts the input tokens (after truncation to the model's limit).
 * Close it when it loaded its own model.
 */
public final class TransfuseEmbeddingModel implements EmbeddingModel, AutoCloseable {
    private final EmbeddingEngine engine;
    private final boolean owned;
    private final String modelName;

    private TransfuseEmbeddingModel(Builder b) {
        if ((b.engine == null) == (b.modelPath == null)) {
            throw new IllegalArgumentException("give exactly one of engine(EmbeddingEngine) and modelPath(Path) to the builder");
        }
        owned = b.engine == null;
        engine = owned ? EmbeddingEngine.open(b.modelPath, b.loadOptions, b.encoderOptions, b.maxBatchTexts, b.truncate) : b.engine;
        modelName = b.modelName != null ? b.modelName
                : b.modelPath != null ? b.modelPath.toAbsolutePath().normalize().getFileName().toString() : "transfuse-encoder";
    }

    public static Builder builder() { return new Builder(); }

    @Override
    public EmbeddingResponse call(EmbeddingRequest request) {
        EmbeddingOptions options = request.getOptions();
        io.transfuse.EmbeddingModel model = engine.model();
        if (options != null && options.getDimensions() != null && options.getDimensions() != model.dimension()) {
            throw new IllegalArgumentException("the model gives " + model.dimension() + "-dimensional embeddings, not the "
                    + options.getDimensions() + " the request asks for");
        }
        List<String> texts = request.getInstructions();
        float[][] vectors;
        try {
            vectors = engine.embed(texts).join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException re ? re : e;
        }
        List<Embedding> out = new ArrayList<>(vectors.length);
        int tokens = 0;
        for (int i = 0; i < vectors.length; i++) {
            out.add(new Embedding(vectors[i], i));
            tokens += Math.min(model.countTokens(texts.get(i)), model.maxTokens()); // what was embedded (truncated)
        }
        return new EmbeddingResponse(out, new EmbeddingResponseMetadata(modelName, new DefaultUsage(tokens, 0, tokens)));
    }

    @Override
    public float[] embed(Document document) {
        return embed(getEmbeddingContent(document));
    }

    @Override
    public int dimensions() {
        return engine.model().dimension();
    }

    /** Closes the engine and model when the builder loaded them ({@code modelPath}); otherwise does nothing. */
    @Override
    public void close() {
        if (owned) engine.close(); // and the model it loaded
    }

    /** An {@link EmbeddingEngine} the caller owns, or a model path that this model loads, batches for and closes. */
    public static final class Builder {
        private EmbeddingEngine engine;
        private Path modelPath;
        private LoadOptions loadOptions = LoadOptions.defaults();
        private EncoderOptions encoderOptions = EncoderOptions.defaults();
        private int maxBatchTexts = 64;
        private boolean truncate = true;
        private String modelName;

        private Builder() {}

        /** Embeds with this engine; closing the embedding model leaves it (and its model) open. */
        public Builder engine(EmbeddingEngine engine) { this.engine = engine; return this; }

        /** Loads this encoder (a Hugging Face directory: BERT family) and starts an embedding engine on it. */
        public Builder modelPath(Path path) { this.modelPath = path; return this; }

        public Builder loadOptions(LoadOptions options) { this.loadOptions = options; return this; }

        /** Pooling, normalization and encoder batch size for {@link #modelPath}. */
        public Builder encoderOptions(EncoderOptions options) { this.encoderOptions = options; return this; }

        /** Texts one batch of the engine started for {@link #modelPath} takes at most (default 64). */
        public Builder maxBatchTexts(int n) { this.maxBatchTexts = n; return this; }

        /** Whether texts longer than the model takes are truncated (default) or refused. */
        public Builder truncate(boolean on) { this.truncate = on; return this; }

        /** The model name responses report (default: the model directory's name, or "transfuse-encoder" for an engine). */
        public Builder modelName(String name) { this.modelName = name; return this; }

        public TransfuseEmbeddingModel build() { return new TransfuseEmbeddingModel(this); }
    }
}
