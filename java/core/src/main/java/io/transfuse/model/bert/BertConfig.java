package io.transfuse.model.bert;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.backend.Activation;
import io.transfuse.loader.Json;
import io.transfuse.loader.ModelFormatException;

import java.nio.file.Path;
import java.util.Set;

/**
 * Hyper-parameters of a BERT-family encoder. BERT, RoBERTa, XLM-RoBERTa, CamemBERT, MiniLM, BGE, E5,
 * DistilBERT, ALBERT and ELECTRA share one graph: word + position (+ token type) embeddings, a LayerNorm,
 * then post-LN transformer layers. They differ in config and tensor names only:
 * <ul>
 *   <li>RoBERTa/XLM-R/CamemBERT count positions from {@code pad_token_id + 1} ({@link #positionOffset});</li>
 *   <li>DistilBERT has no token types ({@code typeVocabSize} 0) and its own names ({@link Layout#DISTILBERT});</li>
 *   <li>ALBERT factorises the embeddings ({@link #embeddingSize} &lt; hidden, projected up by a linear map) and
 *       shares one layer's weights among {@code layers / layerGroups} consecutive layers;</li>
 *   <li>ELECTRA projects its embeddings up when {@code embedding_size != hidden_size}.</li>
 * </ul>
 *
 * @param positionOffset first position id: 0 for BERT; RoBERTa counts positions from
 *                       {@code pad_token_id + 1} (its position table keeps rows for the padding id)
 * @param typeVocabSize  rows of the token-type table, 0 when the model has none (DistilBERT)
 * @param layout         whose tensor names the checkpoint uses
 * @param embeddingSize  width of the embedding tables (= hidden unless factorised: ALBERT, small ELECTRAs)
 * @param layerGroups    distinct sets of layer weights (= layers, except ALBERT: num_hidden_groups)
 * @param activation     the feed-forward block's GELU (erf form "gelu" or tanh form "gelu_new")
 * @param source         where the config came from, named in errors
 */
