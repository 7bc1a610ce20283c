package io.transfuse.model.modernbert;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.WeightFile;
import io.transfuse.model.modernbert.ModernEncoderConfig.Layout;
import io.transfuse.tensor.Tensor;

import java.nio.file.Path;
import java.util.List;

/**
 * The tensors of a {@link ModernEncoderModel} under each layout's own names, shape-checked. Views into the weight file:
 * fused projections (ModernBERT's and nomic's Wqkv [3 hidden][hidden], ModernBERT's Wi and JinaBERT's gated_layers
 * [2 intermediate][hidden]) are split into row blocks, which are contiguous. Biases and norm shifts are null where the
 * model has none.
 * <ul>
 *   <li>ModernBERT (HF modeling_modernbert.py): embeddings.tok_embeddings, embeddings.norm, layers.N.attn_norm (not in layer
 *       0), layers.N.attn.Wqkv, layers.N.attn.Wo, layers.N.mlp_norm, layers.N.mlp.Wi (rows: input | gate), layers.N.mlp.Wo,
 *       final_norm; task models nest them under "model.".</li>
 *   <li>nomic-bert (modeling_hf_nomic_bert.py): embeddings.word_embeddings, embeddings.token_type_embeddings, emb_ln,
 *       encoder.layers.N.attn.Wqkv, .attn.out_proj, .mlp.fc11 (up), .mlp.fc12 (gate), .mlp.fc2, .norm1, .norm2.</li>
 *   <li>JinaBERT v2 (jina-bert-implementation modeling_bert.py): BERT's embeddings (no position table) and attention names,
 *       encoder.layer.N.mlp.gated_layers (rows: gated | non-gated), .mlp.wo, .mlp.layernorm.</li>
 * </ul>
 */
public record ModernEncoderWeights(Tensor word, Tensor tokenType, Pair embeddingNorm, Layer[] layers, Pair finalNorm, String prefix) {

    /** A weight and its bias (bias may be null), or a norm's scale and shift. */
    public record Pair(Tensor weight, Tensor bias) {}

    /**
     * One layer. Pre-LN (ModernBERT): {@code norm1} before attention (null in layer 0), {@code norm2} before the GLU.
     * Post-LN (nomic, Jina): {@code norm1} after attention, {@code norm2} after the GLU. {@code gate} is the activated
     * projection, {@code up} the one it multiplies.
     */
    public record Layer(Pair norm1, Pair query, Pair key, Pair value, Pair output, Pair norm2, Pair gate, Pair up, Pair down) {}

    public static ModernEncoderWeights from(WeightFile file, ModernEncoderConfig c, JsonNode config, Path configPath) {
        return switch (c.layout()) {
            case MODERNBERT -> modernBert(file, c, config);
            case NOMIC -> nomic(file, c, config);
            case JINA -> jina(file, c);
        };
    }

    private static String prefix(WeightFile file, String probe, List<String> prefixes) {
        return prefixes.stream().filter(x -> file.tensors().containsKey(x + probe)).findFirst()
                .orElseThrow(() -> new ModelFormatException(file.path() + ": tensor '" + probe + "' is missing"
                        + (prefixes.size() > 1 ? " (also looked for it under " + String.join(", ", prefixes.subList(1, prefixes.size()).stream()
                        .map(x -> "'" + x + "'").toList()) + ")" : "")));
    }

    private static ModernEncoderWeights modernBert(WeightFile file, ModernEncoderConfig c, JsonNode config) {
        String p = prefix(file, "embeddings.tok_embeddings.weight", List.of("", "model."));
        boolean normBias = config.path("norm_bias").asBoolean(false), attBias = config.path("attention_bias").asBoolean(false),
                mlpBias = config.path("mlp_bias").asBoolean(false);
        int h = c.hidden(), f = c.intermediate();
        Layer[] layers = new Layer[c.layers()];
        for (int l = 0; l < layers.length; l++) {
            String n = p + "layers." + l + ".";
            Pair qkv = linear(file, n + "attn.Wqkv", 3 * h, h, attBias), wi = linear(file, n + "mlp.Wi", 2 * f, h, mlpBias);
            layers[l] = new Layer(l == 0 ? null : norm(file, n + "attn_norm", h, normBias), block(qkv, 0, h), block(qkv, 1, h), block(qkv, 2, h),
                    linear(file, n + "attn.Wo", h, h, attBias), norm(file, n + "mlp_norm", h, normBias),
                    block(wi, 0, f), block(wi, 1, f), linear(file, n + "mlp.Wo", h, f, mlpBias));
        }
        return new ModernEncoderWeights(file.tensor(p + "embeddings.tok_embeddings.weight", c.vocabSize(), h), null,
                norm(file, p + "embeddings.norm", h, normBias), layers, norm(file, p + "final_norm", h, normBias), p);
    }

