package io.transfuse.model.swin;

import io.transfuse.loader.WeightFile;
import io.transfuse.tensor.Tensor;

/**
 * The tensors of a Swin classifier in Hugging Face's names (transformers' modeling_swin), shape-checked against
 * the config: {@code swin.embeddings.patch_embeddings.projection} (a [C][3][p][p] convolution) and
 * {@code swin.embeddings.norm}; per stage N and block M {@code swin.encoder.layers.N.blocks.M.} layernorm_before,
 * attention.self.{query, key, value, relative_position_bias_table}, attention.output.dense, layernorm_after,
 * intermediate.dense, output.dense; {@code swin.encoder.layers.N.downsample.{reduction, norm}} closing every stage
 * but the last; {@code swin.layernorm} and {@code classifier}. Linear weights are [out][in].
 */
public record SwinWeights(Tensor patchWeight, Tensor patchBias, Tensor embedNormWeight, Tensor embedNormBias, Stage[] stages,
                          Tensor normWeight, Tensor normBias, Tensor classifierWeight, Tensor classifierBias) {

    /** A stage's blocks and the patch merging that ends it (null for the last stage). */
    public record Stage(Block[] blocks, Tensor mergeNormWeight, Tensor mergeNormBias, Tensor mergeReduction) {}

    /** One Swin block; the bias table is [(2 window - 1)^2][heads]. */
    public record Block(Tensor ln1Weight, Tensor ln1Bias, Tensor wq, Tensor bq, Tensor wk, Tensor bk, Tensor wv, Tensor bv,
                       Tensor biasTable, Tensor wo, Tensor bo, Tensor ln2Weight, Tensor ln2Bias, Tensor wUp, Tensor bUp,
                       Tensor wDown, Tensor bDown) {}

    public static SwinWeights from(WeightFile f, SwinConfig c) {
        int e = c.embedDim(), p = c.patchSize(), span = 2 * c.windowSize() - 1;
        Stage[] stages = new Stage[c.stages()];
        for (int s = 0; s < stages.length; s++) {
            int d = c.dim(s), heads = c.numHeads()[s], mlp = c.mlpDim(s);
            Block[] blocks = new Block[c.depths()[s]];
            for (int b = 0; b < blocks.length; b++) {
                String q = "swin.encoder.layers." + s + ".blocks." + b + ".", a = q + "attention.self.";
                blocks[b] = new Block(
                        f.tensor(q + "layernorm_before.weight", d), f.tensor(q + "layernorm_before.bias", d),
                        f.tensor(a + "query.weight", d, d), bias(f, a + "query.bias", d, c),
                        f.tensor(a + "key.weight", d, d), bias(f, a + "key.bias", d, c),
                        f.tensor(a + "value.weight", d, d), bias(f, a + "value.bias", d, c),
                        f.tensor(a + "relative_position_bias_table", (long) span * span, heads),
                        f.tensor(q + "attention.output.dense.weight", d, d), f.tensor(q + "attention.output.dense.bias", d),
                        f.tensor(q + "layernorm_after.weight", d), f.tensor(q + "layernorm_after.bias", d),
                        f.tensor(q + "intermediate.dense.weight", mlp, d), f.tensor(q + "intermediate.dense.bias", mlp),
                        f.tensor(q + "output.dense.weight", d, mlp), f.tensor(q + "output.dense.bias", d));
            }
            String m = "swin.encoder.layers." + s + ".downsample.";
            boolean last = s == stages.length - 1;
            stages[s] = last ? new Stage(blocks, null, null, null)
                    : new Stage(blocks, f.tensor(m + "norm.weight", 4L * d), f.tensor(m + "norm.bias", 4L * d),
                            f.tensor(m + "reduction.weight", 2L * d, 4L * d));
        }
        int k = c.labels().length, fin = c.finalDim();
        return new SwinWeights(
                f.tensor("swin.embeddings.patch_embeddings.projection.weight", e, c.channels(), p, p),
                f.tensor("swin.embeddings.patch_embeddings.projection.bias", e),
                f.tensor("swin.embeddings.norm.weight", e), f.tensor("swin.embeddings.norm.bias", e),
                stages, f.tensor("swin.layernorm.weight", fin), f.tensor("swin.layernorm.bias", fin),
                f.tensor("classifier.weight", k, fin), f.tensor("classifier.bias", k));
    }

    /** Q/K/V biases are absent when the config says qkv_bias = false. */
    private static Tensor bias(WeightFile f, String name, int d, SwinConfig c) {
        return c.qkvBias() ? f.tensor(name, d) : null;
    }
}
