package io.transfuse.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.transfuse.chat.ChatTemplate;
import io.transfuse.loader.ChatTemplates;
import io.transfuse.loader.GgufFile;
import io.transfuse.loader.Json;
import io.transfuse.loader.ModelSource;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * What {@code transfuse info} reports about a model, read from metadata only: the GGUF header
 * (key-value pairs and tensor descriptors; the mapped tensor data is never touched) or a Hugging
 * Face directory's config.json, safetensors headers, tokenizer files. No graph is built and no
 * weight is read, so it takes milliseconds on files of any size.
 */
final class ModelInfo {
    private ModelInfo() {}

    /** The report as an ordered JSON object (the text form prints the same fields). */
    static ObjectNode of(Path path) {
        ObjectMapper json = new ObjectMapper();
        ObjectNode info = json.createObjectNode();
        try (TrackedArena arena = new TrackedArena("info")) {
            ModelSource source = ModelSource.open(path, arena);
            info.put("path", source.path().toString());
            info.put("format", switch (source.format()) {
                case GGUF -> "GGUF";
                case HF_DIRECTORY -> "Hugging Face directory";
                case ONNX -> "ONNX";
            });
            info.put("file_bytes", size(source.path()));
            info.put("architecture", source.architecture());
            switch (source.format()) {
                case GGUF -> gguf(info, source.gguf());
                case HF_DIRECTORY -> huggingFace(info, source);
                case ONNX -> { }
            }
            if (source.format() != ModelSource.Format.ONNX) {
                Map<String, Tensor> tensors = source.format() == ModelSource.Format.GGUF ? source.gguf().tensors() : source.safetensors().tensors();
                tensors(info, tensors);
            }
            ChatTemplate template = ChatTemplates.find(source);
            ObjectNode chat = info.putObject("chat_template");
            chat.put("present", template != null);
            if (template != null) {
                chat.put("from", template.origin());
                chat.put("characters", template.source().length());
            }
        }
        return info;
    }

    private static void gguf(ObjectNode info, GgufFile gguf) {
        Map<String, Object> m = gguf.metadata();
        String arch = gguf.optional("general.architecture", String.class, "");
        putIfPresent(info, "name", m.get("general.name"));
        putIfPresent(info, "context_length", m.get(arch + ".context_length"));
        putIfPresent(info, "layers", m.get(arch + ".block_count"));
        putIfPresent(info, "embedding_length", m.get(arch + ".embedding_length"));
        putIfPresent(info, "attention_heads", m.get(arch + ".attention.head_count"));
        putIfPresent(info, "kv_heads", m.get(arch + ".attention.head_count_kv"));
        putIfPresent(info, "sliding_window", m.get(arch + ".attention.sliding_window"));
        ObjectNode rope = info.putObject("rope");
        // llama.cpp's default base when the key is absent.
        rope.put("theta", m.get(arch + ".rope.freq_base") instanceof Number n ? n.doubleValue() : 10000.0);
        putIfPresent(rope, "dimensions", m.get(arch + ".rope.dimension_count"));
        Object type = m.getOrDefault(arch + ".rope.scaling.type", "none");
        rope.put("scaling", String.valueOf(type));
        putIfPresent(rope, "scaling_factor", m.get(arch + ".rope.scaling.factor"));
        putIfPresent(rope, "original_context_length", m.get(arch + ".rope.scaling.original_context_length"));
        if (m.get(arch + ".rope.freq_base_swa") != null) rope.put("theta_local", ((Number) m.get(arch + ".rope.freq_base_swa")).doubleValue());
        ObjectNode tok = info.putObject("tokenizer");
        if (m.get("tokenizer.ggml.model") instanceof String model) {
            String kind = switch (model) {
                case "llama" -> "SentencePiece BPE (llama)";
                case "gpt2" -> "byte-level BPE (gpt2)";
                default -> model;
            };
            tok.put("kind", kind);
            putIfPresent(tok, "pre", m.get("tokenizer.ggml.pre"));
            if (m.get("tokenizer.ggml.tokens") instanceof String[] tokens) tok.put("tokens", tokens.length);
            putIfPresent(tok, "bos_id", m.get("tokenizer.ggml.bos_token_id"));
            putIfPresent(tok, "eos_id", m.get("tokenizer.ggml.eos_token_id"));
            putIfPresent(tok, "eot_id", m.get("tokenizer.ggml.eot_token_id"));
        } else {
            tok.put("kind", "none");
        }
    }

