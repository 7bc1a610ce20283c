package io.transfuse.model.seq2seq;

import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.WeightFile;
import io.transfuse.model.seq2seq.Seq2SeqConfig.Flavour;
import io.transfuse.tensor.Tensor;

/**
 * The tensors of an encoder-decoder model under their Hugging Face names, shape-checked against the config (a
 * missing or misshapen tensor is one line naming it). Views into the weight file; nothing is copied. Linear weights
 * are [out][in]; biases are null where the layout has none (T5 has no biases at all).
 *
 * <p>T5: {@code shared}, {@code encoder.block.N.layer.0.SelfAttention.{q,k,v,o}} (block 0 also
 * {@code relative_attention_bias} [buckets][heads]), {@code layer.0.layer_norm}, {@code layer.1.DenseReluDense.{wi | wi_0,
 * wi_1, wo}}, {@code layer.1.layer_norm}, {@code encoder.final_layer_norm}; the decoder likewise with
 * {@code layer.1.EncDecAttention} and the FFN in {@code layer.2}; {@code lm_head} when not tied.
 * BART/Marian: {@code model.shared}, {@code model.{encoder,decoder}.embed_positions} (BART; Marian's sinusoidal table is
 * computed), {@code layernorm_embedding} (BART), {@code layers.N.self_attn.{q,k,v,out}_proj}, {@code self_attn_layer_norm},
 * decoder {@code encoder_attn} + {@code encoder_attn_layer_norm}, {@code fc1}, {@code fc2}, {@code final_layer_norm};
 * {@code lm_head} (else the shared table) and {@code final_logits_bias} [1][vocab].
 */
