package io.transfuse.model.rwkv;

import io.transfuse.LoadOptions;
import io.transfuse.backend.Backend;
import io.transfuse.loader.GgufFile;
import io.transfuse.loader.ModelSource;
import io.transfuse.model.DecoderFamily;
import io.transfuse.model.DecoderLimits;
import io.transfuse.tokenizer.GgufTokenizers;
import io.transfuse.tokenizer.Tokenizer;

/** Registry entry: RWKV-6 "Finch" and RWKV-7 "Goose" language models, GGUF files ({@code general.architecture} rwkv6 / rwkv7). */
public final class RwkvFamily implements DecoderFamily {
    /** Tokens per forward pass: as Mamba's, an RWKV token's activations are small (no attention, no KV cache). */
    public static final int BATCH_TOKENS = 512;

    @Override
    public String name() { return "rwkv"; }

    @Override
    public boolean recognizes(ModelSource source) {
        return source.format() == ModelSource.Format.GGUF && RwkvConfig.versionOf(source.architecture()) != 0;
    }

    @Override
    public Parts load(ModelSource source, Backend backend, LoadOptions options) {
        GgufFile gguf = source.gguf();
        Tokenizer tokenizer = GgufTokenizers.load(gguf);
        int vocab = (int) gguf.tensor("token_embd.weight").dim(0);
        RwkvConfig config = RwkvConfig.read(gguf, vocab);
        RwkvWeights weights = RwkvWeights.from(gguf, config, source.arena());
        DecoderLimits limits = DecoderLimits.of(options, RwkvModel.DEFAULT_CONTEXT, BATCH_TOKENS);
        return new Parts(new RwkvModel(config, weights, backend, limits), tokenizer);
    }
}
