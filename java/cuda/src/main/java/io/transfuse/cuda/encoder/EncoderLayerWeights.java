package io.transfuse.cuda.encoder;

import io.transfuse.tensor.Tensor;

import java.util.Arrays;

/**
 * The host weights of one encoder layer, as a checkpoint stores them (any dtype the CPU backend can
 * widen: F32, F16, BF16, Q8_0, Q4_0): linear weights [out][in], biases and LayerNorm parameters [n].
 * Q/K/V/O act on the concatenated heads (width heads * headDim). {@code attnNorm} is the LayerNorm of
 * the attention block (BERT: after it, ViT: before it), {@code ffnNorm} that of the FFN block.
 *
 * <pre>
 *   Hugging Face BERT                         ViT
 *   attention.self.query/key/value            attention.attention.query/key/value   -> wq bq, wk bk, wv bv
 *   attention.output.dense                    attention.output.dense                -> wo bo
 *   attention.output.LayerNorm                layernorm_before                      -> attnNorm attnNormBias
 *   intermediate.dense                        intermediate.dense                    -> w1 b1
 *   output.dense                              output.dense                          -> w2 b2
 *   output.LayerNorm                          layernorm_after                       -> ffnNorm ffnNormBias
 * </pre>
 */
public record EncoderLayerWeights(Tensor wq, Tensor bq, Tensor wk, Tensor bk, Tensor wv, Tensor bv, Tensor wo, Tensor bo,
                                  Tensor attnNorm, Tensor attnNormBias, Tensor w1, Tensor b1, Tensor w2, Tensor b2,
                                  Tensor ffnNorm, Tensor ffnNormBias) {

    /** Checks every tensor against {@code c}, naming the first that does not fit. */
    void check(EncoderConfig c) {
        int dim = c.dim(), width = c.heads() * c.headDim(), ffn = c.ffn();
        shape(wq, "wq", width, dim);
        shape(bq, "bq", width);
        shape(wk, "wk", width, dim);
        shape(bk, "bk", width);
        shape(wv, "wv", width, dim);
        shape(bv, "bv", width);
        shape(wo, "wo", dim, width);
        shape(bo, "bo", dim);
        shape(attnNorm, "attnNorm", dim);
        shape(attnNormBias, "attnNormBias", dim);
        shape(w1, "w1", ffn, dim);
        shape(b1, "b1", ffn);
        shape(w2, "w2", dim, ffn);
        shape(b2, "b2", dim);
        shape(ffnNorm, "ffnNorm", dim);
        shape(ffnNormBias, "ffnNormBias", dim);
    }

    /** Whether {@code t} holds exactly the given shape (a [1][n] or [n][1] vector counts as [n]). */
    private static void shape(Tensor t, String role, long... want) {
        if (t == null) throw new IllegalArgumentException("encoder layer weight " + role + " is missing");
        long[] got = t.shape();
        boolean ok = Arrays.equals(got, want)
                || (want.length == 1 && got.length == 2 && t.elementCount() == want[0] && (got[0] == 1 || got[1] == 1));
        if (!ok) {
            throw new IllegalArgumentException("encoder layer weight " + role + " " + t.describe() + " should have shape "
                    + Arrays.toString(want));
        }
    }
}
