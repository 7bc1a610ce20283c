package io.transfuse.model.llama;

import io.transfuse.backend.RopeLayout;
import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.loader.GgufFile;
import io.transfuse.loader.Json;
import io.transfuse.loader.ModelFormatException;

import java.nio.file.Path;

/**
 * Reads a Llama config from either source. GGUF stores Q/K with rotary pairs adjacent (the
 * original Meta layout); Hugging Face permutes their rows so pairs are split in halves.
 */
final class LlamaConfigs {
    private LlamaConfigs() {}

    public static LlamaConfig config(GgufFile gguf, int vocabSize) {
        String arch = gguf.require("general.architecture", String.class);
        if (!arch.equals("llama")) {
            throw new ModelFormatException(gguf.path() + ": architecture '" + arch + "' is not supported yet (supported: llama)");
        }
        int heads = intKey(gguf, "llama.attention.head_count");
        return new LlamaConfig(gguf.path().toString(),
                intKey(gguf, "llama.embedding_length"),
                intKey(gguf, "llama.block_count"),
                heads,
                (int) (long) gguf.optional("llama.attention.head_count_kv", Long.class, (long) heads),
                intKey(gguf, "llama.feed_forward_length"),
                vocabSize,
                intKey(gguf, "llama.context_length"),
                (float) (double) gguf.optional("llama.attention.layer_norm_rms_epsilon", Double.class, 1e-5),
                (float) (double) gguf.optional("llama.rope.freq_base", Double.class, 10000.0),
                RopeLayout.ADJACENT_PAIRS,
                (int) (long) gguf.optional("tokenizer.ggml.bos_token_id", Long.class, 1L),
                (int) (long) gguf.optional("tokenizer.ggml.eos_token_id", Long.class, 2L));
    }

    private static int intKey(GgufFile gguf, String key) {
        long v = gguf.require(key, Long.class);
        if (v <= 0 || v > Integer.MAX_VALUE) throw new ModelFormatException(gguf.path() + ": '" + key + "' = " + v + " is out of range");
        return (int) v;
    }

    /** The config of a Hugging Face directory's config.json ({@code c}, read from {@code configJson}). */
    public static LlamaConfig config(JsonNode c, Path configJson) {
        String type = c.path("model_type").asText("");
        if (!type.equals("llama")) {
            throw new ModelFormatException(configJson + ": model_type '" + type + "' is not supported yet (supported: llama)");
        }
        if (c.hasNonNull("rope_scaling")) {
            throw new ModelFormatException(configJson + ": rope_scaling " + c.get("rope_scaling") + " is not supported yet");
        }
        int dim = Json.requireInt(c, "hidden_size", configJson);
        int heads = Json.requireInt(c, "num_attention_heads", configJson);
        if (c.hasNonNull("head_dim") && heads > 0 && Json.requireInt(c, "head_dim", configJson) * heads != dim) {
            throw new ModelFormatException(configJson + ": head_dim * num_attention_heads != hidden_size is not supported yet");
        }
        String act = c.path("hidden_act").asText("silu");
        if (!act.equals("silu")) throw new ModelFormatException(configJson + ": hidden_act '" + act + "' is not supported (supported: silu)");
        return new LlamaConfig(configJson.toString(),
                dim,
                Json.requireInt(c, "num_hidden_layers", configJson),
                heads,
                Json.optionalInt(c, "num_key_value_heads", heads, configJson),
                Json.requireInt(c, "intermediate_size", configJson),
                Json.requireInt(c, "vocab_size", configJson),
                Json.optionalInt(c, "max_position_embeddings", 2048, configJson),
                (float) Json.optionalNumber(c, "rms_norm_eps", 1e-6, configJson),
                (float) Json.optionalNumber(c, "rope_theta", 10000.0, configJson),
                RopeLayout.HALF_SPLIT,
                Json.optionalInt(c, "bos_token_id", 1, configJson),
                Json.optionalInt(c, "eos_token_id", 2, configJson));
    }
}
