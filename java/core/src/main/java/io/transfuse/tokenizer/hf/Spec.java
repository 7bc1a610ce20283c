package io.transfuse.tokenizer.hf;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.loader.ModelFormatException;

/** A node of tokenizer.json together with the file it came from, so every error names both. */
record Spec(JsonNode node, String file, String where) {

    Spec child(String key) {
        return new Spec(node.get(key), file, where + "." + key);
    }

    Spec at(int index) {
        return new Spec(node.get(index), file, where + "[" + index + "]");
    }

    boolean isNull() {
        return node == null || node.isNull();
    }

    String type() {
        JsonNode t = node.get("type");
        if (t == null || !t.isTextual()) throw error("has no 'type'");
        return t.asText();
    }

    String string(String key, String fallback) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) return fallback;
        if (!v.isTextual()) throw error("'" + key + "' must be a string, got " + v);
        return v.asText();
    }

    String requireString(String key) {
        String s = string(key, null);
        if (s == null) throw error("'" + key + "' is missing");
        return s;
    }

    boolean bool(String key, boolean fallback) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) return fallback;
        if (!v.isBoolean()) throw error("'" + key + "' must be a boolean, got " + v);
        return v.booleanValue();
    }

    int integer(String key, int fallback) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) return fallback;
        if (!v.canConvertToInt() || !v.isIntegralNumber()) throw error("'" + key + "' must be an integer, got " + v);
        return v.intValue();
    }

    /** A list of child components ({@code normalizers}, {@code pretokenizers}, ...). */
    Spec list(String key) {
        Spec s = child(key);
        if (s.isNull() || !s.node.isArray()) throw error("'" + key + "' must be a list");
        return s;
    }

    int size() {
        return node.size();
    }

    ModelFormatException error(String message) {
        return new ModelFormatException(file + ": " + where + " " + message);
    }

    ModelFormatException unsupported(String kind) {
        return new ModelFormatException(file + ": " + kind + " type '" + type() + "' at " + where + " is not supported");
    }
}
