package io.transfuse.loader;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.chat.ChatTemplate;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where a model keeps its chat template:
 * <ul>
 * <li>GGUF: {@code tokenizer.chat_template}; {@code bos_token} / {@code eos_token} are the texts of
 *     {@code tokenizer.ggml.tokens} at {@code tokenizer.ggml.bos_token_id} / {@code eos_token_id}.
 * <li>Hugging Face directory: {@code chat_template.jinja}, else {@code chat_template.json}
 *     ({@code {"chat_template": ...}}), else {@code tokenizer_config.json}'s {@code chat_template}
 *     (a string, or a list of {@code {name, template}} of which "default" is taken);
 *     {@code bos_token} / {@code eos_token} from tokenizer_config.json (a string or {@code {content}}).
 * </ul>
 */
public final class ChatTemplates {
    private ChatTemplates() {}

    /** The model's chat template, or null when its files carry none. */
    public static ChatTemplate find(ModelSource source) {
        return switch (source.format()) {
            case GGUF -> fromGguf(source.gguf());
            case HF_DIRECTORY -> fromDirectory(source.path());
            case ONNX -> fromDirectory(source.directory());
        };
    }

    public static ChatTemplate fromGguf(GgufFile gguf) {
        String template = gguf.optional("tokenizer.chat_template", String.class, null);
        if (template == null || template.isBlank()) return null;
        String[] tokens = gguf.optional("tokenizer.ggml.tokens", String[].class, new String[0]);
        return new ChatTemplate(template, gguf.path() + ": tokenizer.chat_template",
                tokenText(gguf, tokens, "tokenizer.ggml.bos_token_id"), tokenText(gguf, tokens, "tokenizer.ggml.eos_token_id"));
    }

    private static String tokenText(GgufFile gguf, String[] tokens, String key) {
        Long id = gguf.optional(key, Long.class, null);
        return id == null || id < 0 || id >= tokens.length ? "" : tokens[(int) (long) id];
    }

    public static ChatTemplate fromDirectory(Path dir) {
        Path configFile = dir.resolve("tokenizer_config.json");
        JsonNode config = Files.isRegularFile(configFile) ? Json.read(configFile) : null;
        String bos = config == null ? "" : tokenText(config.get("bos_token"));
        String eos = config == null ? "" : tokenText(config.get("eos_token"));
        Path jinja = dir.resolve("chat_template.jinja");
        if (Files.isRegularFile(jinja)) {
            try {
                return new ChatTemplate(Files.readString(jinja, StandardCharsets.UTF_8), jinja.toString(), bos, eos);
            } catch (IOException e) {
                throw new ModelFormatException(jinja + ": cannot be read (" + e.getMessage() + ")", e);
            }
        }
        Path json = dir.resolve("chat_template.json");
        if (Files.isRegularFile(json)) {
            String t = templateText(Json.read(json).get("chat_template"), json);
            if (t != null) return new ChatTemplate(t, json + ": chat_template", bos, eos);
        }
        if (config == null) return null;
        String t = templateText(config.get("chat_template"), configFile);
        return t == null ? null : new ChatTemplate(t, configFile + ": chat_template", bos, eos);
    }

    private static String templateText(JsonNode node, Path file) {
        if (node == null || node.isNull()) return null;
        if (node.isTextual()) return node.asText().isBlank() ? null : node.asText();
        if (node.isArray()) {
            JsonNode first = null;
            for (JsonNode named : node) {
                if (first == null) first = named.get("template");
                if ("default".equals(named.path("name").asText())) return named.path("template").asText(null);
            }
            return first == null ? null : first.asText(null);
        }
        throw new ModelFormatException(file + ": chat_template is neither a string nor a list of {name, template}");
    }

    private static String tokenText(JsonNode node) {
        if (node == null || node.isNull()) return "";
        if (node.isTextual()) return node.asText();
        return node.path("content").asText("");
    }
}
