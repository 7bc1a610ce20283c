package io.transfuse.model.seq2seq;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.backend.Activation;
import io.transfuse.loader.Json;
import io.transfuse.loader.ModelFormatException;

import java.nio.file.Path;

/**
 * The config.json of an encoder-decoder model: T5 ({@code T5ForConditionalGeneration}, v1.0 and v1.1 / Flan-T5),
 * BART ({@code BartForConditionalGeneration}) and Marian ({@code MarianMTModel}), read into one shape. Every
 * inconsistency or unsupported variant is a {@link ModelFormatException} naming the file and the key.
 *
 * @param flavour        which block structure and positions the graph uses
 * @param dim            d_model
 * @param heads          attention heads (the same in encoder and decoder)
 * @param headDim        T5's d_kv; BART/Marian d_model / heads
 * @param ffnAct         the feed-forward activation; {@code relu} true for ReLU (T5's plain feed-forward)
 * @param gated          T5 v1.1's gated FFN: {@code act(x wi_0) * (x wi_1)}
 * @param buckets        T5 relative_attention_num_buckets (0 for BART/Marian)
 * @param maxDistance    T5 relative_attention_max_distance
 * @param tied           the LM head is the shared embedding (T5: scaled by d_model^-0.5 first)
 * @param forcedBos      first generated token when >= 0 (BART's forced_bos_token_id)
 * @param forcedEos      the token forced at the length limit when >= 0
 */
