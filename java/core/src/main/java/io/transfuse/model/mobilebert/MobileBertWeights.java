package io.transfuse.model.mobilebert;

import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.WeightFile;
import io.transfuse.tensor.Tensor;

import java.util.List;

/**
 * MobileBERT's tensors under Hugging Face's names (modeling_mobilebert.py: MobileBertEmbeddings, MobileBertLayer with
 * its Bottleneck, MobileBertAttention, FFNLayer, MobileBertIntermediate, MobileBertOutput / OutputBottleneck),
 * shape-checked against the config. Views into the weight file. Every "LayerNorm" is a NoNorm (weight, bias).
 */
public record MobileBertWeights(Tensor word, Tensor position, Tensor tokenType, Pair transformation, Pair embeddingNorm, Layer[] layers,
                                String prefix) {

    /** A Linear (weight [out][in], bias [out]) or a NoNorm (weight, bias [width]). */
    public record Pair(Tensor weight, Tensor bias) {}

    /** One feed-forward block: {@code a = NoNorm(relu(a W1^T + b1) W2^T + b2 + a)} (FFNLayer, and the layer's own last one). */
    public record Ffn(Pair in, Pair out, Pair norm) {}

    /**
     * One layer. {@code bottleneckIn}/{@code bottleneckInNorm} and {@code outBottleneck}/{@code outBottleneckNorm} are null
     * without use_bottleneck; {@code sharedBottleneck}/{@code sharedBottleneckNorm} exist with key_query_shared_bottleneck
     * (and not use_bottleneck_attention). {@code ffns} are the num_feedforward_networks - 1 stacked blocks; the layer's own
     * block is {@code intermediate}, {@code output}, {@code outputNorm}.
     */
    public record Layer(Pair bottleneckIn, Pair bottleneckInNorm, Pair sharedBottleneck, Pair sharedBottleneckNorm,
                        Pair query, Pair key, Pair value, Pair attentionOutput, Pair attentionNorm, Ffn[] ffns,
                        Pair intermediate, Pair output, Pair outputNorm, Pair outBottleneck, Pair outBottleneckNorm) {}

    /** Prefixes of the encoder: MobileBertModel (none) or the task models (MobileBertFor*: "mobilebert."). */
    public static final List<String> PREFIXES = List.of("", "mobilebert.");

    public static MobileBertWeights from(WeightFile file, MobileBertConfig c) {
        String p = PREFIXES.stream().filter(x -> file.tensors().containsKey(x + "embeddings.word_embeddings.weight")).findFirst()
                .orElseThrow(() -> new ModelFormatException(file.path() + ": tensor 'embeddings.word_embeddings.weight' is missing"
                        + " (also looked for it under the prefix 'mobilebert.')"));
        int h = c.hidden(), t = c.trueHidden(), e = c.embeddingSize();
        Pair transformation = c.trigramInput() || e != h ? linear(file, p + "embeddings.embedding_transformation", h, (c.trigramInput() ? 3 : 1) * e) : null;
        Layer[] layers = new Layer[c.layers()];
        for (int l = 0; l < layers.length; l++) layers[l] = layer(file, p + "encoder.layer." + l + ".", c);
        return new MobileBertWeights(
                file.tensor(p + "embeddings.word_embeddings.weight", c.vocabSize(), e),
                file.tensor(p + "embeddings.position_embeddings.weight", c.maxPositions(), h),
                file.tensor(p + "embeddings.token_type_embeddings.weight", c.typeVocabSize(), h),
                transformation, norm(file, p + "embeddings.LayerNorm", h), layers, p);
    }

    private static Layer layer(WeightFile file, String n, MobileBertConfig c) {
        int h = c.hidden(), t = c.trueHidden(), in = c.intermediate();
        boolean shared = c.useBottleneck() && !c.useBottleneckAttention() && c.keyQuerySharedBottleneck();
        Ffn[] ffns = new Ffn[c.ffnCount() - 1];
        for (int i = 0; i < ffns.length; i++) {
            String f = n + "ffn." + i + ".";
            ffns[i] = new Ffn(linear(file, f + "intermediate.dense", in, t), linear(file, f + "output.dense", t, in), norm(file, f + "output.LayerNorm", t));
        }
        return new Layer(
                c.useBottleneck() ? linear(file, n + "bottleneck.input.dense", t, h) : null,
                c.useBottleneck() ? norm(file, n + "bottleneck.input.LayerNorm", t) : null,
                shared ? linear(file, n + "bottleneck.attention.dense", t, h) : null,
                shared ? norm(file, n + "bottleneck.attention.LayerNorm", t) : null,
                linear(file, n + "attention.self.query", t, t),
                linear(file, n + "attention.self.key", t, t),
                linear(file, n + "attention.self.value", t, c.valueInput()),
                linear(file, n + "attention.output.dense", t, t),
                norm(file, n + "attention.output.LayerNorm", t),
                ffns,
                linear(file, n + "intermediate.dense", in, t),
                linear(file, n + "output.dense", t, in),
                norm(file, n + "output.LayerNorm", t),
                c.useBottleneck() ? linear(file, n + "output.bottleneck.dense", h, t) : null,
                c.useBottleneck() ? norm(file, n + "output.bottleneck.LayerNorm", h) : null);
    }

    private static Pair linear(WeightFile file, String name, int out, int in) {
        return new Pair(file.tensor(name + ".weight", out, in), file.tensor(name + ".bias", out));
    }

    private static Pair norm(WeightFile file, String name, int width) {
        return new Pair(file.tensor(name + ".weight", width), file.tensor(name + ".bias", width));
    }
}
