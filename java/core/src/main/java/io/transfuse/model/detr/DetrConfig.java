package io.transfuse.model.detr;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.loader.Json;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.model.vit.ViTConfig;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * Hyper-parameters of a DETR object detector (Carion et al. 2020) in Hugging Face's {@code DetrForObjectDetection}
 * layout (config.json model_type "detr"): a ResNet-50 backbone (timm's, {@code use_timm_backbone} true, or HF's
 * ResNetBackbone described by {@code backbone_config}, whose {@code depths} may be shallower), a {@code dModel}-wide
 * Transformer encoder and decoder, {@code numQueries} object queries, and a class head of {@code labels.length + 1}
 * outputs (the last one "no object").
 *
 * @param depths bottleneck blocks per ResNet stage ([3, 4, 6, 3] for ResNet-50)
 * @param labels class names by id (id2label; "LABEL_i" where the config has none)
 */
public record DetrConfig(String source, int dModel, int encoderLayers, int decoderLayers, int encoderHeads, int decoderHeads,
                         int encoderFfn, int decoderFfn, int numQueries, boolean timmBackbone, int[] depths, String[] labels) {

    /** Widths of the ResNet-50 stages' outputs (4 x the bottleneck widths 64, 128, 256, 512) and of its stem. */
    public static final int[] STAGE_WIDTHS = {256, 512, 1024, 2048};
    public static final int STEM_WIDTH = 64;
    /** nn.LayerNorm's default, which HF's DETR layers keep. */
    public static final float LAYER_NORM_EPS = 1e-5f;
    /** DetrFrozenBatchNorm2d's epsilon. */
    public static final float BATCH_NORM_EPS = 1e-5f;

    public DetrConfig {
        ModelFormatException.requirePositive(source, "'d_model'", dModel);
        ModelFormatException.requirePositive(source, "'encoder_layers'", encoderLayers);
        ModelFormatException.requirePositive(source, "'decoder_layers'", decoderLayers);
        ModelFormatException.requirePositive(source, "'num_queries'", numQueries);
        ModelFormatException.requirePositive(source, "'encoder_ffn_dim'", encoderFfn);
        ModelFormatException.requirePositive(source, "'decoder_ffn_dim'", decoderFfn);
        if (encoderHeads < 1 || dModel % encoderHeads != 0 || decoderHeads < 1 || dModel % decoderHeads != 0) {
            throw new ModelFormatException(source + ": d_model " + dModel + " must be a multiple of encoder_attention_heads "
                    + encoderHeads + " and decoder_attention_heads " + decoderHeads);
        }
        if (dModel % 4 != 0) throw new ModelFormatException(source + ": d_model " + dModel + " must be a multiple of 4 (sine position embedding)");
        if (depths.length != 4) throw new ModelFormatException(source + ": the ResNet backbone has 4 stages, depths says " + Arrays.toString(depths));
        for (int d : depths) if (d < 1) throw new ModelFormatException(source + ": backbone depths must be positive, got " + Arrays.toString(depths));
        if (labels.length == 0) throw new ModelFormatException(source + ": the detector has no labels (id2label / num_labels)");
    }

    /** Outputs of the class head: every label and "no object". */
    public int classes() { return labels.length + 1; }

    public static DetrConfig read(JsonNode c, Path file) {
        String type = c.path("model_type").asText("");
        if (!type.equals("detr")) throw new ModelFormatException(file + ": model_type '" + type + "' is not DETR (supported: detr)");
        if (c.path("dilation").asBoolean(false)) {
            throw new ModelFormatException(file + ": dilation true (DETR-DC5) is not supported");
        }
        String pos = c.path("position_embedding_type").asText("sine");
        if (!pos.equals("sine")) throw new ModelFormatException(file + ": position_embedding_type '" + pos + "' is not supported (supported: sine)");
        String act = c.path("activation_function").asText("relu");
        if (!act.equals("relu")) throw new ModelFormatException(file + ": activation_function '" + act + "' is not supported (supported: relu)");
        if (Json.optionalInt(c, "num_channels", 3, file) != 3) throw new ModelFormatException(file + ": num_channels must be 3 (RGB)");
        boolean timm = c.path("use_timm_backbone").asBoolean(true);
        int[] depths = {3, 4, 6, 3};
        if (timm) {
            String backbone = c.path("backbone").asText("resnet50");
            if (!backbone.equals("resnet50")) {
                throw new ModelFormatException(file + ": backbone '" + backbone + "' is not supported (supported: resnet50)");
            }
        } else {
            depths = resnetDepths(c.path("backbone_config"), file);
        }
        return new DetrConfig(file.toString(),
                Json.optionalInt(c, "d_model", 256, file),
                Json.optionalInt(c, "encoder_layers", 6, file),
                Json.optionalInt(c, "decoder_layers", 6, file),
                Json.optionalInt(c, "encoder_attention_heads", 8, file),
                Json.optionalInt(c, "decoder_attention_heads", 8, file),
                Json.optionalInt(c, "encoder_ffn_dim", 2048, file),
                Json.optionalInt(c, "decoder_ffn_dim", 2048, file),
                Json.optionalInt(c, "num_queries", 100, file),
                timm, depths, ViTConfig.labels(c, file));
    }

    /** HF's ResNetConfig must be ResNet-50's widths with bottleneck blocks; its depths may differ. */
    private static int[] resnetDepths(JsonNode b, Path file) {
        if (b.isMissingNode() || b.isNull()) return new int[] {3, 4, 6, 3}; // HF's default backbone_config: ResNet-50
        String type = b.path("model_type").asText("resnet");
        String layer = b.path("layer_type").asText("bottleneck");
        if (!type.equals("resnet") || !layer.equals("bottleneck")) {
            throw new ModelFormatException(file + ": backbone_config must be a bottleneck ResNet, got model_type '" + type
                    + "', layer_type '" + layer + "'");
        }
        if (Json.optionalInt(b, "embedding_size", STEM_WIDTH, file) != STEM_WIDTH) {
            throw new ModelFormatException(file + ": backbone_config embedding_size must be " + STEM_WIDTH + " (ResNet-50)");
        }
        JsonNode sizes = b.path("hidden_sizes");
        if (!sizes.isMissingNode()) {
            int[] got = new int[sizes.size()];
            for (int i = 0; i < got.length; i++) got[i] = sizes.get(i).asInt();
            if (!Arrays.equals(got, STAGE_WIDTHS)) {
                throw new ModelFormatException(file + ": backbone_config hidden_sizes " + Arrays.toString(got) + " are not ResNet-50's "
                        + Arrays.toString(STAGE_WIDTHS));
            }
        }
        if (b.path("downsample_in_bottleneck").asBoolean(false)) {
            throw new ModelFormatException(file + ": backbone_config downsample_in_bottleneck true is not supported");
        }
        JsonNode d = b.path("depths");
        if (d.isMissingNode()) return new int[] {3, 4, 6, 3};
        int[] depths = new int[d.size()];
        for (int i = 0; i < depths.length; i++) depths[i] = d.get(i).asInt();
        return depths;
    }
}
