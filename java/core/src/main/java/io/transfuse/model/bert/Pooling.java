package io.transfuse.model.bert;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.loader.Json;
import io.transfuse.loader.ModelFormatException;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * How token states become one sentence embedding: {@code mode} MEAN (average of the sequence's real
 * tokens) or CLS (the first token's state), then optional L2 normalisation.
 */
public record Pooling(Mode mode, boolean normalize) {
    public enum Mode { MEAN, CLS }

    /** Mean pooling, normalised: what most sentence-transformers models (MiniLM, E5) use. */
    public static final Pooling DEFAULT = new Pooling(Mode.MEAN, true);

    public Pooling {
        if (mode == null) throw new IllegalArgumentException("pooling mode must not be null");
    }

    public Pooling withMode(Mode m) { return new Pooling(m, normalize); }

    /** The pooling to use: the caller's choices where {@code options} make them, else this (the model's own). */
    public Pooling resolve(io.transfuse.EncoderOptions options) {
        return new Pooling(options.pooling() != null ? Mode.valueOf(options.pooling().name()) : mode,
                options.normalize() != null ? options.normalize() : normalize);
    }

    /** The API's name for the mode. */
    public io.transfuse.PoolingMode apiMode() {
        return io.transfuse.PoolingMode.valueOf(mode.name());
    }

    /**
     * Reads sentence-transformers' {@code modules.json} in {@code dir}: the Pooling module's
     * {@code config.json} gives the mode (pooling_mode_mean_tokens or pooling_mode_cls_token; other
     * modes are errors), a Normalize module turns normalisation on. Without modules.json:
     * {@link #DEFAULT}.
     */
    public static Pooling read(Path dir) {
        Path modulesFile = dir.resolve("modules.json");
        if (!Files.isRegularFile(modulesFile)) return DEFAULT;
        JsonNode modules;
        try {
            modules = new com.fasterxml.jackson.databind.ObjectMapper().readTree(Files.readString(modulesFile));
        } catch (java.io.IOException e) {
            throw new ModelFormatException(modulesFile + ": invalid JSON (" + e.getMessage().lines().findFirst().orElse("") + ")", e);
        }
        if (modules == null || !modules.isArray()) throw new ModelFormatException(modulesFile + ": expected a JSON array of modules");
        Mode mode = null;
        boolean normalize = false;
        for (JsonNode m : modules) {
            String type = m.path("type").asText();
            if (type.endsWith(".Normalize")) normalize = true;
            if (type.endsWith(".Pooling")) {
                Path config = dir.resolve(m.path("path").asText()).resolve("config.json");
                JsonNode c = Json.read(config);
                boolean cls = c.path("pooling_mode_cls_token").asBoolean(false);
                boolean mean = c.path("pooling_mode_mean_tokens").asBoolean(false);
                for (String other : new String[] {"pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
                        "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"}) {
                    if (c.path(other).asBoolean(false)) throw new ModelFormatException(config + ": '" + other + "' is not supported (mean or cls)");
                }
                if (cls == mean) throw new ModelFormatException(config + ": expected exactly one of pooling_mode_mean_tokens and pooling_mode_cls_token");
                mode = cls ? Mode.CLS : Mode.MEAN;
            }
        }
        if (mode == null) throw new ModelFormatException(modulesFile + ": no sentence_transformers Pooling module");
        return new Pooling(mode, normalize);
    }

    /**
     * Writes modules.json and 1_Pooling/config.json describing this pooling (for converted models), and, when
     * normalising, the 2_Normalize folder modules.json names: empty, as sentence-transformers' own save leaves it
     * (Normalize has no parameters), but present, since loaders resolve every module's path.
     */
    public void write(Path dir, int dimension) throws java.io.IOException {
        StringBuilder modules = new StringBuilder("[\n  {\"idx\": 0, \"name\": \"0\", \"path\": \"\", \"type\": \"sentence_transformers.models.Transformer\"},\n"
                + "  {\"idx\": 1, \"name\": \"1\", \"path\": \"1_Pooling\", \"type\": \"sentence_transformers.models.Pooling\"}");
        if (normalize) modules.append(",\n  {\"idx\": 2, \"name\": \"2\", \"path\": \"2_Normalize\", \"type\": \"sentence_transformers.models.Normalize\"}");
        modules.append("\n]\n");
        Files.writeString(dir.resolve("modules.json"), modules);
        if (normalize) Files.createDirectories(dir.resolve("2_Normalize"));
        Files.createDirectories(dir.resolve("1_Pooling"));
        Files.writeString(dir.resolve("1_Pooling").resolve("config.json"), """
                {
                  "word_embedding_dimension": %d,
                  "pooling_mode_cls_token": %s,
                  "pooling_mode_mean_tokens": %s,
                  "pooling_mode_max_tokens": false,
                  "pooling_mode_mean_sqrt_len_tokens": false
                }
                """.formatted(dimension, mode == Mode.CLS, mode == Mode.MEAN));
    }
}
