package io.transfuse.loader;

import java.util.Map;

/**
 * Upper bounds for the sizes a model's config states (config.json fields, GGUF keys), checked where they are
 * read ({@link Json#requireInt}, the GGUF config readers) so that a corrupt or hostile value
 * ({@code "num_hidden_layers": 2147483647}) is an error naming the file and the field before anything is
 * allocated from it, not an OutOfMemoryError or an overflowed product later. Each bound is far above any
 * published model and low enough that the products the graphs form from these fields (heads x head size,
 * expand x width, tokens x width) fit in an int. A field is looked up by its name, or for a GGUF key by its
 * last part ({@code llama.block_count} -> {@code block_count}); fields not listed have no bound here.
 */
public final class ConfigLimits {
    /** Layers: llama.cpp's LLAMA_MAX_LAYERS is 512; Llama 3.1 405B has 126. */
    public static final long LAYERS = 1024;
    /** Hidden and FFN widths: Llama 3.1 405B's FFN is 53248 wide. */
    public static final long WIDTH = 1 << 18;
    /** Attention heads: Llama 3.1 405B has 128. */
    public static final long HEADS = 1 << 10;
    /** Size of one head, rotary dims: 256 at most in published models. */
    public static final long HEAD_SIZE = 1 << 12;
    /** Vocabulary and label counts: Gemma 3 has 262144 tokens. */
    public static final long VOCAB = 1 << 24;
    /** Positions a model states it was trained for: Llama 4 Scout states 10M. */
    public static final long POSITIONS = 1 << 26;
    /** Image side, patch side, channels, conv kernel, state size. */
    public static final long SMALL = 1 << 16;

    private static final Map<String, Long> BOUNDS = Map.ofEntries(
            Map.entry("num_hidden_layers", LAYERS), Map.entry("n_layer", LAYERS), Map.entry("block_count", LAYERS),
            Map.entry("num_layers", LAYERS),
            Map.entry("hidden_size", WIDTH), Map.entry("n_embd", WIDTH), Map.entry("d_model", WIDTH),
            Map.entry("embedding_length", WIDTH), Map.entry("intermediate_size", WIDTH), Map.entry("n_inner", WIDTH),
            Map.entry("feed_forward_length", WIDTH), Map.entry("time_step_rank", WIDTH),
            Map.entry("num_attention_heads", HEADS), Map.entry("num_key_value_heads", HEADS), Map.entry("n_head", HEADS),
            Map.entry("head_count", HEADS), Map.entry("head_count_kv", HEADS),
            Map.entry("head_dim", HEAD_SIZE), Map.entry("key_length", HEAD_SIZE), Map.entry("value_length", HEAD_SIZE),
            Map.entry("dimension_count", HEAD_SIZE),
            Map.entry("vocab_size", VOCAB), Map.entry("type_vocab_size", VOCAB), Map.entry("num_labels", VOCAB),
            Map.entry("max_position_embeddings", POSITIONS), Map.entry("n_positions", POSITIONS), Map.entry("n_ctx", POSITIONS),
            Map.entry("context_length", POSITIONS), Map.entry("original_max_position_embeddings", POSITIONS),
            Map.entry("original_context_length", POSITIONS), Map.entry("sliding_window", POSITIONS),
            Map.entry("image_size", SMALL), Map.entry("patch_size", SMALL), Map.entry("num_channels", SMALL),
            Map.entry("state_size", SMALL), Map.entry("conv_kernel", SMALL), Map.entry("expand", HEADS), // expand x width fits an int
            Map.entry("sliding_window_pattern", LAYERS));

    private ConfigLimits() {}

    /** The bound of field {@code key} (a GGUF key by its last part), or 0 when it has none. */
    public static long bound(String key) {
        return BOUNDS.getOrDefault(key.substring(key.lastIndexOf('.') + 1), 0L);
    }

    /** {@code value} of field {@code key} in {@code file}, or an error naming both when it exceeds the field's bound. */
    public static long check(Object file, String key, long value) {
        long max = bound(key);
        if (max > 0 && value > max) {
            throw new ModelFormatException(file + ": '" + key + "' = " + value + " is larger than any model's (at most " + max
                    + "); the file is corrupt or not what it claims");
        }
        return value;
    }
}
