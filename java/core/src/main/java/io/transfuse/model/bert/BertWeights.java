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
                case BERT, ELECTRA -> layer(file, p + LAYER.formatted(l), c, BERT_NAMES);
                case DISTILBERT -> layer(file, p + "transformer.layer." + l + ".", c, DISTILBERT_NAMES);
                case ALBERT -> layer(file, p + "encoder.albert_layer_groups." + (l / perGroup) + ".albert_layers.0.", c, ALBERT_NAMES);
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

    /**
     * One layout's names for a layer's eight weight/bias pairs, in {@link Layer}'s order: query, key, value, attention
     * output, attention LayerNorm, FFN in, FFN out, output LayerNorm.
     */
    private record LayerNames(String q, String k, String v, String o, String ln1, String ffnIn, String ffnOut, String ln2) { }

    private static final LayerNames BERT_NAMES = new LayerNames("attention.self.query", "attention.self.key", "attention.self.value",
            "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm");
    /** DistilBERT's TransformerBlock (post-LN as BERT). */
    private static final LayerNames DISTILBERT_NAMES = new LayerNames("attention.q_lin", "attention.k_lin", "attention.v_lin",
            "attention.out_lin", "sa_layer_norm", "ffn.lin1", "ffn.lin2", "output_layer_norm");
    /** ALBERT's AlbertLayer. */
    private static final LayerNames ALBERT_NAMES = new LayerNames("attention.query", "attention.key", "attention.value",
            "attention.dense", "attention.LayerNorm", "ffn", "ffn_output", "full_layer_layer_norm");

    private static Layer layer(WeightFile file, String n, BertConfig c, LayerNames t) {
        int h = c.hidden(), in = c.intermediate();
        return new Layer(
                file.tensor(n + t.q() + ".weight", h, h), file.tensor(n + t.q() + ".bias", h),
                file.tensor(n + t.k() + ".weight", h, h), file.tensor(n + t.k() + ".bias", h),
                file.tensor(n + t.v() + ".weight", h, h), file.tensor(n + t.v() + ".bias", h),
                file.tensor(n + t.o() + ".weight", h, h), file.tensor(n + t.o() + ".bias", h),
                file.tensor(n + t.ln1() + ".weight", h), file.tensor(n + t.ln1() + ".bias", h),
                file.tensor(n + t.ffnIn() + ".weight", in, h), file.tensor(n + t.ffnIn() + ".bias", in),
                file.tensor(n + t.ffnOut() + ".weight", h, in), file.tensor(n + t.ffnOut() + ".bias", h),
                file.tensor(n + t.ln2() + ".weight", h), file.tensor(n + t.ln2() + ".bias", h));
    }
}