    private static void huggingFace(ObjectNode info, ModelSource source) {
        JsonNode c = source.config();
        copy(c, info, "context_length", "max_position_embeddings", "n_positions", "n_ctx");
        copy(c, info, "layers", "num_hidden_layers", "n_layer");
        copy(c, info, "embedding_length", "hidden_size", "n_embd", "d_model");
        copy(c, info, "attention_heads", "num_attention_heads", "n_head");
        copy(c, info, "kv_heads", "num_key_value_heads");
        copy(c, info, "sliding_window", "sliding_window");
        ObjectNode rope = info.putObject("rope");
        if (c.has("rope_theta")) rope.put("theta", c.get("rope_theta").asDouble());
        JsonNode scaling = c.get("rope_scaling");
        if (scaling != null && scaling.isObject()) {
            rope.put("scaling", scaling.path("rope_type").asText(scaling.path("type").asText("unknown")));
            if (scaling.has("factor")) rope.put("scaling_factor", scaling.get("factor").asDouble());
            if (scaling.has("original_max_position_embeddings")) rope.put("original_context_length", scaling.get("original_max_position_embeddings").asInt());
        } else if (c.has("rope_theta")) {
            rope.put("scaling", "none");
        }
        if (rope.isEmpty()) info.remove("rope");
        ObjectNode tok = info.putObject("tokenizer");
        Path file = source.path().resolve("tokenizer.json");
        if (Files.isRegularFile(file)) {
            JsonNode t = Json.read(file);
            String model = t.path("model").path("type").asText("?");
            String pre = t.path("pre_tokenizer").path("type").asText("");
            boolean byteLevel = t.toString().contains("\"ByteLevel\"");
            tok.put("kind", (byteLevel ? "byte-level " : "") + model + " (tokenizer.json)");
            if (!pre.isEmpty()) tok.put("pre", pre);
            tok.put("tokens", t.path("model").path("vocab").size() + t.path("added_tokens").size());
        } else {
            tok.put("kind", "none");
        }
    }

    private static void tensors(ObjectNode info, Map<String, Tensor> tensors) {
        long params = 0;
        Map<String, long[]> byType = new TreeMap<>(); // type -> {count, bytes}
        for (Tensor t : tensors.values()) {
            params += t.elementCount();
            long[] agg = byType.computeIfAbsent(t.dtype().name(), k -> new long[2]);
            agg[0]++;
            agg[1] += t.dtype().bytesFor(t.elementCount());
        }
        info.put("parameters", params);
        info.put("tensors", tensors.size());
        ObjectNode types = info.putObject("tensor_types");
        byType.forEach((type, agg) -> types.putObject(type).put("count", agg[0]).put("bytes", agg[1]));
    }

    private static void copy(JsonNode from, ObjectNode to, String name, String... keys) {
        for (String k : keys) {
            JsonNode v = from.get(k);
            if (v != null && !v.isNull()) {
                to.set(name, v);
                return;
            }
        }
    }

    private static void putIfPresent(ObjectNode node, String name, Object value) {
        switch (value) {
            case null -> { }
            case Long l -> node.put(name, l);
            case Integer i -> node.put(name, i);
            case Double d -> node.put(name, d);
            case Boolean b -> node.put(name, b);
            default -> node.put(name, value.toString());
        }
    }

    private static long size(Path path) {
        if (Files.isRegularFile(path)) {
            try {
                return Files.size(path);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        try (Stream<Path> files = Files.walk(path)) {
            return files.filter(Files::isRegularFile).mapToLong(p -> {
                try {
                    return Files.size(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).sum();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
