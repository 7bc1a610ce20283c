package io.transfuse.model.gpt2;

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
 * Registry entry: GPT-2, GGUF ({@code general.architecture = gpt2}, byte-level BPE vocabulary) or Hugging
 * Face {@code GPT2LMHeadModel} directories (config.json, safetensors, tokenizer.json).
 */
public final class Gpt2Family implements DecoderFamily {
    /** Tokens per forward pass (the activation workspace). */
    public static final int BATCH_TOKENS = 128;

    @Override
    public String name() { return "gpt2"; }

    @Override
    public boolean recognizes(ModelSource source) {
        return source.format() != ModelSource.Format.ONNX && source.architecture().equals("gpt2");
    }

    @Override
    public Parts load(ModelSource source, Backend backend, LoadOptions options) {
        Gpt2Config config;
        Gpt2Weights weights;
        Tokenizer tokenizer;
        if (source.format() == ModelSource.Format.GGUF) {
            GgufFile gguf = source.gguf();
            config = Gpt2Config.read(gguf, (int) gguf.tensor("token_embd.weight").dim(0));
            weights = Gpt2Weights.fromGguf(gguf, config);
            tokenizer = GgufTokenizers.load(gguf);
        } else {
            config = Gpt2Config.read(source.config(), source.configPath());
            weights = Gpt2Weights.fromHf(source.safetensors(), config, source.arena());
            tokenizer = HfTokenizer.forModel(source.directory(), config.vocabSize());
        }
        DecoderLimits limits = DecoderLimits.of(options, config.context(), BATCH_TOKENS);
        return new Parts(new Gpt2Model(config, weights, backend, limits), tokenizer);
    }
}
