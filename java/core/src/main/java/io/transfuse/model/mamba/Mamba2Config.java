package io.transfuse.model.mamba;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.loader.Json;
import io.transfuse.loader.ModelFormatException;

import java.nio.file.Path;

/**
 * Hyper-parameters of a Mamba-2 language model (Dao &amp; Gu 2024, "Transformers are SSMs") as Hugging Face's
 * {@code Mamba2Config} writes them in config.json ({@code model_type "mamba2"}), also accepting mamba_ssm's
 * {@code d_model} / {@code n_layer}. Missing optional fields take HF Mamba2Config's defaults (num_heads 128,
 * head_dim 64, n_groups 8, state_size 128, expand 2, conv_kernel 4, chunk_size 256, layer_norm_epsilon 1e-5,
 * use_bias false, use_conv_bias true, tie_word_embeddings false); HF's config.json files write them all.
 *
 * @param dModel    residual stream width (hidden_size)
 * @param dInner    mixer width = expand * hidden_size = heads * headDim
 * @param heads     SSM heads (num_heads), each with its own scalar A, dt and D
 * @param headDim   channels per head (head_dim, P)
 * @param groups    B/C groups (n_groups), shared by heads / groups heads each; also the gated norm's groups
 * @param dState    SSM state per channel (state_size, N)
 * @param dConv     causal conv kernel width over x, B and C (conv_kernel)
 * @param chunkSize the training chunk length (chunk_size): kept for reference; the backends pick their own chunk, equal up to rounding
 */
public record Mamba2Config(
        String source,
        int dModel,
        int layers,
        int vocabSize,
        int dInner,
        int heads,
        int headDim,
        int groups,
        int dState,
        int dConv,
        int chunkSize,
        float eps,
        boolean useBias,
        boolean useConvBias,
        boolean tiedEmbeddings,
        int bosId,
        int eosId) {

    /** Largest state the SSD ops take on every backend (the CUDA kernel keeps a chunk's B and C rows in shared memory). */
    public static final int MAX_STATE_SIZE = 128;

    public Mamba2Config {
        StateSpaceConfigChecks.check(source, dModel, layers, vocabSize, dState, MAX_STATE_SIZE, dConv, eps);
        ModelFormatException.requirePositive(source, "'num_heads'", heads);
        ModelFormatException.requirePositive(source, "'head_dim'", headDim);
        ModelFormatException.requirePositive(source, "'n_groups'", groups);
        ModelFormatException.requirePositive(source, "'chunk_size'", chunkSize);
        if ((long) heads * headDim != dInner) {
            throw new ModelFormatException(source + ": num_heads * head_dim = " + heads + " * " + headDim + " = " + (long) heads * headDim
                    + " must equal expand * hidden_size = " + dInner);
        }
        if (heads % groups != 0) {
            throw new ModelFormatException(source + ": num_heads = " + heads + " must be a multiple of n_groups = " + groups);
        }
    }

    /** Width of B (and of C): groups * dState. */
    public int bcWidth() { return groups * dState; }

    /** Rows of in_proj: z, x, B, C and dt. */
    public long inProjRows() { return 2L * dInner + 2L * bcWidth() + heads; }

    /** Channels of the conv: x, B and C. */
    public int convDim() { return dInner + 2 * bcWidth(); }

    /** True when config.json describes a Mamba-2 causal LM (model_type mamba2 or architectures Mamba2ForCausalLM). */
    public static boolean isMamba2(JsonNode config) {
        return StateSpaceConfigChecks.describes(config, "mamba2", "Mamba2ForCausalLM");
    }

    public static Mamba2Config read(Path configJson) {
        return from(Json.read(configJson), configJson);
    }

    public static Mamba2Config from(JsonNode c, Path file) {
        if (!isMamba2(c)) {
            throw new ModelFormatException(file + ": not a Mamba-2 config (expected model_type 'mamba2' or architectures [\"Mamba2ForCausalLM\"])");
        }
        StateSpaceConfigChecks.requireSilu(c, file);
        if (c.has("norm_before_gate") && c.get("norm_before_gate").asBoolean(false)) {
            throw new ModelFormatException(file + ": 'norm_before_gate' = true is not supported (Mamba-2 gates before the norm)");
        }
        JsonNode limit = c.path("time_step_limit");
        if (limit.isArray() && limit.size() == 2 && (limit.get(0).asDouble() > 0 || !isInfinite(limit.get(1)))) {
            throw new ModelFormatException(file + ": 'time_step_limit' = " + limit + " is not supported (only the default [0.0, inf]: no clamp)");
        }
        int dModel = Json.requireInt(c, "hidden_size", "d_model", file);
        int layers = Json.requireInt(c, "num_hidden_layers", "n_layer", file);
        int vocab = Json.requireInt(c, "vocab_size", file);
        int expand = Json.optionalInt(c, "expand", 2, file);
        ModelFormatException.requirePositive(file.toString(), "'expand'", expand);
        int dInner = Math.multiplyExact(expand, dModel);
        int headDim = Json.optionalInt(c, "head_dim", 64, file);
        ModelFormatException.requirePositive(file.toString(), "'head_dim'", headDim);
        int heads = Json.optionalInt(c, "num_heads", 128, file);
        return new Mamba2Config(file.toString(), dModel, layers, vocab, dInner, heads, headDim,
                Json.optionalInt(c, "n_groups", 8, file),
                Json.optionalInt(c, "state_size", 128, file),
                Json.optionalInt(c, "conv_kernel", 4, file),
                Json.optionalInt(c, "chunk_size", 256, file),
                (float) Json.optionalNumber(c, "layer_norm_epsilon", 1e-5, file),
                Json.optionalBoolean(c, "use_bias", false, file),
                Json.optionalBoolean(c, "use_conv_bias", true, file),
                Json.optionalBoolean(c, "tie_word_embeddings", false, file),
                Json.optionalInt(c, "bos_token_id", 0, file),
                Json.optionalInt(c, "eos_token_id", 0, file));
    }

    /** The upper time-step limit: Python's float("inf") is written as Infinity (or a string) in config.json. */
    private static boolean isInfinite(JsonNode v) {
        return v.isNumber() ? Double.isInfinite(v.doubleValue()) : v.asText("").toLowerCase(java.util.Locale.ROOT).contains("inf");
    }
}
