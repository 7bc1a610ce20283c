package io.transfuse.springai;

import io.transfuse.engine.EmbeddingEngine;
import io.transfuse.engine.EmbeddingFrontEndBuilder;
import org.springframework.ai.chat.metadata.DefaultUsage;
import org.springframework.ai.document.Document;
import org.springframework.ai.embedding.Embedding;
import org.springframework.ai.embedding.EmbeddingModel;
import org.springframework.ai.embedding.EmbeddingOptions;
import org.springframework.ai.embedding.EmbeddingRequest;
import org.springframework.ai.embedding.EmbeddingResponse;
import org.springframework.ai.embedding.EmbeddingResponseMetadata;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionException;

/**
 * A Spring AI {@link EmbeddingModel} over a Transfuse {@link EmbeddingEngine}: concurrent callers are joined into
 * packed encoder batches. The response's usage counts the input tokens (after truncation to the model's limit).
 * Close it when it loaded its own model.
 */
public final class TransfuseEmbeddingModel implements EmbeddingModel, AutoCloseable {
    private final EmbeddingFrontEndBuilder.Binding binding;
    private final EmbeddingEngine engine;
    private final String modelName;

    private TransfuseEmbeddingModel(Builder b) {
        binding = b.bind();
        engine = binding.engine();
        modelName = binding.modelName();
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
        binding.close();
    }

    /** An {@link EmbeddingEngine} the caller owns, or a model path that this model loads, batches for and closes. */
    public static final class Builder extends EmbeddingFrontEndBuilder<Builder> {
        private Builder() {}

        @Override
        protected Builder self() { return this; }

        public TransfuseEmbeddingModel build() { return new TransfuseEmbeddingModel(this); }
    }
}