    private static ModernEncoderWeights nomic(WeightFile file, ModernEncoderConfig c, JsonNode config) {
        String p = prefix(file, "embeddings.word_embeddings.weight", List.of("", "bert."));
        // NomicBertConfig's defaults: every bias on (nomic-embed-text checkpoints turn them off in config.json).
        boolean qkvBias = config.path("qkv_proj_bias").asBoolean(true), fc1Bias = config.path("mlp_fc1_bias").asBoolean(true),
                fc2Bias = config.path("mlp_fc2_bias").asBoolean(true);
        int h = c.hidden(), f = c.intermediate();
        Layer[] layers = new Layer[c.layers()];
        for (int l = 0; l < layers.length; l++) {
            String n = p + "encoder.layers." + l + ".";
            Pair qkv = linear(file, n + "attn.Wqkv", 3 * h, h, qkvBias);
            layers[l] = new Layer(norm(file, n + "norm1", h, true), block(qkv, 0, h), block(qkv, 1, h), block(qkv, 2, h),
                    linear(file, n + "attn.out_proj", h, h, qkvBias), norm(file, n + "norm2", h, true),
                    linear(file, n + "mlp.fc12", f, h, fc1Bias), linear(file, n + "mlp.fc11", f, h, fc1Bias), linear(file, n + "mlp.fc2", h, f, fc2Bias));
        }
        return new ModernEncoderWeights(file.tensor(p + "embeddings.word_embeddings.weight", c.vocabSize(), h),
                c.typeVocabSize() == 0 ? null : file.tensor(p + "embeddings.token_type_embeddings.weight", c.typeVocabSize(), h),
                norm(file, p + "emb_ln", h, true), layers, null, p);
    }

    private static ModernEncoderWeights jina(WeightFile file, ModernEncoderConfig c) {
        String p = prefix(file, "embeddings.word_embeddings.weight", List.of("", "bert."));
        int h = c.hidden(), f = c.intermediate();
        Layer[] layers = new Layer[c.layers()];
        for (int l = 0; l < layers.length; l++) {
            String n = p + "encoder.layer." + l + ".";
            Pair gated = linear(file, n + "mlp.gated_layers", 2 * f, h, false);
            layers[l] = new Layer(norm(file, n + "attention.output.LayerNorm", h, true), linear(file, n + "attention.self.query", h, h, true),
                    linear(file, n + "attention.self.key", h, h, true), linear(file, n + "attention.self.value", h, h, true),
                    linear(file, n + "attention.output.dense", h, h, true), norm(file, n + "mlp.layernorm", h, true),
                    block(gated, 0, f), block(gated, 1, f), linear(file, n + "mlp.wo", h, f, true));
        }
        return new ModernEncoderWeights(file.tensor(p + "embeddings.word_embeddings.weight", c.vocabSize(), h),
                c.typeVocabSize() == 0 ? null : file.tensor(p + "embeddings.token_type_embeddings.weight", c.typeVocabSize(), h),
                norm(file, p + "embeddings.LayerNorm", h, true), layers, null, p);
    }

    private static Pair linear(WeightFile file, String name, int out, int in, boolean bias) {
        return new Pair(file.tensor(name + ".weight", out, in), bias ? file.tensor(name + ".bias", out) : null);
    }

    private static Pair norm(WeightFile file, String name, int width, boolean bias) {
        return new Pair(file.tensor(name + ".weight", width), bias ? file.tensor(name + ".bias", width) : null);
    }

    /** Row block i of a fused projection whose blocks are {@code rows} tall (and the matching slice of its bias). */
    private static Pair block(Pair fused, int i, int rows) {
        Tensor b = fused.bias() == null ? null : fused.bias().reshape(fused.bias().elementCount(), 1).rows((long) i * rows, rows).reshape(rows);
        return new Pair(fused.weight().rows((long) i * rows, rows), b);
    }
}
