package io.transfuse.model.modernbert;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.backend.Activation;
import io.transfuse.backend.RopeLayout;
import io.transfuse.loader.Json;
import io.transfuse.loader.ModelFormatException;

import java.nio.file.Path;

/**
 * Hyper-parameters of the newer embedding encoders that {@link ModernEncoderModel} runs: BERT's shape with rotary or ALiBi
 * positions instead of a position table and a gated (GLU) feed-forward block. Three checkpoint layouts:
 * <ul>
 *   <li>{@link Layout#MODERNBERT}: HF {@code ModernBertModel} (model_type "modernbert"): pre-LN without biases, fused Wqkv,
 *       GeGLU, RoPE with global_rope_theta on every global_attn_every_n_layers-th layer and local_rope_theta with a
 *       sliding window of local_attention tokens on the others, a final norm;</li>
 *   <li>{@link Layout#NOMIC}: nomic-ai's {@code NomicBertModel} (model_type "nomic_bert", modeling_hf_nomic_bert.py): post-LN,
 *       fused Wqkv, SwiGLU (fc11 * silu(fc12)), rotary over rotary_emb_fraction of each head, token types;</li>
 *   <li>{@link Layout#JINA}: JinaBERT v2 (jinaai/jina-bert-implementation; model_type "bert" with position_embedding_type
 *       "alibi"): BERT's post-LN attention, symmetric ALiBi, a GLU block "mlp.gated_layers" / "mlp.wo" with its own LayerNorm.</li>
 * </ul>
 *
 * @param intermediate  width of the GLU's hidden layer (the gate's and the up projection's rows)
 * @param typeVocabSize rows of the token-type table; 0 when the model has none (ModernBERT)
 * @param rotaryDim     values of each head RoPE rotates (0: ALiBi)
 * @param window        attention window of the local layers as the kernels take it ({@code |i - j| < window}; 0: all global)
 * @param globalEvery   layer l attends globally when {@code l % globalEvery == 0} (ModernBERT), else through the window
 * @param gluActivation the activation on the GLU's gate (GELU erf for GeGLU, SiLU for SwiGLU; IDENTITY marks ReGLU's ReLU)
 * @param maxSequence   longest input the model takes
 */
