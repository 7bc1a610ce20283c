package io.transfuse.server;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.ChatMessage;

import java.util.ArrayList;
import java.util.List;

/**
 * Reads {@code messages} of a chat request: objects with a {@code role} and a {@code content} that is a string,
 * an array of content parts (only {@code {"type": "text", "text": ...}} parts: this server reads text), or null
 * (an assistant turn that only called tools, read as empty).
 */
final class ChatMessages {
    private ChatMessages() {}

    static List<ChatMessage> read(RequestBody body) {
        JsonNode n = body.required("messages");
        if (!n.isArray() || n.isEmpty()) throw ApiError.invalid("messages", "'messages' must be a non-empty array of messages");
        List<ChatMessage> out = new ArrayList<>(n.size());
        for (int i = 0; i < n.size(); i++) {
            String at = "messages[" + i + "]";
            JsonNode m = n.get(i);
            if (!m.isObject()) throw ApiError.invalid(at, "'" + at + "' must be an object with 'role' and 'content'");
            JsonNode role = m.get("role");
            if (role == null || !role.isTextual() || role.textValue().isBlank()) {
                throw ApiError.invalid(at + ".role", "'" + at + ".role' must be a non-empty string");
            }
            out.add(new ChatMessage(role.textValue(), content(m.get("content"), at + ".content")));
        }
        return out;
    }

    private static String content(JsonNode c, String at) {
        if (c == null || c.isNull()) return "";
        if (c.isTextual()) return c.textValue();
        if (!c.isArray()) throw ApiError.invalid(at, "'" + at + "' must be a string or an array of text parts, got " + c.getNodeType());
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < c.size(); i++) {
            JsonNode part = c.get(i);
            JsonNode type = part.get("type"), text = part.get("text");
            if (type == null || !"text".equals(type.asText()) || text == null || !text.isTextual()) {
                throw ApiError.invalid(at + "[" + i + "]", "'" + at + "[" + i + "]' must be {\"type\": \"text\", \"text\": ...}"
                        + " (this server reads text only)");
            }
            sb.append(text.textValue());
        }
        return sb.toString();
    }
}
