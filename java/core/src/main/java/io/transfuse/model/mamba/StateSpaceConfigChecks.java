package io.transfuse.model.mamba;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.loader.ModelFormatException;

import java.nio.file.Path;

/**
 * The checks a Mamba-1 and a Mamba-2 config.json share: which config it is, the sizes every state-space decoder has,
 * the limits of the conv1d and scan ops every backend implements, and the one activation they run. Each config adds
 * its own.
 */
final class StateSpaceConfigChecks {
    private StateSpaceConfigChecks() {}

    /**
     * @param maxStateSize the largest state_size the config's scan ops take (Mamba-1's and Mamba-2's differ)
     */
    static void check(String source, int dModel, int layers, int vocabSize, int dState, int maxStateSize, int dConv, float eps) {
        ModelFormatException.requirePositive(source, "'hidden_size'", dModel);
        ModelFormatException.requirePositive(source, "'num_hidden_layers'", layers);
        ModelFormatException.requirePositive(source, "'vocab_size'", vocabSize);
        ModelFormatException.requirePositive(source, "'state_size'", dState);
        ModelFormatException.requirePositive(source, "'conv_kernel'", dConv);
        if (dConv > MambaConfig.MAX_CONV_KERNEL) {
            throw new ModelFormatException(source + ": 'conv_kernel' = " + dConv + " is not supported (at most " + MambaConfig.MAX_CONV_KERNEL + ")");
        }
        if (dState > maxStateSize) {
            throw new ModelFormatException(source + ": 'state_size' = " + dState + " is not supported (at most " + maxStateSize + ")");
        }
        if (!(eps > 0) || Float.isInfinite(eps)) {
            throw new ModelFormatException(source + ": 'layer_norm_epsilon' must be a positive number, got " + eps);
        }
    }

    /** Whether a config.json names {@code modelType} as its model_type or {@code architecture} among its architectures. */
    static boolean describes(JsonNode config, String modelType, String architecture) {
        if (modelType.equals(config.path("model_type").asText(""))) return true;
        for (JsonNode a : config.path("architectures")) if (architecture.equals(a.asText())) return true;
        return false;
    }

    /** The mixers' activation: SiLU only. */
    static void requireSilu(JsonNode config, Path file) {
        String act = config.path("hidden_act").asText("silu");
        if (!act.equals("silu")) throw new ModelFormatException(file + ": 'hidden_act' = '" + act + "' is not supported (silu)");
    }
}
