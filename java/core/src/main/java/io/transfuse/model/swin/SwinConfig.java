package io.transfuse.model.swin;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.loader.Json;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.model.vit.ViTConfig;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * Hyper-parameters of a Swin Transformer classifier (Liu et al. 2021) in Hugging Face's
 * {@code SwinForImageClassification} layout (config.json model_type "swin"), or a Swin-V2 one (Liu et al. 2022,
 * {@code Swinv2ForImageClassification}, "swinv2": cosine attention, log-spaced continuous position bias, the
 * LayerNorms after the attention and MLP, reduction before norm in patch merging): stage s has {@code depths[s]}
 * blocks of width {@code embedDim * 2^s} with {@code numHeads[s]} heads, on a token grid of
 * {@code imageSize / patchSize / 2^s} a side; stages after the first start with a 2x2 patch merging.
 *
 * @param labels class names by index (id2label; "LABEL_i" where the config has none)
 */
public record SwinConfig(String source, int imageSize, int patchSize, int channels, int embedDim, int[] depths, int[] numHeads,
                         int windowSize, double mlpRatio, float layerNormEps, boolean qkvBias, String[] labels, boolean v2,
                         int[] pretrainedWindowSizes) {

    /** The config.json model_type values this graph reads. */
    public static final java.util.Set<String> MODEL_TYPES = java.util.Set.of("swin", "swinv2");

    public SwinConfig {
        ModelFormatException.requirePositive(source, "'image_size'", imageSize);
        ModelFormatException.requirePositive(source, "'patch_size'", patchSize);
        ModelFormatException.requirePositive(source, "'embed_dim'", embedDim);
        ModelFormatException.requirePositive(source, "'window_size'", windowSize);
        if (channels != 3) throw new ModelFormatException(source + ": num_channels " + channels + " is not supported (RGB images: 3)");
        if (depths.length == 0) throw new ModelFormatException(source + ": 'depths' lists no stages");
        if (depths.length != numHeads.length) {
            throw new ModelFormatException(source + ": 'depths' has " + depths.length + " stages " + Arrays.toString(depths)
                    + " but 'num_heads' has " + numHeads.length + " " + Arrays.toString(numHeads));
        }
        for (int s = 0; s < depths.length; s++) {
            if (depths[s] < 1) throw new ModelFormatException(source + ": depths[" + s + "] = " + depths[s] + " must be positive");
            if (numHeads[s] < 1 || dim(embedDim, s) % numHeads[s] != 0) {
                throw new ModelFormatException(source + ": stage " + s + " width " + dim(embedDim, s) + " is not a multiple of num_heads["
                        + s + "] = " + numHeads[s]);
            }
        }
        if (!(mlpRatio > 0) || mlpRatio * embedDim != Math.rint(mlpRatio * embedDim)) {
            throw new ModelFormatException(source + ": mlp_ratio " + mlpRatio + " does not give a whole MLP width");
        }
        if (labels.length == 0) throw new ModelFormatException(source + ": the classifier has no labels (num_labels / id2label)");
        if (pretrainedWindowSizes.length != depths.length) {
            throw new ModelFormatException(source + ": 'pretrained_window_sizes' has " + pretrainedWindowSizes.length + " entries for "
                    + depths.length + " stages");
        }
        String why = gridProblem(imageSize, imageSize, patchSize, depths.length, windowSize);
        if (why != null) throw new ModelFormatException(source + ": image_size " + imageSize + ": " + why);
    }

    private static int dim(int embed, int stage) { return embed << stage; }

    public int stages() { return depths.length; }

    /** The tensor-name prefix: "swin" or "swinv2". */
    public String prefix() { return v2 ? "swinv2" : "swin"; }

    /** Width of stage s: embed_dim * 2^s. */
    public int dim(int stage) { return dim(embedDim, stage); }

    /**
     * Stage s's window at the config's image size: window_size, or the stage's token grid where that is smaller (HF
     * builds each block's attention, and so its position bias table, for this window).
     */
    public int stageWindow(int stage) { return Math.min(windowSize, (imageSize / patchSize) >> stage); }

    /** The feature width after the last stage (swin.layernorm, the classifier's input). */
    public int finalDim() { return dim(stages() - 1); }

    public int mlpDim(int stage) { return (int) Math.round(mlpRatio * dim(stage)); }

    /**
     * Why an image of {@code width x height} pixels cannot go through the stages, or null when it can: whole
     * patches, an even token grid before every patch merging, and each stage's grid a whole number of windows
     * (the window shrinks to the grid where the grid is smaller, as in HF's SwinLayer). HF would pad instead;
     * Transfuse refuses such sizes (the model's own image_size always qualifies for the released checkpoints).
     */
    public static String gridProblem(int width, int height, int patch, int stages, int window) {
        if (width % patch != 0 || height % patch != 0) {
            return "the image " + width + "x" + height + " is not a whole number of " + patch + "-pixel patches";
        }
        int gw = width / patch, gh = height / patch;
        for (int s = 0; s < stages; s++) {
            if (s > 0) {
                if (gw % 2 != 0 || gh % 2 != 0) {
                    return "stage " + s + "'s patch merging needs an even token grid, got " + gw + "x" + gh;
                }
                gw /= 2;
                gh /= 2;
            }
            int w = Math.min(window, Math.min(gw, gh));
            if (gw % w != 0 || gh % w != 0) {
                return "stage " + s + "'s token grid " + gw + "x" + gh + " is not a whole number of " + w + "x" + w + " windows";
            }
        }
        return null;
    }

    public static SwinConfig read(JsonNode c, Path configJson) {
        String type = c.path("model_type").asText("");
        if (!MODEL_TYPES.contains(type)) {
            throw new ModelFormatException(configJson + ": model_type '" + type + "' is not Swin (supported: swin, swinv2)");
        }
        int[] depths = ints(c, "depths", new int[] {2, 2, 6, 2}, configJson);
        String act = c.path("hidden_act").asText("gelu");
        if (!act.equals("gelu")) throw new ModelFormatException(configJson + ": hidden_act '" + act + "' is not supported (supported: gelu)");
        if (c.path("use_absolute_embeddings").asBoolean(false)) {
            throw new ModelFormatException(configJson + ": use_absolute_embeddings true is not supported");
        }
        return new SwinConfig(configJson.toString(),
                Json.optionalInt(c, "image_size", 224, configJson),
                Json.optionalInt(c, "patch_size", 4, configJson),
                Json.optionalInt(c, "num_channels", 3, configJson),
                Json.optionalInt(c, "embed_dim", 96, configJson),
                depths,
                ints(c, "num_heads", new int[] {3, 6, 12, 24}, configJson),
                Json.optionalInt(c, "window_size", 7, configJson),
                Json.optionalNumber(c, "mlp_ratio", 4.0, configJson),
                (float) Json.optionalNumber(c, "layer_norm_eps", 1e-5, configJson),
                c.path("qkv_bias").asBoolean(true),
                ViTConfig.labels(c, configJson),
                type.equals("swinv2"),
                ints(c, "pretrained_window_sizes", new int[depths.length], configJson));
    }

    private static int[] ints(JsonNode c, String key, int[] fallback, Path file) {
        JsonNode v = c.path(key);
        if (v.isMissingNode() || v.isNull()) return fallback;
        if (!v.isArray()) throw new ModelFormatException(file + ": '" + key + "' must be a list of integers, got " + v);
        int[] r = new int[v.size()];
        for (int i = 0; i < r.length; i++) {
            if (!v.get(i).isIntegralNumber()) throw new ModelFormatException(file + ": '" + key + "'[" + i + "] is not an integer: " + v.get(i));
            r[i] = v.get(i).asInt();
        }
        return r;
    }
}
