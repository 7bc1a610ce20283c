package io.transfuse.model.gpt2;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.backend.Activation;
import io.transfuse.loader.ConfigLimits;
import io.transfuse.loader.GgufFile;
import io.transfuse.loader.Json;
import io.transfuse.loader.ModelFormatException;

import java.nio.file.Path;

/**
 * Hyper-parameters of a GPT-2 decoder (Radford et al. 2019), from a GGUF file (architecture
 * {@code gpt2}, llama.cpp's keys) or a Hugging Face {@code GPT2LMHeadModel} config.json.
 *
 * @param source      the file or directory they were read from, named in errors
 * @param ffn         width of the MLP (n_inner; 4 x dim when the config leaves it null)
 * @param context     learned positions (n_positions): the longest sequence
 * @param activation  the MLP's GELU: tanh form ("gelu_new", GPT-2's) or erf form ("gelu")
 */
public record Gpt2Config(String source, int dim, int layers, int heads, int ffn, int vocabSize, int context, float eps,
                         Activation activation, int bosId, int eosId) {

    public Gpt2Config {
        ModelFormatException.requirePositive(source, "embedding size (n_embd)", dim);
        ModelFormatException.requirePositive(source, "number of layers (n_layer)", layers);
        ModelFormatException.requirePositive(source, "number of heads (n_head)", heads);
        ModelFormatException.requirePositive(source, "MLP size (n_inner)", ffn);
        ModelFormatException.requirePositive(source, "vocabulary size", vocabSize);
        ModelFormatException.requirePositive(source, "context length (n_positions)", context);
        if (dim % heads != 0) throw new ModelFormatException(source + ": n_embd " + dim + " is not divisible by " + heads + " heads");
        if (!(eps > 0) || Float.isInfinite(eps)) throw new ModelFormatException(source + ": layer_norm_epsilon must be positive, got " + eps);
    }

    public int headDim() { return dim / heads; }

    /** From a GGUF file of architecture gpt2; {@code vocab} is the token embedding's rows. */
    public static Gpt2Config read(GgufFile gguf, int vocab) {
        String arch = gguf.require("general.architecture", String.class);
        if (!arch.equals("gpt2")) throw new ModelFormatException(gguf.path() + ": architecture '" + arch + "' is not gpt2");
        return new Gpt2Config(gguf.path().toString(),
                intKey(gguf, "gpt2.embedding_length"),
                intKey(gguf, "gpt2.block_count"),
                intKey(gguf, "gpt2.attention.head_count"),
                intKey(gguf, "gpt2.feed_forward_length"),
                vocab,
                intKey(gguf, "gpt2.context_length"),
                (float) (double) gguf.optional("gpt2.attention.layer_norm_epsilon", Double.class, 1e-5),
                Activation.GELU_TANH,
                (int) (long) gguf.optional("tokenizer.ggml.bos_token_id", Long.class, 50256L),
                (int) (long) gguf.optional("tokenizer.ggml.eos_token_id", Long.class, 50256L));
    }

    private static int intKey(GgufFile gguf, String key) {
        long v = gguf.require(key, Long.class);
        if (v <= 0 || v > Integer.MAX_VALUE) throw new ModelFormatException(gguf.path() + ": '" + key + "' = " + v + " is out of range");
        return (int) ConfigLimits.check(gguf.path(), key, v);
    }

    /** From a Hugging Face config.json ({@code c}, read from {@code file}). */
    public static Gpt2Config read(JsonNode c, Path file) {
        String type = c.path("model_type").asText("");
        if (!type.equals("gpt2")) throw new ModelFormatException(file + ": model_type '" + type + "' is not gpt2");
        int dim = Json.requireInt(c, "n_embd", file);
        String act = c.path("activation_function").asText("gelu_new");
        Activation activation = switch (act) {
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> Activation.GELU_TANH;
            case "gelu" -> Activation.GELU_ERF;
            default -> throw new ModelFormatException(file + ": activation_function '" + act + "' is not supported (gelu_new, gelu)");
        };
        if (c.path("scale_attn_by_inverse_layer_idx").asBoolean(false) || c.path("reorder_and_upcast_attn").asBoolean(false)) {
            throw new ModelFormatException(file + ": scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn are not supported");
        }
        if (!c.path("scale_attn_weights").asBoolean(true)) {
            throw new ModelFormatException(file + ": scale_attn_weights false is not supported");
        }
        if (!c.path("tie_word_embeddings").asBoolean(true)) {
            throw new ModelFormatException(file + ": tie_word_embeddings false is not supported (GPT2LMHeadModel ties its head)");
        }
        return new Gpt2Config(file.toString(), dim,
                Json.requireInt(c, "n_layer", file),
                Json.requireInt(c, "n_head", file),
                c.hasNonNull("n_inner") ? Json.requireInt(c, "n_inner", file) : 4 * dim,
                Json.requireInt(c, "vocab_size", file),
                Json.optionalInt(c, "n_positions", Json.optionalInt(c, "n_ctx", 1024, file), file),
                (float) Json.optionalNumber(c, "layer_norm_epsilon", 1e-5, file),
                activation,
                Json.optionalInt(c, "bos_token_id", 50256, file),
                Json.optionalInt(c, "eos_token_id", 50256, file));
    }
}
