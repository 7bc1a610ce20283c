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
        StateSpaceConfigChecks.check(source, dModel, layers, vocabSize, dState, MAX_STATE_SIZE, dConv, eps);
        ModelFormatException.requirePositive(source, "'intermediate_size'", dInner);
        ModelFormatException.requirePositive(source, "'time_step_rank'", dtRank);
    }

    /** True when config.json describes a Mamba-1 causal LM (architectures MambaForCausalLM or model_type mamba). */
    public static boolean isMamba(JsonNode config) {
        return StateSpaceConfigChecks.describes(config, "mamba", "MambaForCausalLM");
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
        StateSpaceConfigChecks.requireSilu(c, file);
        int dModel = Json.requireInt(c, "hidden_size", "d_model", file);
        int layers = Json.requireInt(c, "num_hidden_layers", "n_layer", file);
        int vocab = Json.requireInt(c, "vocab_size", file);
        int dState = Json.optionalInt(c, "state_size", ssm.path("d_state").asInt(16), file);
        int dConv = Json.optionalInt(c, "conv_kernel", ssm.path("d_conv").asInt(4), file);
        int expand = Json.optionalInt(c, "expand", ssm.path("expand").asInt(2), file);
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
                Json.optionalBoolean(c, "use_bias", false, file),
                Json.optionalBoolean(c, "use_conv_bias", true, file),
                Json.optionalBoolean(c, "tie_word_embeddings", c.path("tie_embeddings").asBoolean(true), file),
                Json.optionalInt(c, "bos_token_id", 0, file),
                Json.optionalInt(c, "eos_token_id", 0, file));
    }
}