public record BertConfig(String modelType, int vocabSize, int hidden, int layers, int heads, int intermediate,
                         int maxPositions, int typeVocabSize, float layerNormEps, int positionOffset, Layout layout,
                         int embeddingSize, int layerGroups, Activation activation, String source) {

    /** Tensor naming schemes. */
    public enum Layout { BERT, DISTILBERT, ALBERT, ELECTRA }

    public BertConfig {
        ModelFormatException.requirePositive(source, "'vocab_size'", vocabSize);
        ModelFormatException.requirePositive(source, "'hidden_size'", hidden);
        ModelFormatException.requirePositive(source, "'num_hidden_layers'", layers);
        ModelFormatException.requirePositive(source, "'num_attention_heads'", heads);
        ModelFormatException.requirePositive(source, "'intermediate_size'", intermediate);
        ModelFormatException.requirePositive(source, "'embedding_size'", embeddingSize);
        ModelFormatException.requirePositive(source, "'num_hidden_groups'", layerGroups);
        if (typeVocabSize < 0 || (typeVocabSize == 0 && layout != Layout.DISTILBERT)) {
            throw new ModelFormatException(source + ": 'type_vocab_size' must be positive, got " + typeVocabSize);
        }
        if (hidden % heads != 0) {
            throw new ModelFormatException(source + ": hidden_size " + hidden + " is not a multiple of num_attention_heads " + heads);
        }
        if (layers % layerGroups != 0) {
            throw new ModelFormatException(source + ": num_hidden_layers " + layers + " is not a multiple of num_hidden_groups " + layerGroups);
        }
        if (layerGroups != layers && layout != Layout.ALBERT) {
            throw new ModelFormatException(source + ": only ALBERT shares layer weights (" + layerGroups + " groups for " + layers + " layers)");
        }
        if (embeddingSize != hidden && layout != Layout.ALBERT && layout != Layout.ELECTRA) {
            throw new ModelFormatException(source + ": embedding_size " + embeddingSize + " differs from hidden_size " + hidden
                    + " but only ALBERT and ELECTRA project their embeddings");
        }
        if (positionOffset < 0 || maxPositions - positionOffset < 1) {
            throw new ModelFormatException(source + ": max_position_embeddings " + maxPositions
                    + " leaves no positions after the offset " + positionOffset);
        }
        if (!(layerNormEps > 0) || Float.isInfinite(layerNormEps)) {
            throw new ModelFormatException(source + ": layer_norm_eps must be a positive number, got " + layerNormEps);
        }
    }

    /** A plain BERT-layout config (BERT, RoBERTa: ONNX exports and conversions). */
    public BertConfig(String modelType, int vocabSize, int hidden, int layers, int heads, int intermediate,
                      int maxPositions, int typeVocabSize, float layerNormEps, int positionOffset, String source) {
        this(modelType, vocabSize, hidden, layers, heads, intermediate, maxPositions, typeVocabSize, layerNormEps, positionOffset,
                Layout.BERT, hidden, layers, Activation.GELU_ERF, source);
    }

    public int headDim() { return hidden / heads; }

    /** Longest token sequence the position table allows. */
    public int maxSequence() { return maxPositions - positionOffset; }

    /** Whether the embeddings are projected from {@link #embeddingSize} to {@link #hidden} before the first layer. */
    public boolean projectsEmbeddings() { return embeddingSize != hidden; }

    /** The config.json model_type values this graph reads. */
    public static final Set<String> MODEL_TYPES = Set.of("bert", "roberta", "xlm-roberta", "camembert", "distilbert", "albert", "electra");

    /** Reads a Hugging Face config.json of one of {@link #MODEL_TYPES} (or a BERT-layout model such as MiniLM). */
    public static BertConfig read(Path configJson) {
        return read(Json.read(configJson), configJson);
    }

    /** As {@link #read(Path)}, from the parsed config.json {@code c}. */
    public static BertConfig read(JsonNode c, Path configJson) {
        String type = c.path("model_type").asText("bert");
        if (type.equals("distilbert")) return readDistilBert(c, configJson);
        int offset = switch (type) {
            case "bert", "albert", "electra" -> 0;
            case "roberta", "xlm-roberta", "camembert" -> Json.optionalInt(c, "pad_token_id", 1, configJson) + 1;
            default -> throw new ModelFormatException(configJson + ": model_type '" + type
                    + "' is not a BERT-family encoder (" + String.join(", ", MODEL_TYPES.stream().sorted().toList()) + ")");
        };
        Layout layout = switch (type) {
            case "albert" -> Layout.ALBERT;
            case "electra" -> Layout.ELECTRA;
            default -> Layout.BERT;
        };
        String embType = c.path("position_embedding_type").asText("absolute");
        if (!embType.equals("absolute")) {
            throw new ModelFormatException(configJson + ": position_embedding_type '" + embType + "' is not supported (absolute)");
        }
        int vocab = Json.requireInt(c, "vocab_size", configJson);
        int hidden = Json.requireInt(c, "hidden_size", configJson), layers = Json.requireInt(c, "num_hidden_layers", configJson);
        int groups = layers;
        if (layout == Layout.ALBERT) {
            groups = Json.optionalInt(c, "num_hidden_groups", 1, configJson);
            int inner = Json.optionalInt(c, "inner_group_num", 1, configJson);
            if (inner != 1) throw new ModelFormatException(configJson + ": inner_group_num " + inner + " is not supported (1)");
        }
        // ALBERT's and ELECTRA's configs default embedding_size to 128 (transformers' AlbertConfig, ElectraConfig).
        int embedding = layout == Layout.BERT ? hidden : Json.optionalInt(c, "embedding_size", 128, configJson);
        return new BertConfig(type, vocab, hidden, layers,
                Json.requireInt(c, "num_attention_heads", configJson),
                Json.requireInt(c, "intermediate_size", configJson),
                Json.requireInt(c, "max_position_embeddings", configJson),
                Json.optionalInt(c, "type_vocab_size", 2, configJson),
                (float) Json.optionalNumber(c, "layer_norm_eps", 1e-12, configJson),
                offset, layout, embedding, groups,
                activation(c.path("hidden_act").asText(layout == Layout.ALBERT ? "gelu_new" : "gelu"), "hidden_act", configJson),
                configJson.toString());
    }

    /** DistilBERT's config.json names its sizes differently (dim, n_layers, n_heads, hidden_dim) and has no token types. */
    private static BertConfig readDistilBert(JsonNode c, Path configJson) {
        int dim = Json.requireInt(c, "dim", configJson), layers = Json.requireInt(c, "n_layers", configJson);
        return new BertConfig("distilbert",
                Json.requireInt(c, "vocab_size", configJson), dim, layers,
                Json.requireInt(c, "n_heads", configJson),
                Json.requireInt(c, "hidden_dim", configJson),
                Json.requireInt(c, "max_position_embeddings", configJson),
                0, 1e-12f, 0, Layout.DISTILBERT, dim, layers,
                activation(c.path("activation").asText("gelu"), "activation", configJson), configJson.toString());
    }

    private static Activation activation(String name, String key, Path configJson) {
        return switch (name) {
            case "gelu" -> Activation.GELU_ERF;
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> Activation.GELU_TANH;
            default -> throw new ModelFormatException(configJson + ": " + key + " '" + name
                    + "' is not supported (gelu, gelu_new, gelu_pytorch_tanh, gelu_fast)");
        };
    }

    /** The config.json a Hugging Face BertModel would carry (used when converting other formats). */
    public String toJson() {
        if (layout != Layout.BERT) throw new IllegalStateException(source + ": only BERT-layout configs are written (" + layout + ")");
        return """
                {
                  "architectures": ["BertModel"],
                  "model_type": "%s",
                  "vocab_size": %d,
                  "hidden_size": %d,
                  "num_hidden_layers": %d,
                  "num_attention_heads": %d,
                  "intermediate_size": %d,
                  "max_position_embeddings": %d,
                  "type_vocab_size": %d,
                  "layer_norm_eps": %s,
                  "hidden_act": "gelu",
                  "position_embedding_type": "absolute"%s
                }
                """.formatted(modelType, vocabSize, hidden, layers, heads, intermediate, maxPositions, typeVocabSize,
                Float.toString(layerNormEps).replace("E", "e"),
                positionOffset > 0 ? ",\n  \"pad_token_id\": " + (positionOffset - 1) : "");
    }
}
