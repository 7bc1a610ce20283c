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
        Tensor cls = shaped(f, p + "embeddings.cls_token", 1, 1, h);
        Tensor dist = c.distillation() ? shaped(f, p + "embeddings.distillation_token", 1, 1, h) : null;
        Tensor pos = shaped(f, p + "embeddings.position_embeddings", 1, n, h);
        Tensor pw = shaped(f, p + "embeddings.patch_embeddings.projection.weight", h, c.channels(), c.patchSize(), c.patchSize());
        Tensor pb = shaped(f, p + "embeddings.patch_embeddings.projection.bias", h);
        Layer[] layers = new Layer[c.layers()];
        for (int l = 0; l < layers.length; l++) {
            String q = p + "encoder.layer." + l + ".";
            String a = q + "attention.attention.";
            layers[l] = new Layer(
                    shaped(f, q + "layernorm_before.weight", h), shaped(f, q + "layernorm_before.bias", h),
                    shaped(f, a + "query.weight", h, h), bias(f, a + "query.bias", h, c),
                    shaped(f, a + "key.weight", h, h), bias(f, a + "key.bias", h, c),
                    shaped(f, a + "value.weight", h, h), bias(f, a + "value.bias", h, c),
                    shaped(f, q + "attention.output.dense.weight", h, h), shaped(f, q + "attention.output.dense.bias", h),
                    shaped(f, q + "layernorm_after.weight", h), shaped(f, q + "layernorm_after.bias", h),
                    shaped(f, q + "intermediate.dense.weight", c.intermediate(), h), shaped(f, q + "intermediate.dense.bias", c.intermediate()),
                    shaped(f, q + "output.dense.weight", h, c.intermediate()), shaped(f, q + "output.dense.bias", h));
        }
        int k = c.labels().length;
        Head[] heads = f.tensors().containsKey("cls_classifier.weight")
                ? new Head[] {
                        new Head(shaped(f, "cls_classifier.weight", k, h), shaped(f, "cls_classifier.bias", k), 0),
                        new Head(shaped(f, "distillation_classifier.weight", k, h), shaped(f, "distillation_classifier.bias", k), 1)}
                : new Head[] {new Head(shaped(f, "classifier.weight", k, h), shaped(f, "classifier.bias", k), 0)};
        return new ViTWeights(cls, dist, pos, pw, pb, layers, shaped(f, p + "layernorm.weight", h), shaped(f, p + "layernorm.bias", h), heads);
    }

    /** Q/K/V biases are absent when the config says qkv_bias = false. */
    private static Tensor bias(WeightFile f, String name, int h, ViTConfig c) {
        return c.qkvBias() ? shaped(f, name, h) : null;
    }

    private static Tensor shaped(WeightFile f, String name, long... shape) {
        return f.tensor(name, shape);
    }
}
