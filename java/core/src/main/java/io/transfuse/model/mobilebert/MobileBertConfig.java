package io.transfuse.model.mobilebert;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.loader.Json;
import io.transfuse.loader.ModelFormatException;

import java.nio.file.Path;

/**
 * Hyper-parameters of MobileBERT (Sun et al. 2020; Hugging Face {@code MobileBertConfig}, model_type "mobilebert").
 * Defaults are {@code MobileBertConfig}'s (google/mobilebert-uncased): hidden 512, 24 layers, 4 heads, intermediate 512,
 * relu, embedding_size 128 with trigram input, bottlenecks of 128, key/query sharing one bottleneck, 4 stacked
 * feed-forward networks, NoNorm everywhere ({@code normalization_type} "no_norm"; "layer_norm", the teacher's, puts
 * LayerNorms in the same places).
 *
 * @param trueHidden       width of a layer's attention and feed-forward blocks: intra_bottleneck_size with use_bottleneck,
 *                         else hidden_size (HF's {@code true_hidden_size})
 * @param relu             hidden_act "relu" (the default); false: "gelu" (erf form)
 * @param layerNorm        normalization_type "layer_norm": LayerNorm where the students have NoNorm
 * @param layerNormEps     layer_norm_eps, the epsilon of the LayerNorms HF builds with it (the others use torch's 1e-5)
 * @param ffnCount         num_feedforward_networks: feed-forward blocks per layer (the last is the layer's own intermediate/output)
 * @param source           where the config came from, named in errors
 */
public record MobileBertConfig(int vocabSize, int hidden, int layers, int heads, int intermediate, int maxPositions, int typeVocabSize,
                               int embeddingSize, boolean trigramInput, boolean useBottleneck, int trueHidden,
                               boolean useBottleneckAttention, boolean keyQuerySharedBottleneck, int ffnCount, boolean relu,
                               boolean classifierActivation, boolean layerNorm, float layerNormEps, String source) {

    public MobileBertConfig {
        ModelFormatException.requirePositive(source, "'vocab_size'", vocabSize);
        ModelFormatException.requirePositive(source, "'hidden_size'", hidden);
        ModelFormatException.requirePositive(source, "'num_hidden_layers'", layers);
        ModelFormatException.requirePositive(source, "'num_attention_heads'", heads);
        ModelFormatException.requirePositive(source, "'intermediate_size'", intermediate);
        ModelFormatException.requirePositive(source, "'max_position_embeddings'", maxPositions);
        ModelFormatException.requirePositive(source, "'type_vocab_size'", typeVocabSize);
        ModelFormatException.requirePositive(source, "'embedding_size'", embeddingSize);
        ModelFormatException.requirePositive(source, "'intra_bottleneck_size'", trueHidden);
        ModelFormatException.requirePositive(source, "'num_feedforward_networks'", ffnCount);
        if (!(layerNormEps > 0)) throw new ModelFormatException(source + ": 'layer_norm_eps' must be a positive number, got " + layerNormEps);
        if (trueHidden % heads != 0) {
            throw new ModelFormatException(source + ": the attention width " + trueHidden + " (true_hidden_size) is not a multiple of "
                    + heads + " num_attention_heads");
        }
        // Without a bottleneck, or with key and query on the layer input itself, HF's query/key Linear(true_hidden_size, ..)
        // reads the hidden state: the two widths must then agree (MobileBertSelfAttention).
        if ((!useBottleneck || (!useBottleneckAttention && !keyQuerySharedBottleneck)) && trueHidden != hidden) {
            throw new ModelFormatException(source + ": intra_bottleneck_size " + trueHidden + " must equal hidden_size " + hidden
                    + " when queries and keys read the layer input (use_bottleneck false, or neither use_bottleneck_attention nor"
                    + " key_query_shared_bottleneck)");
        }
    }

    public int headDim() { return trueHidden / heads; }

    /** Width of the value projection's input: the bottleneck with use_bottleneck_attention, else the hidden state. */
    public int valueInput() { return useBottleneck && useBottleneckAttention ? trueHidden : hidden; }

    /** Reads a config.json of model_type "mobilebert". */
    public static MobileBertConfig read(JsonNode c, Path file) {
        String norm = c.path("normalization_type").asText("no_norm");
        if (!norm.equals("no_norm") && !norm.equals("layer_norm")) {
            throw new ModelFormatException(file + ": normalization_type '" + norm + "' is not supported (no_norm: MobileBERT's"
                    + " published student models; layer_norm: the teacher's)");
        }
        String act = c.path("hidden_act").asText("relu");
        if (!act.equals("relu") && !act.equals("gelu")) {
            throw new ModelFormatException(file + ": hidden_act '" + act + "' is not supported for MobileBERT (relu, gelu)");
        }
        int hidden = Json.optionalInt(c, "hidden_size", 512, file);
        boolean bottleneck = bool(c, "use_bottleneck", true, file);
        return new MobileBertConfig(
                Json.optionalInt(c, "vocab_size", 30522, file), hidden,
                Json.optionalInt(c, "num_hidden_layers", 24, file),
                Json.optionalInt(c, "num_attention_heads", 4, file),
                Json.optionalInt(c, "intermediate_size", 512, file),
                Json.optionalInt(c, "max_position_embeddings", 512, file),
                Json.optionalInt(c, "type_vocab_size", 2, file),
                Json.optionalInt(c, "embedding_size", 128, file),
                bool(c, "trigram_input", true, file), bottleneck,
                bottleneck ? Json.optionalInt(c, "intra_bottleneck_size", 128, file) : hidden,
                bool(c, "use_bottleneck_attention", false, file),
                bool(c, "key_query_shared_bottleneck", true, file),
                Json.optionalInt(c, "num_feedforward_networks", 4, file),
                act.equals("relu"),
                bool(c, "classifier_activation", true, file),
                norm.equals("layer_norm"), (float) Json.optionalNumber(c, "layer_norm_eps", 1e-12, file),
                file.toString());
    }

    private static boolean bool(JsonNode c, String key, boolean fallback, Path file) {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) return fallback;
        if (!v.isBoolean()) throw new ModelFormatException(file + ": '" + key + "' must be true or false, got " + v);
        return v.booleanValue();
    }
}
