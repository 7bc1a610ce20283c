package io.transfuse.model.bert;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.loader.Json;
import io.transfuse.loader.ModelFormatException;

import java.nio.file.Path;
import java.util.Set;

/**
 * Hyper-parameters of a BERT-family encoder (BERT, RoBERTa, XLM-RoBERTa, MiniLM, BGE, E5: they
 * share one layout and differ in config only).
 *
 * @param positionOffset first position id: 0 for BERT; RoBERTa counts positions from
 *                       {@code pad_token_id + 1} (its position table keeps rows for the padding id)
 * @param source         where the config came from, named in errors
 */
public record BertConfig(String modelType, int vocabSize, int hidden, int layers, int heads, int intermediate,
                         int maxPositions, int typeVocabSize, float layerNormEps, int positionOffset, String source) {

    public BertConfig {
        ModelFormatException.requirePositive(source, "'vocab_size'", vocabSize);
        ModelFormatException.requirePositive(source, "'hidden_size'", hidden);
        ModelFormatException.requirePositive(source, "'num_hidden_layers'", layers);
        ModelFormatException.requirePositive(source, "'num_attention_heads'", heads);
        ModelFormatException.requirePositive(source, "'intermediate_size'", intermediate);
        ModelFormatException.requirePositive(source, "'type_vocab_size'", typeVocabSize);
        if (hidden % heads != 0) {
            throw new ModelFormatException(source + ": hidden_size " + hidden + " is not a multiple of num_attention_heads " + heads);
        }
        if (positionOffset < 0 || maxPositions - positionOffset < 1) {
            throw new ModelFormatException(source + ": max_position_embeddings " + maxPositions
                    + " leaves no positions after the offset " + positionOffset);
        }
        if (!(layerNormEps > 0) || Float.isInfinite(layerNormEps)) {
            throw new ModelFormatException(source + ": layer_norm_eps must be a positive number, got " + layerNormEps);
        }
    }

    public int headDim() { return hidden / heads; }

    /** Longest token sequence the position table allows. */
    public int maxSequence() { return maxPositions - positionOffset; }

    /** The config.json model_type values this graph reads. */
    public static final Set<String> MODEL_TYPES = Set.of("bert", "roberta", "xlm-roberta", "camembert");

    /** Reads a Hugging Face config.json of model_type bert, roberta, xlm-roberta (or a BERT-layout model such as MiniLM). */
    public static BertConfig read(Path configJson) {
        return read(Json.read(configJson), configJson);
    }

    /** As {@link #read(Path)}, from the parsed config.json {@code c}. */
    public static BertConfig read(JsonNode c, Path configJson) {
        String type = c.path("model_type").asText("bert");
        int offset = switch (type) {
            case "bert" -> 0;
            case "roberta", "xlm-roberta", "camembert" -> Json.optionalInt(c, "pad_token_id", 1, configJson) + 1;
            default -> throw new ModelFormatException(configJson + ": model_type '" + type
                    + "' is not a BERT-family encoder (bert, roberta, xlm-roberta, camembert)");
        };
        String act = c.path("hidden_act").asText("gelu");
        if (!act.equals("gelu")) {
            throw new ModelFormatException(configJson + ": hidden_act '" + act + "' is not supported (gelu, the erf form)");
        }
        String embType = c.path("position_embedding_type").asText("absolute");
        if (!embType.equals("absolute")) {
            throw new ModelFormatException(configJson + ": position_embedding_type '" + embType + "' is not supported (absolute)");
        }
        return new BertConfig(type,
                Json.requireInt(c, "vocab_size", configJson),
                Json.requireInt(c, "hidden_size", configJson),
                Json.requireInt(c, "num_hidden_layers", configJson),
                Json.requireInt(c, "num_attention_heads", configJson),
                Json.requireInt(c, "intermediate_size", configJson),
                Json.requireInt(c, "max_position_embeddings", configJson),
                Json.optionalInt(c, "type_vocab_size", 2, configJson),
                (float) Json.optionalNumber(c, "layer_norm_eps", 1e-12, configJson),
                offset, configJson.toString());
    }

    /** The config.json a Hugging Face BertModel would carry (used when converting other formats). */
    public String toJson() {
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