public record Seq2SeqConfig(Path source, Flavour flavour, int dim, int heads, int headDim, int encoderLayers, int decoderLayers,
                            int encoderFfn, int decoderFfn, int vocab, float eps, Activation ffnAct, boolean relu, boolean gated,
                            int buckets, int maxDistance, boolean tied, boolean scaleEmbedding, int maxPositions, int padId,
                            int eosId, int decoderStartId, int forcedBos, int forcedEos) {

    /** The three layouts: T5 (pre-RMSNorm, relative bias), BART (post-LN, learned positions), Marian (post-LN, sinusoidal). */
    public enum Flavour { T5, BART, MARIAN }

    /** Whether config.json's model_type is one this graph runs (t5, bart, marian). */
    public static boolean handles(String modelType) {
        return "t5".equals(modelType) || "bart".equals(modelType) || "marian".equals(modelType) || "mt5".equals(modelType);
    }

    public static Seq2SeqConfig read(Path configJson) {
        JsonNode n = Json.read(configJson);
        String type = n.path("model_type").asText("");
        return switch (type) {
            case "t5", "mt5" -> t5(n, configJson);
            case "bart", "marian" -> bart(n, configJson, type.equals("marian") ? Flavour.MARIAN : Flavour.BART);
            default -> throw new ModelFormatException(configJson + ": model_type '" + type + "' is not an encoder-decoder model this "
                    + "graph runs (t5, mt5, bart, marian)");
        };
    }

    private static Seq2SeqConfig t5(JsonNode n, Path f) {
        int d = Json.requireInt(n, "d_model", f), heads = Json.requireInt(n, "num_heads", f), dkv = Json.requireInt(n, "d_kv", f);
        int layers = Json.requireInt(n, "num_layers", f);
        int decLayers = Json.optionalInt(n, "num_decoder_layers", layers, f);
        int ff = Json.requireInt(n, "d_ff", f), vocab = Json.requireInt(n, "vocab_size", f);
        String proj = n.path("feed_forward_proj").asText("relu");
        boolean gated = proj.startsWith("gated-");
        String actName = gated ? proj.substring("gated-".length()) : proj;
        Activation act;
        boolean relu = false;
        switch (actName) {
            case "relu" -> { act = Activation.RELU; relu = true; }
            case "gelu" -> act = gated ? Activation.GELU_TANH : Activation.GELU_ERF; // T5's "gated-gelu" means gelu_new
            case "gelu_new" -> act = Activation.GELU_TANH;
            case "silu", "swish" -> act = Activation.SILU;
            default -> throw new ModelFormatException(f + ": feed_forward_proj '" + proj + "' is not supported (relu, gelu, gated-gelu, "
                    + "gated-silu)");
        }
        if (gated && relu) throw new ModelFormatException(f + ": feed_forward_proj 'gated-relu' is not supported (gated-gelu, gated-silu)");
        int buckets = Json.optionalInt(n, "relative_attention_num_buckets", 32, f);
        int maxDistance = Json.optionalInt(n, "relative_attention_max_distance", 128, f);
        if (buckets < 4 || buckets % 2 != 0) throw new ModelFormatException(f + ": relative_attention_num_buckets must be an even number >= 4, got " + buckets);
        if (maxDistance <= buckets / 4) {
            throw new ModelFormatException(f + ": relative_attention_max_distance " + maxDistance + " must exceed num_buckets / 4 = " + buckets / 4);
        }
        boolean tied = n.path("tie_word_embeddings").asBoolean(true);
        int pad = Json.optionalInt(n, "pad_token_id", 0, f), eos = Json.optionalInt(n, "eos_token_id", 1, f);
        int start = Json.optionalInt(n, "decoder_start_token_id", pad, f);
        float eps = (float) Json.optionalNumber(n, "layer_norm_epsilon", 1e-6, f);
        Seq2SeqConfig c = new Seq2SeqConfig(f, Flavour.T5, d, heads, dkv, layers, decLayers, ff, ff, vocab, eps, act, relu, gated,
                buckets, maxDistance, tied, false, 0, pad, eos, start, -1, -1);
        c.checkIds();
        return c;
    }

    private static Seq2SeqConfig bart(JsonNode n, Path f, Flavour flavour) {
        int d = Json.requireInt(n, "d_model", f);
        int heads = Json.requireInt(n, "encoder_attention_heads", f);
        int decHeads = Json.optionalInt(n, "decoder_attention_heads", heads, f);
        if (decHeads != heads) {
            throw new ModelFormatException(f + ": decoder_attention_heads " + decHeads + " differs from encoder_attention_heads " + heads
                    + " (not supported)");
        }
        if (d % heads != 0) throw new ModelFormatException(f + ": d_model " + d + " is not a multiple of " + heads + " attention heads");
        if (n.path("normalize_before").asBoolean(false)) {
            throw new ModelFormatException(f + ": normalize_before true (pre-LN, mBART-style) is not supported; BART and Marian are post-LN");
        }
        if (n.path("add_final_layer_norm").asBoolean(false)) {
            throw new ModelFormatException(f + ": add_final_layer_norm true (mBART) is not supported");
        }
        String actName = n.path("activation_function").asText("gelu");
        Activation act;
        boolean relu = false;
        switch (actName) {
            case "gelu" -> act = Activation.GELU_ERF;
            case "gelu_new", "gelu_pytorch_tanh" -> act = Activation.GELU_TANH;
            case "swish", "silu" -> act = Activation.SILU;
            case "relu" -> { act = Activation.RELU; relu = true; }
            default -> throw new ModelFormatException(f + ": activation_function '" + actName + "' is not supported (gelu, gelu_new, swish, relu)");
        }
        int vocab = Json.requireInt(n, "vocab_size", f);
        int pad = Json.optionalInt(n, "pad_token_id", 1, f), eos = Json.optionalInt(n, "eos_token_id", 2, f);
        int start = Json.optionalInt(n, "decoder_start_token_id", flavour == Flavour.MARIAN ? pad : eos, f);
        int forcedBos = Json.optionalInt(n, "forced_bos_token_id", -1, f), forcedEos = Json.optionalInt(n, "forced_eos_token_id", -1, f);
        Seq2SeqConfig c = new Seq2SeqConfig(f, flavour, d, heads, d / heads, Json.requireInt(n, "encoder_layers", f),
                Json.requireInt(n, "decoder_layers", f), Json.requireInt(n, "encoder_ffn_dim", f), Json.requireInt(n, "decoder_ffn_dim", f),
                vocab, 1e-5f, act, relu, false, 0, 0, true, n.path("scale_embedding").asBoolean(false),
                Json.requireInt(n, "max_position_embeddings", f), pad, eos, start, forcedBos, forcedEos);
        c.checkIds();
        return c;
    }

    private void checkIds() {
        check("pad_token_id", padId);
        check("eos_token_id", eosId);
        check("decoder_start_token_id", decoderStartId);
        if (forcedBos >= 0) check("forced_bos_token_id", forcedBos);
        if (forcedEos >= 0) check("forced_eos_token_id", forcedEos);
    }

    private void check(String key, int id) {
        if (id < 0 || id >= vocab) throw new ModelFormatException(source + ": " + key + " " + id + " is outside the vocabulary of " + vocab);
    }

    /** Width of the attention's Q/K/V rows: heads x headDim (T5's inner_dim may differ from d_model). */
    public int inner() { return heads * headDim; }

    /** Longest source or target a position table allows (BART/Marian), or no limit (T5: relative positions). */
    public int positionLimit() { return flavour == Flavour.T5 ? Integer.MAX_VALUE : maxPositions; }
}
