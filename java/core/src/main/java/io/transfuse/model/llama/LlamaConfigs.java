package io.transfuse.model.llama;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.backend.RopeLayout;
import io.transfuse.loader.ConfigLimits;
import io.transfuse.loader.GgufFile;
import io.transfuse.loader.Json;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.model.RopeScaling;
import io.transfuse.model.llama.LlamaConfig.AttentionParams;
import io.transfuse.model.llama.LlamaConfig.RopeParams;
import io.transfuse.tensor.Dequantize;

import java.nio.file.Path;
import java.util.Locale;

/**
 * Reads a Llama-family config from either source: GGUF keys as llama.cpp writes and reads them
 * ({@code <arch>.embedding_length}, ...), or a Hugging Face config.json. Where the two disagree on a detail the
 * GGUF reading follows llama.cpp, the reference the tests compare against (noted where it matters).
 */
public final class LlamaConfigs {
    private LlamaConfigs() {}

    /** Gemma 3's local layers: llama.cpp and Hugging Face's default base (config {@code rope_local_base_freq}). */
    public static final double GEMMA3_LOCAL_THETA = 10000;

    public static LlamaConfig config(GgufFile gguf, int vocabSize) {
        String arch = gguf.require("general.architecture", String.class);
        LlamaVariant variant = LlamaVariant.ofGguf(arch);
        if (variant == null) {
            throw new ModelFormatException(gguf.path() + ": architecture '" + arch + "' is not a Llama-family one (supported: "
                    + String.join(", ", LlamaVariant.ggufNames()) + ")");
        }
        Keys k = new Keys(gguf, arch);
        int dim = k.positive("embedding_length");
        int heads = k.positive("attention.head_count");
        int headDim = k.positive("attention.key_length", dim / heads);
        int rotaryDim = k.positive("rope.dimension_count", headDim);
        int context = k.positive("context_length");
        double theta = k.number("rope.freq_base", 10000);
        RopeScaling scaling = ggufScaling(gguf, k, variant, context);
        double localTheta = variant == LlamaVariant.GEMMA3 ? k.number("rope.freq_base_swa", GEMMA3_LOCAL_THETA) : 0;
        int layers = k.positive("block_count");
        int window = ggufHasWindow(variant) ? k.nonNegative("attention.sliding_window", 0) : 0;
        int pattern = ggufWindowPattern(variant);
        float softcap = variant == LlamaVariant.GEMMA2 ? (float) k.number("attn_logit_softcapping", 0) : 0;
        float finalSoftcap = variant == LlamaVariant.GEMMA2 ? (float) k.number("final_logit_softcapping", 0) : 0;
        return new LlamaConfig(gguf.path().toString(), variant, dim, layers, heads,
                k.positive("attention.head_count_kv", heads), headDim, k.positive("feed_forward_length"), vocabSize, context,
                (float) k.number("attention.layer_norm_rms_epsilon", 1e-5),
                new RopeParams(theta, rotaryDim, variant.ggufRopeLayout(), scaling, localTheta),
                new AttentionParams(attentionScale(variant, dim, heads, headDim, layers), window, pattern, softcap),
                finalSoftcap,
                (int) (long) gguf.optional("tokenizer.ggml.bos_token_id", Long.class, 1L),
                (int) (long) gguf.optional("tokenizer.ggml.eos_token_id", Long.class, 2L));
    }

    /**
     * Whether llama.cpp reads {@code attention.sliding_window} for {@code v}: Gemma 2 and 3 only; not "llama" (Mistral's
     * GGUFs), Qwen2, or Phi-3 (disabled there).
     */
    public static boolean ggufHasWindow(LlamaVariant v) { return v == LlamaVariant.GEMMA2 || v == LlamaVariant.GEMMA3; }

    /** Local/global layer pattern of a GGUF file of {@code v}: fixed per architecture in llama.cpp (no key for it). */
    public static int ggufWindowPattern(LlamaVariant v) {
        return switch (v) {
            case GEMMA2 -> 2;
            case GEMMA3 -> 6;
            default -> 1;
        };
    }

    /**
     * 1/sqrt(headDim), except Gemma 2 and 3 at 27B, whose query_pre_attn_scalar is dim / heads: GGUF has no key for it,
     * and llama.cpp recognises those models by their layer count (46 and 62), as done here.
     */
    public static float attentionScale(LlamaVariant v, int dim, int heads, int headDim, int layers) {
        boolean big = (v == LlamaVariant.GEMMA2 && layers == 46) || (v == LlamaVariant.GEMMA3 && layers == 62);
        return (float) (1 / Math.sqrt(big ? (double) dim / heads : headDim));
    }

