package io.transfuse.bench;

import io.transfuse.model.Decoder;
import io.transfuse.model.gpt2.Gpt2Model;
import io.transfuse.model.llama.LlamaModel;
import io.transfuse.model.mamba.Mamba2Model;
import io.transfuse.model.mamba.MambaModel;

/**
 * The sizes a benchmark reports of a decoder, whatever its architecture: Llama-family and GPT-2 models have
 * attention heads; a Mamba (1 or 2) model has none (heads 0) and its mixer width stands where the FFN width stands.
 *
 * @param hidden FFN width (Llama, GPT-2) or mixer width d_inner (Mamba)
 */
public record DecoderShape(String architecture, int dim, int layers, int heads, int kvHeads, int hidden, int vocab) {

    /** The shape of {@code d}; an architecture this does not know is an error naming it. */
    public static DecoderShape of(Decoder d) {
        return switch (d) {
            case LlamaModel m -> new DecoderShape(m.config().variant().name().toLowerCase(java.util.Locale.ROOT), m.config().dim(),
                    m.config().layers(), m.config().heads(), m.config().kvHeads(), m.config().hiddenDim(), m.config().vocabSize());
            case Gpt2Model m -> new DecoderShape("gpt2", m.config().dim(), m.config().layers(), m.config().heads(), m.config().heads(),
                    m.config().ffn(), m.config().vocabSize());
            case MambaModel m -> new DecoderShape("mamba", m.config().dModel(), m.config().layers(), 0, 0, m.config().dInner(),
                    m.config().vocabSize());
            case Mamba2Model m -> new DecoderShape("mamba2", m.config().dModel(), m.config().layers(), 0, 0, m.config().dInner(),
                    m.config().vocabSize());
            // RWKV (issue 17): WKV heads stand where attention heads stand, the channel mix where the FFN does
            case io.transfuse.model.rwkv.RwkvModel m -> new DecoderShape("rwkv" + m.config().version(), m.config().dModel(),
                    m.config().layers(), m.config().heads(), m.config().heads(), m.config().ffn(), m.config().vocabSize());
            default -> throw new IllegalArgumentException("no benchmark shape for " + d.getClass().getSimpleName() + " (" + d.source() + ")");
        };
    }
}
