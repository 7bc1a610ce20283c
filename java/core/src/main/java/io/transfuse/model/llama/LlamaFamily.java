package io.transfuse.model.llama;

import io.transfuse.LoadOptions;
import io.transfuse.backend.Backend;
import io.transfuse.loader.GgufFile;
import io.transfuse.loader.ModelSource;
import io.transfuse.model.DecoderFamily;
import io.transfuse.model.DecoderLimits;
import io.transfuse.tokenizer.GgufTokenizers;
import io.transfuse.tokenizer.Tokenizer;
import io.transfuse.tokenizer.hf.HfTokenizer;

/**
 * Registry entry: Llama-family decoders ({@link LlamaVariant}: Llama, Mistral, Qwen2/3, Gemma 1/2/3, Phi-3), GGUF
 * ({@code general.architecture}) or Hugging Face ({@code model_type}).
 */
public final class LlamaFamily implements DecoderFamily {
    /** Tokens per forward pass: bounds the activation workspace; longer prompts run in several passes. */
    public static final int BATCH_TOKENS = 128;

    @Override
    public String name() { return "llama"; }

    @Override
    public boolean recognizes(ModelSource source) {
        return switch (source.format()) {
            case GGUF -> LlamaVariant.ofGguf(source.architecture()) != null;
            case HF_DIRECTORY -> LlamaVariant.ofHf(source.architecture()) != null;
            default -> false;
        };
    }

    @Override
    public Parts load(ModelSource source, Backend backend, LoadOptions options) {
        LlamaConfig config;
        LlamaWeights weights;
        Tokenizer tokenizer;
        if (source.format() == ModelSource.Format.GGUF) {
            GgufFile gguf = source.gguf();
            tokenizer = GgufTokenizers.load(gguf);
            int vocab = tokenizer != null ? tokenizer.vocabularySize() : (int) gguf.tensor(LlamaWeights.Names.GGUF.tokenEmbedding()).dim(0);
            config = LlamaConfigs.config(gguf, vocab);
            weights = LlamaWeights.from(gguf, LlamaWeights.Names.GGUF, config, false, source.arena());
        } else {
            config = LlamaConfigs.config(source.config(), source.configPath());
            weights = LlamaWeights.from(source.safetensors(), LlamaWeights.Names.hf(config.variant()), config, true, source.arena());
            tokenizer = HfTokenizer.forModel(source.directory(), config.vocabSize());
        }
        DecoderLimits limits = DecoderLimits.of(options, config.contextLength(), BATCH_TOKENS);
        return new Parts(new LlamaModel(config, weights, backend, limits), tokenizer);
    }
}
