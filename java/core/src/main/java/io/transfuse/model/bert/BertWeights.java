package io.transfuse.model.bert;

import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.WeightFile;
import io.transfuse.tensor.Tensor;

import java.util.Arrays;
import java.util.List;

/**
 * The tensors of a BERT-family encoder under their Hugging Face names, shape-checked against the
 * config. Views into the weight file (nothing is copied here).
 */
public record BertWeights(Tensor wordEmbeddings, Tensor positionEmbeddings, Tensor tokenTypeEmbeddings,
                          Tensor embeddingNormWeight, Tensor embeddingNormBias, Layer[] layers) {

    /** One post-LN transformer block. Linear weights are [out][in]. */
    public record Layer(Tensor query, Tensor queryBias, Tensor key, Tensor keyBias, Tensor value, Tensor valueBias,
                        Tensor attentionOutput, Tensor attentionOutputBias, Tensor attentionNormWeight, Tensor attentionNormBias,
                        Tensor intermediate, Tensor intermediateBias, Tensor output, Tensor outputBias,
                        Tensor outputNormWeight, Tensor outputNormBias) {}

    /** Prefixes under which checkpoints store the encoder (BertModel: none; BertFor* / RobertaFor*: "bert." / "roberta."). */
    public static final List<String> PREFIXES = List.of("", "bert.", "roberta.");

    /** HF names of one layer's tensors, {@code %d} for the layer index. */
    public static final String LAYER = "encoder.layer.%d.";

    public static BertWeights from(WeightFile file, BertConfig c) {
        String p = PREFIXES.stream().filter(x -> file.tensors().containsKey(x + "embeddings.word_embeddings.weight")).findFirst()
                .orElseThrow(() -> new ModelFormatException(file.path() + ": tensor 'embeddings.word_embeddings.weight' is missing"
                        + " (also looked for it under the prefixes 'bert.' and 'roberta.')"));
        int h = c.hidden(), in = c.intermediate();
        Layer[] layers = new Layer[c.layers()];
        for (int l = 0; l < layers.length; l++) {
            String n = p + LAYER.formatted(l);
            layers[l] = new Layer(
                    shaped(file, n + "attention.self.query.weight", h, h), shaped(file, n + "attention.self.query.bias", h),
                    shaped(file, n + "attention.self.key.weight", h, h), shaped(file, n + "attention.self.key.bias", h),
                    shaped(file, n + "attention.self.value.weight", h, h), shaped(file, n + "attention.self.value.bias", h),
                    shaped(file, n + "attention.output.dense.weight", h, h), shaped(file, n + "attention.output.dense.bias", h),
                    shaped(file, n + "attention.output.LayerNorm.weight", h), shaped(file, n + "attention.output.LayerNorm.bias", h),
                    shaped(file, n + "intermediate.dense.weight", in, h), shaped(file, n + "intermediate.dense.bias", in),
                    shaped(file, n + "output.dense.weight", h, in), shaped(file, n + "output.dense.bias", h),
                    shaped(file, n + "output.LayerNorm.weight", h), shaped(file, n + "output.LayerNorm.bias", h));
        }
        return new BertWeights(
                shaped(file, p + "embeddings.word_embeddings.weight", c.vocabSize(), h),
                shaped(file, p + "embeddings.position_embeddings.weight", c.maxPositions(), h),
                shaped(file, p + "embeddings.token_type_embeddings.weight", c.typeVocabSize(), h),
                shaped(file, p + "embeddings.LayerNorm.weight", h),
                shaped(file, p + "embeddings.LayerNorm.bias", h),
                layers);
    }

    private static Tensor shaped(WeightFile file, String name, long... expected) {
        Tensor t = file.tensor(name);
        if (!Arrays.equals(t.shape(), expected)) {
            throw new ModelFormatException(file.path() + ": tensor '" + name + "' has shape " + Arrays.toString(t.shape())
                    + " but the model config implies " + Arrays.toString(expected));
        }
        return t;
    }
}
