package io.transfuse.model.mamba;

import io.transfuse.LoadOptions;
import io.transfuse.backend.Backend;
import io.transfuse.loader.ModelSource;
import io.transfuse.model.DecoderFamily;
import io.transfuse.model.DecoderLimits;
import io.transfuse.tokenizer.hf.HfTokenizer;

/** Registry entry: Mamba-2 language models, Hugging Face {@code Mamba2ForCausalLM} directories. */
public final class Mamba2Family implements DecoderFamily {
    @Override
    public String name() { return "mamba2"; }

    @Override
    public boolean recognizes(ModelSource source) {
        return source.format() == ModelSource.Format.HF_DIRECTORY && Mamba2Config.isMamba2(source.config());
    }

    @Override
    public Parts load(ModelSource source, Backend backend, LoadOptions options) {
        Mamba2Config config = Mamba2Config.from(source.config(), source.configPath());
        Mamba2Weights weights = Mamba2Weights.from(source.safetensors(), config);
        // no attention and no KV cache: a pass takes as many tokens as Mamba-1's
        DecoderLimits limits = DecoderLimits.of(options, Mamba2Model.DEFAULT_CONTEXT, MambaFamily.BATCH_TOKENS);
        // Mamba-2 checkpoints ship GPT-NeoX's byte-level BPE, as Mamba-1's; the embedding may have more rows than it has tokens.
        HfTokenizer tokenizer = HfTokenizer.forModel(source.directory(), (int) weights.head().dim(0));
        return new Parts(new Mamba2Model(config, weights, backend, limits), tokenizer);
    }
}
