package io.transfuse.model.vit;

import io.transfuse.loader.WeightFile;
import io.transfuse.tensor.Tensor;

/**
 * The tensors of a ViT/DeiT classifier in Hugging Face's names, shape-checked against the config.
 * Linear weights are [out][in]; the patch projection is a [hidden][channels][patch][patch] convolution.
 */
public record ViTWeights(Tensor clsToken, Tensor distillationToken, Tensor positions, Tensor patchWeight, Tensor patchBias,
                         Layer[] layers, Tensor normWeight, Tensor normBias, Head[] heads) {

    public record Layer(Tensor ln1Weight, Tensor ln1Bias, Tensor wq, Tensor bq, Tensor wk, Tensor bk, Tensor wv, Tensor bv,
                        Tensor wo, Tensor bo, Tensor ln2Weight, Tensor ln2Bias, Tensor wUp, Tensor bUp, Tensor wDown, Tensor bDown) {}

    /** A classifier head over the CLS (or distillation) token. */
    public record Head(Tensor weight, Tensor bias, int token) {}

    public static ViTWeights from(WeightFile f, ViTConfig c) {
        String p = c.prefix() + ".";
        int h = c.hidden(), n = c.gridSize() * c.gridSize() + c.prefixTokens();
        Tensor cls = f.tensor(p + "embeddings.cls_token", 1, 1, h);
        Tensor dist = c.distillation() ? f.tensor(p + "embeddings.distillation_token", 1, 1, h) : null;
        Tensor pos = f.tensor(p + "embeddings.position_embeddings", 1, n, h);
        Tensor pw = f.tensor(p + "embeddings.patch_embeddings.projection.weight", h, c.channels(), c.patchSize(), c.patchSize());
        Tensor pb = f.tensor(p + "embeddings.patch_embeddings.projection.bias", h);
        Layer[] layers = new Layer[c.layers()];
        for (int l = 0; l < layers.length; l++) {
            String q = p + "encoder.layer." + l + ".";
            String a = q + "attention.attention.";
            layers[l] = new Layer(
                    f.tensor(q + "layernorm_before.weight", h), f.tensor(q + "layernorm_before.bias", h),
                    f.tensor(a + "query.weight", h, h), bias(f, a + "query.bias", h, c),
                    f.tensor(a + "key.weight", h, h), bias(f, a + "key.bias", h, c),
                    f.tensor(a + "value.weight", h, h), bias(f, a + "value.bias", h, c),
                    f.tensor(q + "attention.output.dense.weight", h, h), f.tensor(q + "attention.output.dense.bias", h),
                    f.tensor(q + "layernorm_after.weight", h), f.tensor(q + "layernorm_after.bias", h),
                    f.tensor(q + "intermediate.dense.weight", c.intermediate(), h), f.tensor(q + "intermediate.dense.bias", c.intermediate()),
                    f.tensor(q + "output.dense.weight", h, c.intermediate()), f.tensor(q + "output.dense.bias", h));
        }
        int k = c.labels().length;
        Head[] heads = f.tensors().containsKey("cls_classifier.weight")
                ? new Head[] {
                        new Head(f.tensor("cls_classifier.weight", k, h), f.tensor("cls_classifier.bias", k), 0),
                        new Head(f.tensor("distillation_classifier.weight", k, h), f.tensor("distillation_classifier.bias", k), 1)}
                : new Head[] {new Head(f.tensor("classifier.weight", k, h), f.tensor("classifier.bias", k), 0)};
        return new ViTWeights(cls, dist, pos, pw, pb, layers, f.tensor(p + "layernorm.weight", h), f.tensor(p + "layernorm.bias", h), heads);
    }

    /** Q/K/V biases are absent when the config says qkv_bias = false. */
    private static Tensor bias(WeightFile f, String name, int h, ViTConfig c) {
        return c.qkvBias() ? f.tensor(name, h) : null;
    }
}
