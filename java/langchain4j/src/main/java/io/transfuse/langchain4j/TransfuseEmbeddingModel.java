package io.transfuse.langchain4j;

import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.EmbeddingModel;
import dev.langchain4j.model.output.Response;
import dev.langchain4j.model.output.TokenUsage;
import io.transfuse.EncoderOptions;
import io.transfuse.LoadOptions;
import io.transfuse.engine.EmbeddingEngine;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A langchain4j {@link EmbeddingModel} over a Transfuse {@link EmbeddingEngine}: concurrent {@code embedAll}
 * callers are joined into packed encoder batches. The response's token usage counts the input tokens
 * (after truncation to the model's limit). Close it when it loaded its own model.
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
    public Response<List<Embedding>> embedAll(List<TextSegment> segments) {
        List<String> texts = new ArrayList<>(segments.size());
        for (int i = 0; i < segments.size(); i++) {
            TextSegment s = segments.get(i);
            if (s == null) throw new IllegalArgumentException("text segment " + i + " is null");
            texts.add(s.text());
        }
        float[][] vectors;
        try {
            vectors = engine.embed(texts).join();
        } catch (RuntimeException e) {
            throw Failures.map(e);
        }
        io.transfuse.EmbeddingModel model = engine.model();
        List<Embedding> out = new ArrayList<>(vectors.length);
        int tokens = 0;
        for (int i = 0; i < vectors.length; i++) {
            out.add(Embedding.from(vectors[i]));
            tokens += Math.min(model.countTokens(texts.get(i)), model.maxTokens()); // what was embedded (truncated)
        }
        return Response.from(out, new TokenUsage(tokens));
    }

    @Override
    public int dimension() {
        return engine.model().dimension();
    }

    @Override
    public String modelName() {
        return modelName;
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

        /** The name {@link #modelName()} reports (default: the model directory's name, or "transfuse-encoder" for an engine). */
        public Builder modelName(String name) { this.modelName = name; return this; }

        public TransfuseEmbeddingModel build() { return new TransfuseEmbeddingModel(this); }
    }
}
