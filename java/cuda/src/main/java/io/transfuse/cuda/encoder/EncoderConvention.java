package io.transfuse.cuda.encoder;

/** Where a transformer encoder layer puts its LayerNorms (x is the residual stream). */
public enum EncoderConvention {
    /**
     * BERT (post-LN): {@code x = LN1(x + attn(x)); x = LN2(x + ffn(x))}; the layer's output is normalised.
     * LN1 is Hugging Face's {@code attention.output.LayerNorm}, LN2 {@code output.LayerNorm}.
     */
    POST_LN,
    /**
     * ViT (pre-LN): {@code x = x + attn(LN1(x)); x = x + ffn(LN2(x))}; the stream is never normalised
     * (the model applies a final LayerNorm). LN1 is {@code layernorm_before}, LN2 {@code layernorm_after}.
     */
    PRE_LN
}