    /** RoPE scaling from GGUF: frequency-factor tensors first (Llama 3.1, LongRoPE), then {@code rope.scaling.type}. */
    private static RopeScaling ggufScaling(GgufFile gguf, Keys k, LlamaVariant variant, int context) {
        double attnFactor = k.number("rope.scaling.attn_factor", 1);
        if (gguf.tensors().containsKey("rope_factors_long.weight") || gguf.tensors().containsKey("rope_factors_short.weight")) {
            float[] longF = Dequantize.toFloats(gguf.tensor("rope_factors_long.weight"));
            float[] shortF = Dequantize.toFloats(gguf.tensor("rope_factors_short.weight"));
            return new RopeScaling.LongRope(shortF, longF, k.positive("rope.scaling.original_context_length", context), attnFactor);
        }
        if (gguf.tensors().containsKey("rope_freqs.weight")) {
            return new RopeScaling.FreqFactors(Dequantize.toFloats(gguf.tensor("rope_freqs.weight")), attnFactor);
        }
        String type = gguf.optional(k.arch + ".rope.scaling.type", String.class, "none");
        double factor = k.number("rope.scaling.factor", 0);
        if (factor == 0 && gguf.metadata().containsKey(k.arch + ".rope.scale_linear")) {
            type = "linear"; // the key older converters wrote
            factor = k.number("rope.scale_linear", 1);
        }
        return switch (type) {
            case "none" -> new RopeScaling.None();
            case "linear" -> factor == 1 ? new RopeScaling.None() : new RopeScaling.Linear(factor);
            case "yarn" -> new RopeScaling.Yarn(factor, k.positive("rope.scaling.original_context_length"),
                    k.number("rope.scaling.yarn_beta_fast", 32), k.number("rope.scaling.yarn_beta_slow", 1),
                    factor > 1 ? 0.1 * Math.log(factor) + 1 : 1);
            default -> throw new ModelFormatException(gguf.path() + ": '" + k.arch + ".rope.scaling.type' = '" + type
                    + "' is not supported (supported: none, linear, yarn; Llama 3 and LongRoPE come as factor tensors)");
        };
    }

    /** {@code <arch>.<key>} lookups with errors naming the file and the full key. */
    private record Keys(GgufFile gguf, String arch) {
        int positive(String key) {
            long v = gguf.require(arch + "." + key, Long.class);
            return check(key, v, 1);
        }

        int positive(String key, int fallback) {
            return gguf.metadata().containsKey(arch + "." + key) ? positive(key) : fallback;
        }

        int nonNegative(String key, int fallback) {
            if (!gguf.metadata().containsKey(arch + "." + key)) return fallback;
            return check(key, gguf.require(arch + "." + key, Long.class), 0);
        }

        private int check(String key, long v, long min) {
            if (v < min || v > Integer.MAX_VALUE) {
                throw new ModelFormatException(gguf.path() + ": '" + arch + "." + key + "' = " + v + " is out of range");
            }
            return (int) ConfigLimits.check(gguf.path(), arch + "." + key, v);
        }

        double number(String key, double fallback) {
            Object v = gguf.metadata().get(arch + "." + key);
            if (v == null) return fallback;
            if (v instanceof Number n) return n.doubleValue();
            throw new ModelFormatException(gguf.path() + ": '" + arch + "." + key + "' must be a number, got " + v);
        }
    }

    /** The config of a Hugging Face directory's config.json ({@code c}, read from {@code configJson}). */
    public static LlamaConfig config(JsonNode c, Path configJson) {
        String type = c.path("model_type").asText("");
        LlamaVariant variant = LlamaVariant.ofHf(type);
        if (variant == null) {
            throw new ModelFormatException(configJson + ": model_type '" + type + "' is not a Llama-family one (supported: "
                    + String.join(", ", LlamaVariant.hfNames()) + ")");
        }
        int dim = Json.requireInt(c, "hidden_size", configJson);
        int heads = Json.requireInt(c, "num_attention_heads", configJson);
        ModelFormatException.requirePositive(configJson.toString(), "'num_attention_heads'", heads);
        int headDim = Json.optionalInt(c, "head_dim", dim / heads, configJson);
        int layers = Json.requireInt(c, "num_hidden_layers", configJson);
        String act = c.hasNonNull("hidden_activation") ? c.get("hidden_activation").asText() : c.path("hidden_act").asText("silu");
        String expected = variant.ffnActivation() == io.transfuse.backend.Activation.SILU ? "silu" : "gelu_pytorch_tanh";
        boolean actOk = act.equals(expected) || (!expected.equals("silu") && act.equals("gelu_new"));
        if (!actOk) throw new ModelFormatException(configJson + ": hidden_act '" + act + "' is not supported for " + type + " (supported: " + expected + ")");
        double partial = Json.optionalNumber(c, "partial_rotary_factor", 1.0, configJson);
        int rotaryDim = (int) Math.round(headDim * partial);
        int context = Json.optionalInt(c, "max_position_embeddings", 2048, configJson);
        RopeScaling scaling = hfScaling(c, configJson, context);
        double localTheta = variant == LlamaVariant.GEMMA3 ? Json.optionalNumber(c, "rope_local_base_freq", GEMMA3_LOCAL_THETA, configJson) : 0;
        int window = switch (variant) {
            case MISTRAL, GEMMA2, GEMMA3 -> Json.optionalInt(c, "sliding_window", 0, configJson);
            case QWEN2, QWEN3 -> c.path("use_sliding_window").asBoolean(false) ? Json.optionalInt(c, "sliding_window", 0, configJson) : 0;
            default -> 0; // Phi-3's window is disabled, as in llama.cpp
        };
        int pattern = switch (variant) {
            case GEMMA2 -> 2;
            case GEMMA3 -> gemma3Pattern(c, configJson, layers);
            default -> 1;
        };
        float scale = (float) (1 / Math.sqrt(Json.optionalNumber(c, "query_pre_attn_scalar", headDim, configJson)));
        float softcap = (float) Json.optionalNumber(c, "attn_logit_softcapping", 0, configJson);
        float finalSoftcap = (float) Json.optionalNumber(c, "final_logit_softcapping", 0, configJson);
        return new LlamaConfig(configJson.toString(), variant, dim, layers, heads,
                Json.optionalInt(c, "num_key_value_heads", heads, configJson), headDim,
                Json.requireInt(c, "intermediate_size", configJson),
                Json.requireInt(c, "vocab_size", configJson),
                context,
                (float) Json.optionalNumber(c, "rms_norm_eps", 1e-6, configJson),
                new RopeParams(Json.optionalNumber(c, "rope_theta", 10000.0, configJson), rotaryDim, RopeLayout.HALF_SPLIT, scaling, localTheta),
                new AttentionParams(scale, window, pattern, softcap),
                finalSoftcap,
                firstInt(c, "bos_token_id", 1),
                firstInt(c, "eos_token_id", 2));
    }

