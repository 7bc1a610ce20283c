package io.transfuse.model.bert;

import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.WeightFile;
import io.transfuse.tensor.Tensor;

import java.util.List;

/**
 * The tensors of a BERT-family encoder under their Hugging Face names, shape-checked against the
 * config. Views into the weight file (nothing is copied here). The embedding tables are
 * [rows][embeddingSize]; {@code projection} maps them to the hidden size (ALBERT, small ELECTRAs; null
 * otherwise); {@code tokenTypeEmbeddings} is null for DistilBERT. ALBERT's layers that share weights are
 * the same {@link Layer} object.
 */
public record BertWeights(Tensor wordEmbeddings, Tensor positionEmbeddings, Tensor tokenTypeEmbeddings,
                          Tensor embeddingNormWeight, Tensor embeddingNormBias, Tensor projection, Tensor projectionBias,
                          Layer[] layers, String prefix) {

    /** One post-LN transformer block. Linear weights are [out][in]. */
    public record Layer(Tensor query, Tensor queryBias, Tensor key, Tensor keyBias, Tensor value, Tensor valueBias,
                        Tensor attentionOutput, Tensor attentionOutputBias, Tensor attentionNormWeight, Tensor attentionNormBias,
                        Tensor intermediate, Tensor intermediateBias, Tensor output, Tensor outputBias,
                        Tensor outputNormWeight, Tensor outputNormBias) {}

    /** Prefixes under which checkpoints store the encoder (BertModel: none; BertFor* / RobertaFor*: "bert." / "roberta."). */
    public static final List<String> PREFIXES = List.of("", "bert.", "roberta.");

    /** HF names of one layer's tensors, {@code %d} for the layer index. */
    public static final String LAYER = "encoder.layer.%d.";

    /** The prefixes a layout's checkpoints use (task models nest the encoder under the model type's name). */
    static List<String> prefixes(BertConfig.Layout layout) {
        return switch (layout) {
            case BERT -> PREFIXES;
            case DISTILBERT -> List.of("", "distilbert.");
            case ALBERT -> List.of("", "albert.");
            case ELECTRA -> List.of("", "electra.");
        };
    }

    public static BertWeights from(WeightFile file, BertConfig c) {
        List<String> prefixes = prefixes(c.layout());
        String p = prefixes.stream().filter(x -> file.tensors().containsKey(x + "embeddings.word_embeddings.weight")).findFirst()
                .orElseThrow(() -> new ModelFormatException(file.path() + ": tensor 'embeddings.word_embeddings.weight' is missing"
                        + " (also looked for it under the prefixes " + String.join(", ", prefixes.subList(1, prefixes.size()).stream()
                        .map(x -> "'" + x + "'").toList()) + ")"));
        int h = c.hidden(), e = c.embeddingSize();
        Layer[] layers = new Layer[c.layers()];
        int perGroup = c.layers() / c.layerGroups();
        for (int l = 0; l < layers.length; l++) {
            if (l % perGroup != 0) {
                layers[l] = layers[l - 1]; // ALBERT: layer l runs group l / perGroup's weights
                continue;
            }
            layers[l] = switch (c.layout()) {
                case BERT, ELECTRA -> bertLayer(file, p + LAYER.formatted(l), c);
                case DISTILBERT -> distilBertLayer(file, p + "transformer.layer." + l + ".", c);
                case ALBERT -> albertLayer(file, p + "encoder.albert_layer_groups." + (l / perGroup) + ".albert_layers.0.", c);
            };
        }
        Tensor projection = null, projectionBias = null;
        if (c.projectsEmbeddings()) {
            String name = p + (c.layout() == BertConfig.Layout.ALBERT ? "encoder.embedding_hidden_mapping_in" : "embeddings_project");
            projection = file.tensor(name + ".weight", h, e);
            projectionBias = file.tensor(name + ".bias", h);
        }
        return new BertWeights(
                file.tensor(p + "embeddings.word_embeddings.weight", c.vocabSize(), e),
                file.tensor(p + "embeddings.position_embeddings.weight", c.maxPositions(), e),
                c.typeVocabSize() == 0 ? null : file.tensor(p + "embeddings.token_type_embeddings.weight", c.typeVocabSize(), e),
                file.tensor(p + "embeddings.LayerNorm.weight", e),
                file.tensor(p + "embeddings.LayerNorm.bias", e),
                projection, projectionBias, layers, p);
    }

    private static Layer bertLayer(WeightFile file, String n, BertConfig c) {
        int h = c.hidden(), in = c.intermediate();
        return new Layer(
                file.tensor(n + "attention.self.query.weight", h, h), file.tensor(n + "attention.self.query.bias", h),
                file.tensor(n + "attention.self.key.weight", h, h), file.tensor(n + "attention.self.key.bias", h),
                file.tensor(n + "attention.self.value.weight", h, h), file.tensor(n + "attention.self.value.bias", h),
                file.tensor(n + "attention.output.dense.weight", h, h), file.tensor(n + "attention.output.dense.bias", h),
                file.tensor(n + "attention.output.LayerNorm.weight", h), file.tensor(n + "attention.output.LayerNorm.bias", h),
                file.tensor(n + "intermediate.dense.weight", in, h), file.tensor(n + "intermediate.dense.bias", in),
                file.tensor(n + "output.dense.weight", h, in), file.tensor(n + "output.dense.bias", h),
                file.tensor(n + "output.LayerNorm.weight", h), file.tensor(n + "output.LayerNorm.bias", h));
    }

    /** DistilBERT's TransformerBlock: q_lin/k_lin/v_lin/out_lin, sa_layer_norm, ffn.lin1/lin2, output_layer_norm (post-LN as BERT). */
    private static Layer distilBertLayer(WeightFile file, String n, BertConfig c) {
        int h = c.hidden(), in = c.intermediate();
        return new Layer(
                file.tensor(n + "attention.q_lin.weight", h, h), file.tensor(n + "attention.q_lin.bias", h),
                file.tensor(n + "attention.k_lin.weight", h, h), file.tensor(n + "attention.k_lin.bias", h),
                file.tensor(n + "attention.v_lin.weight", h, h), file.tensor(n + "attention.v_lin.bias", h),
                file.tensor(n + "attention.out_lin.weight", h, h), file.tensor(n + "attention.out_lin.bias", h),
                file.tensor(n + "sa_layer_norm.weight", h), file.tensor(n + "sa_layer_norm.bias", h),
                file.tensor(n + "ffn.lin1.weight", in, h), file.tensor(n + "ffn.lin1.bias", in),
                file.tensor(n + "ffn.lin2.weight", h, in), file.tensor(n + "ffn.lin2.bias", h),
                file.tensor(n + "output_layer_norm.weight", h), file.tensor(n + "output_layer_norm.bias", h));
    }

    /** ALBERT's AlbertLayer: attention.{query,key,value,dense,LayerNorm}, ffn, ffn_output, full_layer_layer_norm. */
    private static Layer albertLayer(WeightFile file, String n, BertConfig c) {
        int h = c.hidden(), in = c.intermediate();
        return new Layer(
                file.tensor(n + "attention.query.weight", h, h), file.tensor(n + "attention.query.bias", h),
                file.tensor(n + "attention.key.weight", h, h), file.tensor(n + "attention.key.bias", h),
                file.tensor(n + "attention.value.weight", h, h), file.tensor(n + "attention.value.bias", h),
                file.tensor(n + "attention.dense.weight", h, h), file.tensor(n + "attention.dense.bias", h),
                file.tensor(n + "attention.LayerNorm.weight", h), file.tensor(n + "attention.LayerNorm.bias", h),
                file.tensor(n + "ffn.weight", in, h), file.tensor(n + "ffn.bias", in),
                file.tensor(n + "ffn_output.weight", h, in), file.tensor(n + "ffn_output.bias", h),
                file.tensor(n + "full_layer_layer_norm.weight", h), file.tensor(n + "full_layer_layer_norm.bias", h));
    }
}
