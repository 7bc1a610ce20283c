package io.transfuse.model.mamba;

import io.transfuse.LoadOptions;
import io.transfuse.backend.Backend;
import io.transfuse.loader.ModelSource;
import io.transfuse.model.DecoderFamily;
import io.transfuse.model.DecoderLimits;
import io.transfuse.tokenizer.hf.HfTokenizer;

/** Registry entry: Mamba-1 language models, Hugging Face {@code MambaForCausalLM} directories. */
public final class MambaFamily implements DecoderFamily {
    /**
     * Tokens per forward pass. A Mamba token's activations are small (no attention, no KV cache: about
     * 20 KB at mamba-130m's width), so a pass takes longer prompts than the attention decoders' workspace.
     */
    public static final int BATCH_TOKENS = 512;

    @Override
    public String name() { return "mamba"; }

    @Override
    public boolean recognizes(ModelSource source) {
        return source.format() == ModelSource.Format.HF_DIRECTORY && MambaConfig.isMamba(source.config());
    }

    @Override
    public Parts load(ModelSource source, Backend backend, LoadOptions options) {
        MambaConfig config = MambaConfig.from(source.config(), source.configPath());
        MambaWeights weights = MambaWeights.from(source.safetensors(), config);
        DecoderLimits limits = DecoderLimits.of(options, MambaModel.DEFAULT_CONTEXT, BATCH_TOKENS);
        // Mamba checkpoints ship GPT-NeoX's byte-level BPE; the embedding may have more rows than it has tokens.
        HfTokenizer tokenizer = HfTokenizer.forModel(source.directory(), (int) weights.head().dim(0));
        return new Parts(new MambaModel(config, weights, backend, limits), tokenizer);
    }
}