    /** Gemma 3's local:global pattern: {@code sliding_window_pattern}, or derived from {@code layer_types} (newer configs). */
    private static int gemma3Pattern(JsonNode c, Path configJson, int layers) {
        JsonNode types = c.get("layer_types");
        if (types == null || !types.isArray()) return Json.optionalInt(c, "sliding_window_pattern", 6, configJson);
        int pattern = 0;
        for (int l = 0; l < types.size(); l++) {
            if (types.get(l).asText().equals("full_attention")) { pattern = l + 1; break; }
        }
        if (pattern == 0) pattern = layers + 1; // no global layer at all
        for (int l = 0; l < types.size(); l++) {
            boolean sliding = l % pattern < pattern - 1;
            if (sliding != types.get(l).asText().equals("sliding_attention")) {
                throw new ModelFormatException(configJson + ": layer_types " + types + " is not a repeating local/global pattern");
            }
        }
        return pattern;
    }

    /** Hugging Face {@code rope_scaling} ({@code rope_type} or the older {@code type}). */
    private static RopeScaling hfScaling(JsonNode c, Path configJson, int context) {
        JsonNode s = c.get("rope_scaling");
        if (s == null || s.isNull()) return new RopeScaling.None();
        String kind = s.hasNonNull("rope_type") ? s.get("rope_type").asText() : s.path("type").asText("default");
        double factor = Json.optionalNumber(s, "factor", 1, configJson);
        int orig = Json.optionalInt(s, "original_max_position_embeddings",
                Json.optionalInt(c, "original_max_position_embeddings", context, configJson), configJson);
        try {
            return switch (kind.toLowerCase(Locale.ROOT)) {
                case "default" -> new RopeScaling.None();
                case "linear" -> new RopeScaling.Linear(factor);
                case "dynamic" -> new RopeScaling.DynamicNtk(factor, orig);
                case "yarn" -> new RopeScaling.Yarn(factor, orig, Json.optionalNumber(s, "beta_fast", 32, configJson),
                        Json.optionalNumber(s, "beta_slow", 1, configJson),
                        Json.optionalNumber(s, "attention_factor", factor > 1 ? 0.1 * Math.log(factor) + 1 : 1, configJson));
                case "llama3" -> new RopeScaling.Llama3(factor, Json.optionalNumber(s, "low_freq_factor", 1, configJson),
                        Json.optionalNumber(s, "high_freq_factor", 4, configJson), orig);
                case "longrope", "su" -> new RopeScaling.LongRope(floats(s, "short_factor", configJson), floats(s, "long_factor", configJson),
                        orig, Json.optionalNumber(s, "attention_factor", RopeScaling.LongRope.defaultAttnFactor(context, orig), configJson));
                default -> throw new ModelFormatException(configJson + ": rope_scaling type '" + kind
                        + "' is not supported (supported: linear, dynamic, yarn, llama3, longrope)");
            };
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(configJson + ": rope_scaling " + s + ": " + e.getMessage(), e);
        }
    }

    private static float[] floats(JsonNode s, String key, Path configJson) {
        JsonNode a = s.get(key);
        if (a == null || !a.isArray()) throw new ModelFormatException(configJson + ": rope_scaling." + key + " must be an array of numbers");
        float[] f = new float[a.size()];
        for (int i = 0; i < f.length; i++) f[i] = (float) a.get(i).asDouble();
        return f;
    }

    /** An id that may be given as a list (Llama 3.1's eos_token_id): the first. */
    private static int firstInt(JsonNode c, String key, int fallback) {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) return fallback;
        if (v.isArray()) return v.isEmpty() ? fallback : v.get(0).asInt(fallback);
        return v.asInt(fallback);
    }
}
