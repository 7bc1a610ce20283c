package io.transfuse.server;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;

/**
 * A request's JSON object with typed reads of its fields: each read of a field of the wrong type or out of
 * range throws a 400 {@link ApiError} naming the field, so handlers never see a malformed value.
 */
final class RequestBody {
    static final ObjectMapper JSON = new ObjectMapper();

    private final ObjectNode root;

    private RequestBody(ObjectNode root) {
        this.root = root;
    }

    static RequestBody parse(byte[] bytes) {
        JsonNode node;
        try {
            node = JSON.readTree(bytes);
        } catch (JacksonException e) {
            throw ApiError.invalid(null, "the request body is not valid JSON: " + e.getOriginalMessage());
        } catch (java.io.IOException e) {
            throw ApiError.invalid(null, "the request body could not be read: " + e.getMessage());
        }
        if (node == null || node.isMissingNode()) throw ApiError.invalid(null, "the request body is empty; it must be a JSON object");
        if (!(node instanceof ObjectNode o)) throw ApiError.invalid(null, "the request body must be a JSON object, got " + node.getNodeType());
        return new RequestBody(o);
    }

    /** The field, or null when absent or JSON null. */
    JsonNode get(String name) {
        JsonNode n = root.get(name);
        return n == null || n.isNull() ? null : n;
    }

    JsonNode required(String name) {
        JsonNode n = get(name);
        if (n == null) throw ApiError.invalid(name, "'" + name + "' is required");
        return n;
    }

    String string(String name) {
        JsonNode n = get(name);
        if (n == null) return null;
        if (!n.isTextual()) throw ApiError.invalid(name, "'" + name + "' must be a string, got " + n.getNodeType());
        return n.textValue();
    }

    boolean bool(String name, boolean absent) {
        JsonNode n = get(name);
        if (n == null) return absent;
        if (!n.isBoolean()) throw ApiError.invalid(name, "'" + name + "' must be true or false, got " + n);
        return n.booleanValue();
    }

    /** An integer in [min, max], or {@code absent}. */
    long integer(String name, long absent, long min, long max) {
        JsonNode n = get(name);
        if (n == null) return absent;
        if (!n.isIntegralNumber() || !n.canConvertToLong()) throw ApiError.invalid(name, "'" + name + "' must be an integer, got " + n);
        long v = n.longValue();
        if (v < min || v > max) throw ApiError.invalid(name, "'" + name + "' must be in [" + min + ", " + max + "], got " + v);
        return v;
    }

    /** A finite number, or {@code absent}. */
    double number(String name, double absent) {
        JsonNode n = get(name);
        if (n == null) return absent;
        if (!n.isNumber() || !Double.isFinite(n.doubleValue())) throw ApiError.invalid(name, "'" + name + "' must be a number, got " + n);
        return n.doubleValue();
    }

    /** A string or an array of strings (OpenAI's {@code stop}, {@code input}); empty when absent. */
    List<String> strings(String name) {
        JsonNode n = get(name);
        List<String> out = new ArrayList<>();
        if (n == null) return out;
        if (n.isTextual()) {
            out.add(n.textValue());
            return out;
        }
        if (!n.isArray()) throw ApiError.invalid(name, "'" + name + "' must be a string or an array of strings, got " + n.getNodeType());
        for (int i = 0; i < n.size(); i++) {
            JsonNode e = n.get(i);
            if (!e.isTextual()) {
                throw ApiError.invalid(name, "'" + name + "[" + i + "]' must be a string, got " + e.getNodeType()
                        + (e.isNumber() ? " (token ids are not accepted; send text)" : ""));
            }
            out.add(e.textValue());
        }
        return out;
    }
}
