package io.transfuse.tokenizer;

import io.transfuse.loader.GgufFile;
import io.transfuse.loader.ModelFormatException;

import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.IntFunction;

/**
 * The tokens that end a generated turn, chosen as llama.cpp chooses them (llama-vocab.cpp, the
 * "special_eog_ids" it keeps): the EOS id, the file's EOT and EOM ids
 * ({@code tokenizer.ggml.eot_token_id}, {@code eom_token_id}), the fill-in-the-middle pad /
 * repository / file-separator ids, and every token whose text is one of {@link #TEXTS} (chat
 * models mark the end of a turn with such a token while their EOS id names another one: Llama 3
 * instruct ends turns with {@code <|eot_id|>} but names {@code <|end_of_text|>}, ChatML models
 * {@code <|im_end|>}, Gemma {@code <end_of_turn>}, Phi-3 {@code <|end|>}).
 */
public final class EndOfGeneration {
    private EndOfGeneration() {}

    /**
     * Token texts that end generation wherever they are in the vocabulary: llama.cpp's list (v0.5.0
     * of node-llama-cpp's bundled source, llama-vocab.cpp) and the fill-in-the-middle pad /
     * repository / file-separator tokens it finds by text (Qwen2.5-Coder, CodeGemma, Granite).
     */
    public static final List<String> TEXTS = List.of(
            "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
            "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>",
            "<eos>", "<turn|>", "<|tool_response>", "<\uff5cend\u2581of\u2581sentence\uff5c>", "[e~[",
            "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>",
            "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>",
            "<|file_sep|>");

    /** GGUF metadata keys whose ids end generation, besides the EOS id. */
    public static final List<String> GGUF_KEYS = List.of("tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id",
            "tokenizer.ggml.fim_pad_token_id", "tokenizer.ggml.fim_rep_token_id", "tokenizer.ggml.fim_sep_token_id");

    /**
     * The set for a vocabulary: {@code eos} (if >= 0), {@code extra} ids, and every id in
     * {@code candidates} whose text ({@code textOf}) is one of {@link #TEXTS}.
     */
    public static Set<Integer> of(int eos, Iterable<Integer> extra, Iterable<Integer> candidates, IntFunction<String> textOf) {
        Set<Integer> ids = new TreeSet<>();
        if (eos >= 0) ids.add(eos);
        for (int id : extra) if (id >= 0) ids.add(id);
        Set<String> texts = Set.copyOf(TEXTS);
        for (int id : candidates) {
            String text = textOf.apply(id);
            if (text != null && texts.contains(text)) ids.add(id);
        }
        return Collections.unmodifiableSet(ids);
    }

    /** The ids the GGUF file names under {@link #GGUF_KEYS}; one outside the vocabulary is an error naming the key. */
    public static List<Integer> ggufIds(GgufFile gguf, int vocabularySize) {
        List<Integer> ids = new java.util.ArrayList<>();
        for (String key : GGUF_KEYS) {
            Long id = gguf.optional(key, Long.class, null);
            if (id == null || id == -1 || id == 0xFFFFFFFFL) continue; // absent, or written as "none"
            if (id < 0 || id >= vocabularySize) {
                throw new ModelFormatException(gguf.path() + ": " + key + " " + id + " is outside tokenizer.ggml.tokens (" + vocabularySize + " tokens)");
            }
            ids.add((int) (long) id);
        }
        return ids;
    }
}
