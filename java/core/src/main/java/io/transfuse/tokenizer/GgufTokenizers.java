package io.transfuse.tokenizer;

import io.transfuse.loader.GgufFile;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.tokenizer.hf.ByteLevelBpeGguf;

/**
 * The tokenizer a GGUF file carries, by {@code tokenizer.ggml.model}: "llama" is SentencePiece
 * BPE ({@link SentencePieceBpe}), "gpt2" is byte-level BPE (GPT-2, Llama 3, Qwen2/3, SmolLM:
 * {@link ByteLevelBpeGguf}, an {@link io.transfuse.tokenizer.hf.HfTokenizer}), "t5" is SentencePiece Unigram
 * (T5, Flan-T5, mT5: {@link GgufUnigram}, encoding as llama.cpp's UGM tokenizer does).
 *
 * <p>{@code encode(text, true)} adds what the file asks for: BOS for SentencePiece files; for
 * byte-level files what {@code tokenizer.ggml.add_bos_token} / {@code add_eos_token} say (by
 * default BOS for the Llama 3 pre-tokenizer and nothing for GPT-2 or Qwen2, which name a BOS id
 * but do not add it).
 */
public final class GgufTokenizers {
    private GgufTokenizers() {}

    /**
     * The file's tokenizer, or null when it has none (no {@code tokenizer.ggml.tokens}). Other
     * models ("bert", "rwkv", ...) and malformed vocabularies are errors naming the file and the key.
     */
    public static Tokenizer load(GgufFile gguf) {
        if (!gguf.metadata().containsKey("tokenizer.ggml.tokens")) return null;
        String model = gguf.require("tokenizer.ggml.model", String.class);
        return switch (model) {
            case "llama" -> SentencePieceBpe.fromGguf(gguf);
            case "gpt2" -> ByteLevelBpeGguf.load(gguf);
            case "t5" -> GgufUnigram.fromGguf(gguf);
            case "rwkv" -> RwkvWorldTokenizer.fromGguf(gguf);
            default -> throw new ModelFormatException(gguf.path() + ": tokenizer.ggml.model '" + model
                    + "' is not supported (supported: llama, gpt2, t5, rwkv)");
        };
    }
}
