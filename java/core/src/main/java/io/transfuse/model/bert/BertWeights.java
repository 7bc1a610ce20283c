package io.transfuse.model.bert;

import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.WeightFile;
import io.transfuse.tensor.Tensor;

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
                    file.tensor(n + "attention.self.query.weight", h, h), file.tensor(n + "attention.self.query.bias", h),
                    file.tensor(n + "attention.self.key.weight", h, h), file.tensor(n + "attention.self.key.bias", h),
                    file.tensor(n + "attention.self.value.weight", h, h), file.tensor(n + "attention.self.value.bias", h),
                    file.tensor(n + "attention.output.dense.weight", h, h), file.tensor(n + "attention.output.dense.bias", h),
                    file.tensor(n + "attention.output.LayerNorm.weight", h), file.tensor(n + "attention.output.LayerNorm.bias", h),
                    file.tensor(n + "intermediate.dense.weight", in, h), file.tensor(n + "intermediate.dense.bias", in),
                    file.tensor(n + "output.dense.weight", h, in), file.tensor(n + "output.dense.bias", h),
                    file.tensor(n + "output.LayerNorm.weight", h), file.tensor(n + "output.LayerNorm.bias", h));
        }
        return new BertWeights(
                file.tensor(p + "embeddings.word_embeddings.weight", c.vocabSize(), h),
                file.tensor(p + "embeddings.position_embeddings.weight", c.maxPositions(), h),
                file.tensor(p + "embeddings.token_type_embeddings.weight", c.typeVocabSize(), h),
                file.tensor(p + "embeddings.LayerNorm.weight", h),
                file.tensor(p + "embeddings.LayerNorm.bias", h),
                layers);
    }
}