public record Seq2SeqWeights(Tensor embedding, Tensor encoderPositions, Tensor decoderPositions, Norm encoderEmbeddingNorm,
                             Norm decoderEmbeddingNorm, Tensor encoderRelativeBias, Tensor decoderRelativeBias, Layer[] encoder,
                             Layer[] decoder, Norm encoderFinalNorm, Norm decoderFinalNorm, Tensor lmHead, Tensor finalLogitsBias) {

    public record Attention(Tensor wq, Tensor bq, Tensor wk, Tensor bk, Tensor wv, Tensor bv, Tensor wo, Tensor bo) {}

    /** {@code up} is wi (T5), wi_0 (T5 gated: the activated half) or fc1; {@code gate} is T5's wi_1 or null. */
    public record Ffn(Tensor up, Tensor upBias, Tensor gate, Tensor down, Tensor downBias) {}

    public record Norm(Tensor weight, Tensor bias) {}

    /** One block; {@code cross} and {@code crossNorm} are null in the encoder. */
    public record Layer(Attention self, Norm selfNorm, Attention cross, Norm crossNorm, Ffn ffn, Norm ffnNorm) {}

    public static Seq2SeqWeights from(WeightFile f, Seq2SeqConfig c) {
        return c.flavour() == Flavour.T5 ? t5(f, c) : bart(f, c);
    }

    private static Seq2SeqWeights t5(WeightFile f, Seq2SeqConfig c) {
        int d = c.dim(), inner = c.inner(), V = c.vocab();
        Tensor shared = f.tensors().containsKey("shared.weight") ? f.tensor("shared.weight", V, d)
                : f.tensor("encoder.embed_tokens.weight", V, d);
        Layer[] enc = new Layer[c.encoderLayers()], dec = new Layer[c.decoderLayers()];
        for (int l = 0; l < enc.length; l++) {
            String p = "encoder.block." + l + ".layer.";
            enc[l] = new Layer(t5Attention(f, p + "0.SelfAttention.", d, inner), rms(f, p + "0.layer_norm.weight", d), null, null,
                    t5Ffn(f, p + "1.DenseReluDense.", c, c.encoderFfn()), rms(f, p + "1.layer_norm.weight", d));
        }
        for (int l = 0; l < dec.length; l++) {
            String p = "decoder.block." + l + ".layer.";
            dec[l] = new Layer(t5Attention(f, p + "0.SelfAttention.", d, inner), rms(f, p + "0.layer_norm.weight", d),
                    t5Attention(f, p + "1.EncDecAttention.", d, inner), rms(f, p + "1.layer_norm.weight", d),
                    t5Ffn(f, p + "2.DenseReluDense.", c, c.decoderFfn()), rms(f, p + "2.layer_norm.weight", d));
        }
        Tensor encBias = f.tensor("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", c.buckets(), c.heads());
        Tensor decBias = f.tensor("decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", c.buckets(), c.heads());
        Tensor head = c.tied() ? shared : f.tensor("lm_head.weight", V, d);
        return new Seq2SeqWeights(shared, null, null, null, null, encBias, decBias, enc, dec, rms(f, "encoder.final_layer_norm.weight", d),
                rms(f, "decoder.final_layer_norm.weight", d), head, null);
    }

    private static Attention t5Attention(WeightFile f, String p, int d, int inner) {
        return new Attention(f.tensor(p + "q.weight", inner, d), null, f.tensor(p + "k.weight", inner, d), null,
                f.tensor(p + "v.weight", inner, d), null, f.tensor(p + "o.weight", d, inner), null);
    }

    private static Ffn t5Ffn(WeightFile f, String p, Seq2SeqConfig c, int ff) {
        int d = c.dim();
        if (c.gated()) {
            return new Ffn(f.tensor(p + "wi_0.weight", ff, d), null, f.tensor(p + "wi_1.weight", ff, d), f.tensor(p + "wo.weight", d, ff), null);
        }
        if (f.tensors().containsKey(p + "wi_0.weight")) {
            throw new ModelFormatException(f.path() + ": tensor '" + p + "wi_0.weight' is a gated FFN but config.json's feed_forward_proj "
                    + "is not gated-*");
        }
        return new Ffn(f.tensor(p + "wi.weight", ff, d), null, null, f.tensor(p + "wo.weight", d, ff), null);
    }

    private static Norm rms(WeightFile f, String name, int d) {
        return new Norm(f.tensor(name, d), null);
    }

    private static Seq2SeqWeights bart(WeightFile f, Seq2SeqConfig c) {
        int d = c.dim(), V = c.vocab();
        String m = f.tensors().containsKey("model.shared.weight") || f.tensors().containsKey("model.encoder.embed_tokens.weight") ? "model." : "";
        Tensor shared = f.tensors().containsKey(m + "shared.weight") ? f.tensor(m + "shared.weight", V, d)
                : f.tensor(m + "encoder.embed_tokens.weight", V, d);
        boolean bart = c.flavour() == Flavour.BART;
        Tensor encPos = bart ? f.tensor(m + "encoder.embed_positions.weight", c.maxPositions() + 2, d) : null;
        Tensor decPos = bart ? f.tensor(m + "decoder.embed_positions.weight", c.maxPositions() + 2, d) : null;
        Norm encEmb = bart ? ln(f, m + "encoder.layernorm_embedding.", d) : null;
        Norm decEmb = bart ? ln(f, m + "decoder.layernorm_embedding.", d) : null;
        Layer[] enc = new Layer[c.encoderLayers()], dec = new Layer[c.decoderLayers()];
        for (int l = 0; l < enc.length; l++) {
            String p = m + "encoder.layers." + l + ".";
            enc[l] = new Layer(bartAttention(f, p + "self_attn.", d), ln(f, p + "self_attn_layer_norm.", d), null, null,
                    bartFfn(f, p, d, c.encoderFfn()), ln(f, p + "final_layer_norm.", d));
        }
        for (int l = 0; l < dec.length; l++) {
            String p = m + "decoder.layers." + l + ".";
            dec[l] = new Layer(bartAttention(f, p + "self_attn.", d), ln(f, p + "self_attn_layer_norm.", d),
                    bartAttention(f, p + "encoder_attn.", d), ln(f, p + "encoder_attn_layer_norm.", d),
                    bartFfn(f, p, d, c.decoderFfn()), ln(f, p + "final_layer_norm.", d));
        }
        Tensor head = f.tensors().containsKey("lm_head.weight") ? f.tensor("lm_head.weight", V, d) : shared;
        Tensor bias = f.tensors().containsKey("final_logits_bias") ? f.tensor("final_logits_bias", 1, V) : null;
        return new Seq2SeqWeights(shared, encPos, decPos, encEmb, decEmb, null, null, enc, dec, null, null, head, bias);
    }

    private static Attention bartAttention(WeightFile f, String p, int d) {
        return new Attention(f.tensor(p + "q_proj.weight", d, d), f.tensor(p + "q_proj.bias", d), f.tensor(p + "k_proj.weight", d, d),
                f.tensor(p + "k_proj.bias", d), f.tensor(p + "v_proj.weight", d, d), f.tensor(p + "v_proj.bias", d),
                f.tensor(p + "out_proj.weight", d, d), f.tensor(p + "out_proj.bias", d));
    }

    private static Ffn bartFfn(WeightFile f, String p, int d, int ff) {
        return new Ffn(f.tensor(p + "fc1.weight", ff, d), f.tensor(p + "fc1.bias", ff), null, f.tensor(p + "fc2.weight", d, ff),
                f.tensor(p + "fc2.bias", d));
    }

    private static Norm ln(WeightFile f, String p, int d) {
        return new Norm(f.tensor(p + "weight", d), f.tensor(p + "bias", d));
    }
}
