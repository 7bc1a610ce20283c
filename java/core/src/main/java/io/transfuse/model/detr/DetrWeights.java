package io.transfuse.model.detr;

import io.transfuse.loader.WeightFile;
import io.transfuse.tensor.Tensor;

/**
 * The tensors of a DETR detector in Hugging Face's names (transformers' modeling_detr), shape-checked against the
 * config. The backbone lives under {@code model.backbone.conv_encoder.model.}: with timm's names (torchvision's
 * too) {@code conv1, bn1, layer{1-4}.B.conv{1-3}, bn{1-3}, downsample.{0,1}}; with HF's ResNetBackbone
 * ({@code use_timm_backbone} false) {@code embedder.embedder.{convolution, normalization}} and
 * {@code encoder.stages.S.layers.B.layer.K.*} / {@code .shortcut.*} ({@link #hfBackboneName} maps one to the
 * other). Every batch norm is frozen: weight, bias, running_mean, running_var. Then {@code model.input_projection}
 * (a 1x1 conv), {@code model.query_position_embeddings}, {@code model.encoder.layers.N.{self_attn.{q,k,v,out}_proj,
 * self_attn_layer_norm, fc1, fc2, final_layer_norm}}, {@code model.decoder.layers.N.} the same plus
 * {@code encoder_attn.*} and {@code encoder_attn_layer_norm}, {@code model.decoder.layernorm},
 * {@code class_labels_classifier} and {@code bbox_predictor.layers.{0,1,2}}. Linear weights are [out][in].
 */
