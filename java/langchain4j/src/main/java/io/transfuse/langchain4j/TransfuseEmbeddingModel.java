package io.transfuse.langchain4j;

import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.EmbeddingModel;
import dev.langchain4j.model.output.Response;
import dev.langchain4j.model.output.TokenUsage;
import io.transfuse.engine.EmbeddingEngine;
import io.transfuse.engine.EmbeddingFrontEndBuilder;

import java.util.ArrayList;
import java.util.List;

/**
 * A langchain4j {@link EmbeddingModel} over a Transfuse {@link EmbeddingEngine}: concurrent {@code embedAll}
 * callers are joined into packed encoder batches. The response's token usage counts the input tokens
 * (after truncation to the model's limit). Close it when it loaded its own model.
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
