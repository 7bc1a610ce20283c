package io.transfuse.model.vit;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.loader.Json;
import io.transfuse.loader.ModelFormatException;

import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;

/**
 * Hyper-parameters of a Vision Transformer classifier (Dosovitskiy et al. 2021) in Hugging Face's
 * {@code ViTForImageClassification} layout, or DeiT's (Touvron et al. 2021), which adds a
 * distillation token and, "with teacher", a second head whose logits are averaged with the first.
 *
 * @param prefix           tensor-name prefix of the encoder ("vit" or "deit")
 * @param distillation     whether a distillation token follows the CLS token
 * @param labels           class names by index (id2label; "LABEL_i" where the config has none)
 */
public record ViTConfig(String source, String prefix, int hidden, int layers, int heads, int intermediate,
                        float layerNormEps, int imageSize, int patchSize, int channels, boolean qkvBias,
                        boolean distillation, String[] labels) {

    public ViTConfig {
        ModelFormatException.requirePositive(source, "'hidden_size'", hidden);
        ModelFormatException.requirePositive(source, "'num_hidden_layers'", layers);
        ModelFormatException.requirePositive(source, "'num_attention_heads'", heads);
        ModelFormatException.requirePositive(source, "'intermediate_size'", intermediate);
        ModelFormatException.requirePositive(source, "'image_size'", imageSize);
        ModelFormatException.requirePositive(source, "'patch_size'", patchSize);
        if (hidden % heads != 0) throw new ModelFormatException(source + ": hidden_size " + hidden + " is not divisible by num_attention_heads " + heads);
        if (imageSize % patchSize != 0) throw new ModelFormatException(source + ": image_size " + imageSize + " is not a multiple of patch_size " + patchSize);
        if (channels != 3) throw new ModelFormatException(source + ": num_channels " + channels + " is not supported (RGB images: 3)");
        if (labels.length == 0) throw new ModelFormatException(source + ": the classifier has no labels (num_labels / id2label)");
    }

    public int headDim() { return hidden / heads; }

    /** Patches along one side at the configured image size. */
    public int gridSize() { return imageSize / patchSize; }

    /** The config.json model_type values this graph reads. */
    public static final java.util.Set<String> MODEL_TYPES = java.util.Set.of("vit", "deit");

    /** CLS (+ distillation) tokens before the patches. */
    public int prefixTokens() { return distillation ? 2 : 1; }

    public static ViTConfig read(Path configJson) {
        return read(Json.read(configJson), configJson);
    }

    /** As {@link #read(Path)}, from the parsed config.json {@code c}. */
    public static ViTConfig read(JsonNode c, Path configJson) {
        String type = c.path("model_type").asText("");
        if (!type.equals("vit") && !type.equals("deit")) {
            throw new ModelFormatException(configJson + ": model_type '" + type + "' is not an image classifier Transfuse supports (supported: vit, deit)");
        }
        String act = c.path("hidden_act").asText("gelu");
        if (!act.equals("gelu")) throw new ModelFormatException(configJson + ": hidden_act '" + act + "' is not supported (supported: gelu)");
        boolean deit = type.equals("deit");
        return new ViTConfig(configJson.toString(), deit ? "deit" : "vit",
                Json.requireInt(c, "hidden_size", configJson),
                Json.requireInt(c, "num_hidden_layers", configJson),
                Json.requireInt(c, "num_attention_heads", configJson),
                Json.requireInt(c, "intermediate_size", configJson),
                (float) Json.optionalNumber(c, "layer_norm_eps", 1e-12, configJson),
                Json.optionalInt(c, "image_size", 224, configJson),
                Json.optionalInt(c, "patch_size", 16, configJson),
                Json.optionalInt(c, "num_channels", 3, configJson),
                c.path("qkv_bias").asBoolean(true),
                deit,
                labels(c, configJson));
    }

    /** Class names by index from id2label / num_labels ("LABEL_i" where the config names none); shared with Swin. */
    public static String[] labels(JsonNode c, Path file) {
        JsonNode map = c.path("id2label");
        int n = map.isObject() && map.size() > 0 ? map.size() : Json.optionalInt(c, "num_labels", 2, file);
        String[] labels = new String[n];
        for (int i = 0; i < n; i++) labels[i] = "LABEL_" + i;
        if (map.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
                var e = it.next();
                int id;
                try {
                    id = Integer.parseInt(e.getKey());
                } catch (NumberFormatException ex) {
                    throw new ModelFormatException(file + ": id2label key '" + e.getKey() + "' is not an integer");
                }
                if (id < 0 || id >= n) throw new ModelFormatException(file + ": id2label id " + id + " is outside 0.." + (n - 1));
                labels[id] = e.getValue().asText();
            }
        }
        return labels;
    }
}
