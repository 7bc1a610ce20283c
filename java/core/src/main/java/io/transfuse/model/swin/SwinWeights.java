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

    /**
     * One Swin block. V1: the bias table [(2 window - 1)^2][heads]. V2 (biasTable null): the logit scales [heads][1][1] and
     * the continuous position bias MLP (cpb1 [512][2] + cpb1Bias, ReLU, cpb2 [heads][512]); K has no bias (bk null).
     */
    public record Block(Tensor ln1Weight, Tensor ln1Bias, Tensor wq, Tensor bq, Tensor wk, Tensor bk, Tensor wv, Tensor bv,
                       Tensor biasTable, Tensor wo, Tensor bo, Tensor ln2Weight, Tensor ln2Bias, Tensor wUp, Tensor bUp,
                       Tensor wDown, Tensor bDown, Tensor logitScale, Tensor cpb1, Tensor cpb1Bias, Tensor cpb2) {}

    /** Hidden width of Swin-V2's continuous position bias MLP. */
    public static final int CPB_HIDDEN = 512;

    public static SwinWeights from(WeightFile f, SwinConfig c) {
        int e = c.embedDim(), p = c.patchSize();
        String pre = c.prefix() + ".";
        Stage[] stages = new Stage[c.stages()];
        for (int s = 0; s < stages.length; s++) {
            int d = c.dim(s), heads = c.numHeads()[s], mlp = c.mlpDim(s), span = 2 * c.stageWindow(s) - 1;
            Block[] blocks = new Block[c.depths()[s]];
            for (int b = 0; b < blocks.length; b++) {
                String q = pre + "encoder.layers." + s + ".blocks." + b + ".", a = q + "attention.self.";
                String cpb = a + "continuous_position_bias_mlp.";
                blocks[b] = new Block(
                        f.tensor(q + "layernorm_before.weight", d), f.tensor(q + "layernorm_before.bias", d),
                        f.tensor(a + "query.weight", d, d), bias(f, a + "query.bias", d, c),
                        f.tensor(a + "key.weight", d, d), c.v2() ? null : bias(f, a + "key.bias", d, c),
                        f.tensor(a + "value.weight", d, d), bias(f, a + "value.bias", d, c),
                        c.v2() ? null : f.tensor(a + "relative_position_bias_table", (long) span * span, heads),
                        f.tensor(q + "attention.output.dense.weight", d, d), f.tensor(q + "attention.output.dense.bias", d),
                        f.tensor(q + "layernorm_after.weight", d), f.tensor(q + "layernorm_after.bias", d),
                        f.tensor(q + "intermediate.dense.weight", mlp, d), f.tensor(q + "intermediate.dense.bias", mlp),
                        f.tensor(q + "output.dense.weight", d, mlp), f.tensor(q + "output.dense.bias", d),
                        c.v2() ? f.tensor(a + "logit_scale", heads, 1, 1) : null,
                        c.v2() ? f.tensor(cpb + "0.weight", CPB_HIDDEN, 2) : null,
                        c.v2() ? f.tensor(cpb + "0.bias", CPB_HIDDEN) : null,
                        c.v2() ? f.tensor(cpb + "2.weight", heads, CPB_HIDDEN) : null);
            }
            String m = pre + "encoder.layers." + s + ".downsample.";
            boolean last = s == stages.length - 1;
            long normDim = c.v2() ? 2L * d : 4L * d; // V2 normalises after the reduction
            stages[s] = last ? new Stage(blocks, null, null, null)
                    : new Stage(blocks, f.tensor(m + "norm.weight", normDim), f.tensor(m + "norm.bias", normDim),
                            f.tensor(m + "reduction.weight", 2L * d, 4L * d));
        }
        int k = c.labels().length, fin = c.finalDim();
        return new SwinWeights(
                f.tensor(pre + "embeddings.patch_embeddings.projection.weight", e, c.channels(), p, p),
                f.tensor(pre + "embeddings.patch_embeddings.projection.bias", e),
                f.tensor(pre + "embeddings.norm.weight", e), f.tensor(pre + "embeddings.norm.bias", e),
                stages, f.tensor(pre + "layernorm.weight", fin), f.tensor(pre + "layernorm.bias", fin),
                f.tensor("classifier.weight", k, fin), f.tensor("classifier.bias", k));
    }

    /** Q/K/V biases are absent when the config says qkv_bias = false. */
    private static Tensor bias(WeightFile f, String name, int d, SwinConfig c) {
        return c.qkvBias() ? f.tensor(name, d) : null;
    }
}
