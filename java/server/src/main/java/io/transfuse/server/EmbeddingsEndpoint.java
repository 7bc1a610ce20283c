package io.transfuse.server;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.transfuse.TransfuseException;
import io.transfuse.engine.EmbeddingEngine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;

/**
 * POST /v1/embeddings: {@code input} (a string or an array of strings) through the {@link EmbeddingEngine}, which
 * joins concurrent requests into one batch. {@code encoding_format} "float" (default) or "base64" (the floats as
 * little-endian float32 bytes, as OpenAI sends them).
 */
final class EmbeddingsEndpoint {
    private final EmbeddingEngine engine;
    private final String modelId;

    EmbeddingsEndpoint(EmbeddingEngine engine, String modelId) {
        this.engine = engine;
        this.modelId = modelId;
    }

    ObjectNode run(RequestBody body) {
        if (body.get("input") == null) throw ApiError.invalid("input", "'input' is required");
        List<String> input = body.strings("input");
        if (input.isEmpty()) throw ApiError.invalid("input", "'input' must not be an empty array");
        String format = body.string("encoding_format");
        if (format == null) format = "float";
        if (!format.equals("float") && !format.equals("base64")) {
            throw ApiError.invalid("encoding_format", "'encoding_format' must be \"float\" or \"base64\", got \"" + format + "\"");
        }
        int dim = engine.model().dimension();
        long dimensions = body.integer("dimensions", dim, 1, Integer.MAX_VALUE);
        if (dimensions != dim) throw ApiError.invalid("dimensions", "this model's embeddings have " + dim + " dimensions, not " + dimensions);
        int tokens = 0;
        for (String s : input) tokens += engine.model().countTokens(s);
        float[][] vectors;
        try {
            vectors = engine.embed(input).get();
        } catch (TransfuseException | IllegalArgumentException e) { // too long, null
            throw ApiError.invalid("input", e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw ApiError.internal("the server is stopping");
        } catch (ExecutionException | CancellationException e) {
            throw ApiError.internal("embedding failed: " + (e.getCause() == null ? e : e.getCause()));
        }
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("object", "list");
        ArrayNode data = o.putArray("data");
        for (int i = 0; i < vectors.length; i++) {
            ObjectNode d = data.addObject();
            d.put("object", "embedding");
            d.put("index", i);
            if (format.equals("float")) {
                ArrayNode v = d.putArray("embedding");
                for (float x : vectors[i]) v.add(x);
            } else {
                ByteBuffer b = ByteBuffer.allocate(vectors[i].length * 4).order(ByteOrder.LITTLE_ENDIAN);
                for (float x : vectors[i]) b.putFloat(x);
                d.put("embedding", Base64.getEncoder().encodeToString(b.array()));
            }
        }
        o.put("model", modelId);
        ObjectNode usage = o.putObject("usage");
        usage.put("prompt_tokens", tokens);
        usage.put("total_tokens", tokens);
        return o;
    }
}