public record DetrWeights(ConvBn stem, Bottleneck[][] stages, Tensor projection, Tensor projectionBias, Tensor queryPositions,
                          EncoderLayer[] encoder, DecoderLayer[] decoder, Tensor decoderNormWeight, Tensor decoderNormBias,
                          Tensor classWeight, Tensor classBias, Tensor[] boxWeights, Tensor[] boxBiases) {

    /** A convolution (OIHW, no bias) and the frozen batch norm after it. */
    public record ConvBn(Tensor conv, Tensor weight, Tensor bias, Tensor mean, Tensor variance) {}

    /** A bottleneck block: 1x1, 3x3 (carrying the stage's stride), 1x1, and the projection shortcut of a stage's first block (else null). */
    public record Bottleneck(ConvBn reduce, ConvBn spatial, ConvBn expand, ConvBn shortcut) {}

    /** Q, K, V and output projections with their biases. */
    public record Attention(Tensor wq, Tensor bq, Tensor wk, Tensor bk, Tensor wv, Tensor bv, Tensor wo, Tensor bo) {}

    public record EncoderLayer(Attention self, Tensor ln1Weight, Tensor ln1Bias, Tensor fc1, Tensor fc1Bias, Tensor fc2, Tensor fc2Bias,
                               Tensor ln2Weight, Tensor ln2Bias) {}

    public record DecoderLayer(Attention self, Tensor ln1Weight, Tensor ln1Bias, Attention cross, Tensor ln2Weight, Tensor ln2Bias,
                               Tensor fc1, Tensor fc1Bias, Tensor fc2, Tensor fc2Bias, Tensor ln3Weight, Tensor ln3Bias) {}

    public static final String BACKBONE = "model.backbone.conv_encoder.model.";

    public static DetrWeights from(WeightFile f, DetrConfig c) {
        boolean timm = c.timmBackbone();
        ConvBn stem = convBn(f, "conv1", "bn1", DetrConfig.STEM_WIDTH, 3, 7, timm);
        Bottleneck[][] stages = new Bottleneck[4][];
        int in = DetrConfig.STEM_WIDTH;
        for (int s = 0; s < 4; s++) {
            int out = DetrConfig.STAGE_WIDTHS[s], mid = out / 4;
            stages[s] = new Bottleneck[c.depths()[s]];
            for (int b = 0; b < stages[s].length; b++) {
                String p = "layer" + (s + 1) + "." + b + ".";
                stages[s][b] = new Bottleneck(
                        convBn(f, p + "conv1", p + "bn1", mid, in, 1, timm),
                        convBn(f, p + "conv2", p + "bn2", mid, mid, 3, timm),
                        convBn(f, p + "conv3", p + "bn3", out, mid, 1, timm),
                        b == 0 ? convBn(f, p + "downsample.0", p + "downsample.1", out, in, 1, timm) : null);
                in = out;
            }
        }
        int d = c.dModel();
        EncoderLayer[] enc = new EncoderLayer[c.encoderLayers()];
        for (int i = 0; i < enc.length; i++) {
            String p = "model.encoder.layers." + i + ".";
            enc[i] = new EncoderLayer(attention(f, p + "self_attn.", d),
                    f.tensor(p + "self_attn_layer_norm.weight", d), f.tensor(p + "self_attn_layer_norm.bias", d),
                    f.tensor(p + "fc1.weight", c.encoderFfn(), d), f.tensor(p + "fc1.bias", c.encoderFfn()),
                    f.tensor(p + "fc2.weight", d, c.encoderFfn()), f.tensor(p + "fc2.bias", d),
                    f.tensor(p + "final_layer_norm.weight", d), f.tensor(p + "final_layer_norm.bias", d));
        }
        DecoderLayer[] dec = new DecoderLayer[c.decoderLayers()];
        for (int i = 0; i < dec.length; i++) {
            String p = "model.decoder.layers." + i + ".";
            dec[i] = new DecoderLayer(attention(f, p + "self_attn.", d),
                    f.tensor(p + "self_attn_layer_norm.weight", d), f.tensor(p + "self_attn_layer_norm.bias", d),
                    attention(f, p + "encoder_attn.", d),
                    f.tensor(p + "encoder_attn_layer_norm.weight", d), f.tensor(p + "encoder_attn_layer_norm.bias", d),
                    f.tensor(p + "fc1.weight", c.decoderFfn(), d), f.tensor(p + "fc1.bias", c.decoderFfn()),
                    f.tensor(p + "fc2.weight", d, c.decoderFfn()), f.tensor(p + "fc2.bias", d),
                    f.tensor(p + "final_layer_norm.weight", d), f.tensor(p + "final_layer_norm.bias", d));
        }
        Tensor[] boxW = new Tensor[3], boxB = new Tensor[3];
        for (int i = 0; i < 3; i++) {
            int out = i == 2 ? 4 : d;
            boxW[i] = f.tensor("bbox_predictor.layers." + i + ".weight", out, d);
            boxB[i] = f.tensor("bbox_predictor.layers." + i + ".bias", out);
        }
        int last = DetrConfig.STAGE_WIDTHS[3];
        return new DetrWeights(stem, stages,
                f.tensor("model.input_projection.weight", d, last, 1, 1), f.tensor("model.input_projection.bias", d),
                f.tensor("model.query_position_embeddings.weight", c.numQueries(), d), enc, dec,
                f.tensor("model.decoder.layernorm.weight", d), f.tensor("model.decoder.layernorm.bias", d),
                f.tensor("class_labels_classifier.weight", c.classes(), d), f.tensor("class_labels_classifier.bias", c.classes()),
                boxW, boxB);
    }

    private static Attention attention(WeightFile f, String p, int d) {
        return new Attention(f.tensor(p + "q_proj.weight", d, d), f.tensor(p + "q_proj.bias", d),
                f.tensor(p + "k_proj.weight", d, d), f.tensor(p + "k_proj.bias", d),
                f.tensor(p + "v_proj.weight", d, d), f.tensor(p + "v_proj.bias", d),
                f.tensor(p + "out_proj.weight", d, d), f.tensor(p + "out_proj.bias", d));
    }

    /** A conv and its batch norm, by their timm names ("layer1.0.conv1", "layer1.0.bn1"), read under either naming. */
    private static ConvBn convBn(WeightFile f, String conv, String bn, int out, int in, int k, boolean timm) {
        String c = BACKBONE + (timm ? conv : hfBackboneName(conv)), n = BACKBONE + (timm ? bn : hfBackboneName(bn));
        return new ConvBn(f.tensor(c + ".weight", out, in, k, k), f.tensor(n + ".weight", out), f.tensor(n + ".bias", out),
                f.tensor(n + ".running_mean", out), f.tensor(n + ".running_var", out));
    }

    /**
     * HF ResNetBackbone's name for a timm/torchvision module path: conv1 / bn1 are the embedder's convolution /
     * normalization; layerL.B.convK / bnK are encoder.stages.(L-1).layers.B.layer.(K-1); layerL.B.downsample.0 / .1 the
     * shortcut's convolution / normalization.
     */
    public static String hfBackboneName(String timmName) {
        if (timmName.equals("conv1")) return "embedder.embedder.convolution";
        if (timmName.equals("bn1")) return "embedder.embedder.normalization";
        String[] p = timmName.split("\\.");
        if (p.length < 3 || !p[0].startsWith("layer")) throw new IllegalArgumentException("not a ResNet module path: " + timmName);
        String base = "encoder.stages." + (Integer.parseInt(p[0].substring(5)) - 1) + ".layers." + p[1] + ".";
        if (p[2].equals("downsample")) return base + "shortcut." + (p[3].equals("0") ? "convolution" : "normalization");
        int k = p[2].charAt(p[2].length() - 1) - '1';
        return base + "layer." + k + "." + (p[2].startsWith("conv") ? "convolution" : "normalization");
    }
}
