package io.transfuse.model.mamba;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.loader.Json;
import io.transfuse.loader.ModelFormatException;

import java.nio.file.Path;

/**
 * Hyper-parameters of a Mamba-1 language model (Gu &amp; Dao 2023) as Hugging Face's
 * {@code MambaConfig} writes them in config.json, also accepting the original mamba_ssm names
 * ({@code d_model}, {@code n_layer}, {@code ssm_cfg}). Missing optional fields take
 * MambaConfig's defaults (state_size 16, conv_kernel 4, expand 2, time_step_rank "auto" =
 * ceil(hidden_size / 16), layer_norm_epsilon 1e-5, use_bias false, use_conv_bias true, tied head).
 *
 * @param source    config.json, named in errors
 * @param dModel    residual stream width (hidden_size)
 * @param dInner    width of the mixer (intermediate_size = expand * hidden_size)
 * @param dState    SSM state per channel (state_size, N)
 * @param dConv     causal conv kernel width (conv_kernel, at most {@link #MAX_CONV_KERNEL})
 * @param dtRank    rank of the delta projection (time_step_rank)
 * @param vocabSize vocab_size; the embedding may have more rows (padded to a multiple of 8)
 */
public record MambaConfig(
        String source,
        int dModel,
        int layers,
        int vocabSize,
        int dState,
        int dConv,
        int dInner,
        int dtRank,
        float eps,
        boolean useBias,
        boolean useConvBias,
        boolean tiedEmbeddings,
        int bosId,
        int eosId) {

    /** Widest conv kernel the conv1d ops (CPU and CUDA) support. */
    public static final int MAX_CONV_KERNEL = 4;
    /** Largest state the selective-scan ops (CPU and CUDA) support. */
    public static final int MAX_STATE_SIZE = 256;

    public MambaConfig {
        ModelFormatException.requirePositive(source, "'hidden_size'", dModel);
        ModelFormatException.requirePositive(source, "'num_hidden_layers'", layers);
        ModelFormatException.requirePositive(source, "'vocab_size'", vocabSize);
        ModelFormatException.requirePositive(source, "'state_size'", dState);
        ModelFormatException.requirePositive(source, "'conv_kernel'", dConv);
        ModelFormatException.requirePositive(source, "'intermediate_size'", dInner);
        ModelFormatException.requirePositive(source, "'time_step_rank'", dtRank);
        if (dConv > MAX_CONV_KERNEL) {
            throw new ModelFormatException(source + ": 'conv_kernel' = " + dConv + " is not supported (at most " + MAX_CONV_KERNEL + ")");
        }
        if (dState > MAX_STATE_SIZE) {
            throw new ModelFormatException(source + ": 'state_size' = " + dState + " is not supported (at most " + MAX_STATE_SIZE + ")");
        }
        if (!(eps > 0) || Float.isInfinite(eps)) {
            throw new ModelFormatException(source + ": 'layer_norm_epsilon' must be a positive number, got " + eps);
        }
    }

    /** True when config.json describes a Mamba-1 causal LM (architectures MambaForCausalLM or model_type mamba). */
    public static boolean isMamba(JsonNode config) {
        if ("mamba".equals(config.path("model_type").asText(""))) return true;
        for (JsonNode a : config.path("architectures")) if ("MambaForCausalLM".equals(a.asText())) return true;
        return false;
    }

    public static MambaConfig read(Path configJson) {
        return from(Json.read(configJson), configJson);
    }

    public static MambaConfig from(JsonNode c, Path file) {
        if (!isMamba(c)) {
            throw new ModelFormatException(file + ": not a Mamba config (expected model_type 'mamba' or architectures [\"MambaForCausalLM\"])");
        }
        JsonNode ssm = c.path("ssm_cfg");
        if (ssm.isObject() && ssm.has("layer") && !"Mamba1".equals(ssm.get("layer").asText())) {
            throw new ModelFormatException(file + ": 'ssm_cfg.layer' = " + ssm.get("layer") + " is not supported (Mamba1 only)");
        }
        String act = c.path("hidden_act").asText("silu");
        if (!act.equals("silu")) throw new ModelFormatException(file + ": 'hidden_act' = '" + act + "' is not supported (silu)");
        int dModel = intOf(c, file, "hidden_size", "d_model", -1);
        int layers = intOf(c, file, "num_hidden_layers", "n_layer", -1);
        int vocab = Json.requireInt(c, "vocab_size", file);
        int dState = intOf(c, file, "state_size", null, ssm.path("d_state").asInt(16));
        int dConv = intOf(c, file, "conv_kernel", null, ssm.path("d_conv").asInt(4));
        int expand = intOf(c, file, "expand", null, ssm.path("expand").asInt(2));
        ModelFormatException.requirePositive(file.toString(), "'expand'", expand);
        int dInner = Json.optionalInt(c, "intermediate_size", expand * dModel, file);
        JsonNode rank = c.has("time_step_rank") ? c.get("time_step_rank") : ssm.path("dt_rank");
        int dtRank;
        if (rank.isMissingNode() || rank.isNull() || "auto".equals(rank.asText())) {
            dtRank = (dModel + 15) / 16;
        } else if (rank.isIntegralNumber() && rank.canConvertToInt()) {
            dtRank = rank.intValue();
        } else {
            throw new ModelFormatException(file + ": 'time_step_rank' must be an integer or \"auto\", got " + rank);
        }
        return new MambaConfig(file.toString(), dModel, layers, vocab, dState, dConv, dInner, dtRank,
                (float) Json.optionalNumber(c, "layer_norm_epsilon", 1e-5, file),
                bool(c, file, "use_bias", false),
                bool(c, file, "use_conv_bias", true),
                bool(c, file, "tie_word_embeddings", c.path("tie_embeddings").asBoolean(true)),
                Json.optionalInt(c, "bos_token_id", 0, file),
                Json.optionalInt(c, "eos_token_id", 0, file));
    }

    /** The integer field {@code name} (or its mamba_ssm {@code alias}); {@code fallback} when both are absent, or an error when it is -1. */
    private static int intOf(JsonNode c, Path file, String name, String alias, int fallback) {
        if (c.hasNonNull(name)) return Json.requireInt(c, name, file);
        if (alias != null && c.hasNonNull(alias)) return Json.requireInt(c, alias, file);
        if (fallback == -1) throw new ModelFormatException(file + ": '" + name + "' is missing" + (alias == null ? "" : " (nor is '" + alias + "' given)"));
        return fallback;
    }

    private static boolean bool(JsonNode c, Path file, String name, boolean fallback) {
        JsonNode v = c.get(name);
        if (v == null || v.isNull()) return fallback;
        if (!v.isBoolean()) throw new ModelFormatException(file + ": '" + name + "' must be true or false, got " + v);
        return v.booleanValue();
    }
}