public record ModernEncoderConfig(String modelType, Layout layout, int vocabSize, int hidden, int layers, int heads, int intermediate,
                                  int typeVocabSize, float eps, int rotaryDim, RopeLayout ropeLayout, double globalTheta,
                                  double localTheta, int window, int globalEvery, Activation gluActivation, boolean relu, int maxSequence,
                                  String source) {

    /** Whose tensor names and block order the checkpoint uses. */
    public enum Layout { MODERNBERT, NOMIC, JINA }

    public ModernEncoderConfig {
        ModelFormatException.requirePositive(source, "'vocab_size'", vocabSize);
        ModelFormatException.requirePositive(source, "the hidden size", hidden);
        ModelFormatException.requirePositive(source, "the layer count", layers);
        ModelFormatException.requirePositive(source, "the attention head count", heads);
        ModelFormatException.requirePositive(source, "the feed-forward width", intermediate);
        ModelFormatException.requirePositive(source, "the maximum sequence length", maxSequence);
        if (hidden % heads != 0) throw new ModelFormatException(source + ": hidden size " + hidden + " is not a multiple of " + heads + " heads");
        int d = hidden / heads;
        if (rotaryDim < 0 || rotaryDim % 2 != 0 || rotaryDim > d) {
            throw new ModelFormatException(source + ": rotary dim " + rotaryDim + " must be even and at most the head dim " + d);
        }
        if (!(eps > 0)) throw new ModelFormatException(source + ": the norm epsilon must be positive, got " + eps);
        if (window < 0 || globalEvery < 1) throw new ModelFormatException(source + ": bad local attention (window " + window + ", every " + globalEvery + ")");
    }

    public int headDim() { return hidden / heads; }

    /** Whether layer l uses the sliding window (and the local RoPE base). */
    public boolean local(int l) { return window > 0 && l % globalEvery != 0; }

    public boolean alibi() { return rotaryDim == 0; }

    /** The model types this graph reads (and BERT with position_embedding_type "alibi": {@link #isJina}). */
    public static boolean reads(JsonNode c) {
        String type = c.path("model_type").asText("");
        return type.equals("modernbert") || type.equals("nomic_bert") || isJina(c);
    }

    /** JinaBERT v2 carries model_type "bert": its ALiBi position type tells it apart. */
    public static boolean isJina(JsonNode c) {
        return c.path("model_type").asText("").equals("bert") && c.path("position_embedding_type").asText("absolute").equals("alibi");
    }

    public static ModernEncoderConfig read(JsonNode c, Path file) {
        String type = c.path("model_type").asText("");
        if (type.equals("modernbert")) return modernBert(c, file);
        if (type.equals("nomic_bert")) return nomic(c, file);
        if (isJina(c)) return jina(c, file);
        throw new ModelFormatException(file + ": model_type '" + type + "' is not ModernBERT, nomic-bert or JinaBERT (ALiBi)");
    }

    /** HF configuration_modernbert.py: keys and defaults (global_rope_theta 160000, local_rope_theta 10000, local_attention 128). */
    private static ModernEncoderConfig modernBert(JsonNode c, Path file) {
        int hidden = Json.requireInt(c, "hidden_size", file), heads = Json.requireInt(c, "num_attention_heads", file);
        JsonNode rope = c.path("rope_parameters");
        double global = rope.path("full_attention").path("rope_theta").asDouble(Json.optionalNumber(c, "global_rope_theta", 160_000, file));
        double local = rope.path("sliding_attention").path("rope_theta").asDouble(Json.optionalNumber(c, "local_rope_theta", 10_000, file));
        for (String kind : new String[] {"full_attention", "sliding_attention"}) {
            String t = rope.path(kind).path("rope_type").asText("default");
            if (!t.equals("default")) throw new ModelFormatException(file + ": rope_parameters." + kind + ".rope_type '" + t + "' is not supported (default)");
        }
        if (c.hasNonNull("rope_scaling")) throw new ModelFormatException(file + ": rope_scaling is not supported for ModernBERT");
        if (c.has("layer_types")) throw new ModelFormatException(file + ": an explicit layer_types list is not supported (global_attn_every_n_layers)");
        int localAttention = Json.optionalInt(c, "local_attention", 128, file);
        if (localAttention < 2) throw new ModelFormatException(file + ": local_attention must be >= 2, got " + localAttention);
        return new ModernEncoderConfig("modernbert", Layout.MODERNBERT, Json.requireInt(c, "vocab_size", file), hidden,
                Json.requireInt(c, "num_hidden_layers", file), heads, Json.requireInt(c, "intermediate_size", file), 0,
                (float) Json.optionalNumber(c, "norm_eps", 1e-5, file), hidden / heads, RopeLayout.HALF_SPLIT, global, local,
                // HF keeps keys with |i - j| <= local_attention / 2: the kernels' window is that plus one.
                localAttention / 2 + 1, Json.optionalInt(c, "global_attn_every_n_layers", 3, file),
                gelu(c.path("hidden_activation").asText("gelu"), "hidden_activation", file), false,
                Json.optionalInt(c, "max_position_embeddings", 8192, file), file.toString());
    }

    /** nomic-ai's configuration_hf_nomic_bert.py (a GPT2Config): n_embd, n_layer, n_head, n_inner, rotary_emb_*. */
    private static ModernEncoderConfig nomic(JsonNode c, Path file) {
        int hidden = Json.requireInt(c, "n_embd", file), heads = Json.requireInt(c, "n_head", file);
        if (c.path("prenorm").asBoolean(false)) throw new ModelFormatException(file + ": prenorm true is not supported for nomic-bert (post-LN)");
        String act = c.path("activation_function").asText("swiglu");
        Activation glu = switch (act) {
            case "swiglu" -> Activation.SILU;
            case "geglu" -> Activation.GELU_ERF;
            default -> throw new ModelFormatException(file + ": activation_function '" + act + "' is not supported for nomic-bert (swiglu, geglu)");
        };
        double fraction = Json.optionalNumber(c, "rotary_emb_fraction", 0.0, file);
        if (!(fraction > 0)) throw new ModelFormatException(file + ": rotary_emb_fraction " + fraction + " (learned positions) is not supported; nomic-bert runs with rotary");
        if (c.hasNonNull("rotary_scaling_factor")) throw new ModelFormatException(file + ": rotary_scaling_factor (dynamic NTK) is not supported");
        if (c.hasNonNull("rotary_emb_scale_base")) throw new ModelFormatException(file + ": rotary_emb_scale_base (xPos) is not supported");
        int d = hidden / heads, rot = (int) (d * fraction);
        int inner = c.hasNonNull("n_inner") ? Json.requireInt(c, "n_inner", file) : 4 * hidden;
        return new ModernEncoderConfig("nomic_bert", Layout.NOMIC, Json.requireInt(c, "vocab_size", file), hidden,
                Json.requireInt(c, "n_layer", file), heads, inner, Json.optionalInt(c, "type_vocab_size", 2, file),
                (float) Json.optionalNumber(c, "layer_norm_epsilon", 1e-12, file), rot - rot % 2,
                c.path("rotary_emb_interleaved").asBoolean(false) ? RopeLayout.ADJACENT_PAIRS : RopeLayout.HALF_SPLIT,
                Json.optionalNumber(c, "rotary_emb_base", 10_000, file), 0, 0, 1, glu, false,
                Json.optionalInt(c, "n_positions", 2048, file), file.toString());
    }

    /** JinaBERT v2's JinaBertConfig: BERT's keys, position_embedding_type "alibi", feed_forward_type "geglu" or "reglu". */
    private static ModernEncoderConfig jina(JsonNode c, Path file) {
        String ff = c.path("feed_forward_type").asText("original");
        // jina-embeddings-v2 use GeGLU; ReGLU ("reglu") would need a ReLU GLU, which the op set's glu does not take.
        if (!ff.equals("geglu")) throw new ModelFormatException(file + ": feed_forward_type '" + ff + "' is not supported for JinaBERT (geglu)");
        boolean relu = false;
        return new ModernEncoderConfig("bert", Layout.JINA, Json.requireInt(c, "vocab_size", file), Json.requireInt(c, "hidden_size", file),
                Json.requireInt(c, "num_hidden_layers", file), Json.requireInt(c, "num_attention_heads", file),
                Json.requireInt(c, "intermediate_size", file), Json.optionalInt(c, "type_vocab_size", 2, file),
                (float) Json.optionalNumber(c, "layer_norm_eps", 1e-12, file), 0, RopeLayout.HALF_SPLIT, 0, 0, 0, 1,
                relu ? Activation.IDENTITY : Activation.GELU_ERF, relu, Json.optionalInt(c, "max_position_embeddings", 8192, file),
                file.toString());
    }

    private static Activation gelu(String name, String key, Path file) {
        return switch (name) {
            case "gelu" -> Activation.GELU_ERF;
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> Activation.GELU_TANH;
            case "silu", "swish" -> Activation.SILU;
            default -> throw new ModelFormatException(file + ": " + key + " '" + name + "' is not supported (gelu, gelu_pytorch_tanh, silu)");
        };
    }

    /** ALiBi's head slopes (Press et al. 2022, as JinaBERT's _get_alibi_head_slopes): geometric from 2^(-8/n), interleaved past a power of two. */
    public static float[] alibiSlopes(int heads) {
        float[] out = new float[heads];
        int p = Integer.highestOneBit(heads);
        double[] base = powerOfTwoSlopes(p);
        for (int i = 0; i < p; i++) out[i] = (float) base[i];
        if (p < heads) {
            double[] extra = powerOfTwoSlopes(2 * p);
            for (int i = 0; i < heads - p; i++) out[p + i] = (float) extra[2 * i];
        }
        return out;
    }

    private static double[] powerOfTwoSlopes(int n) {
        double start = Math.pow(2, -Math.pow(2, -(Math.log(n) / Math.log(2) - 3)));
        double[] s = new double[n];
        for (int i = 0; i < n; i++) s[i] = start * Math.pow(start, i);
        return s;
    }
}
