package io.transfuse.loader;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Reads small JSON files (configs, indexes) with errors that name the file and the key. */
public final class Json {
    /** Accepts NaN and Infinity as Python's json module writes them (Mamba-2's time_step_limit is [0.0, Infinity]). */
    private static final ObjectMapper MAPPER = JsonMapper.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();

    private Json() {}

    public static JsonNode read(Path path) {
        try {
            JsonNode node = MAPPER.readTree(Files.readString(path));
            if (node == null || !node.isObject()) throw new ModelFormatException(path + ": not a JSON object");
            return node;
        } catch (NoSuchFileException e) {
            throw new ModelFormatException(path + ": no such file", e);
        } catch (IOException e) {
            throw new ModelFormatException(path + ": invalid JSON (" + e.getMessage().lines().findFirst().orElse("") + ")", e);
        }
    }

    public static int requireInt(JsonNode node, String key, Path file) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) throw new ModelFormatException(file + ": '" + key + "' is missing");
        if (!v.canConvertToInt() || !v.isIntegralNumber()) throw new ModelFormatException(file + ": '" + key + "' must be an integer, got " + v);
        return (int) ConfigLimits.check(file, key, v.intValue()); // a size beyond any model's is an error here, before anything is sized from it
    }

    public static int optionalInt(JsonNode node, String key, int fallback, Path file) {
        JsonNode v = node.get(key);
        return v == null || v.isNull() ? fallback : requireInt(node, key, file);
    }

    public static double optionalNumber(JsonNode node, String key, double fallback, Path file) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) return fallback;
        if (!v.isNumber()) throw new ModelFormatException(file + ": '" + key + "' must be a number, got " + v);
        return v.doubleValue();
    }

    /** The integer {@code key}, or when it is absent its other name {@code alias} (mamba_ssm's d_model for hidden_size, say). */
    public static int requireInt(JsonNode node, String key, String alias, Path file) {
        if (!node.hasNonNull(key) && node.hasNonNull(alias)) return requireInt(node, alias, file);
        if (!node.hasNonNull(key)) throw new ModelFormatException(file + ": '" + key + "' is missing (nor is '" + alias + "' given)");
        return requireInt(node, key, file);
    }

    public static boolean optionalBoolean(JsonNode node, String key, boolean fallback, Path file) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) return fallback;
        if (!v.isBoolean()) throw new ModelFormatException(file + ": '" + key + "' must be true or false, got " + v);
        return v.booleanValue();
    }
}
