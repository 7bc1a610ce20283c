package io.transfuse.loader;

import io.transfuse.tensor.DType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Random;

/**
 * Writes a small random-weight ViT (or DeiT with teacher) classifier as a Hugging Face directory:
 * config.json with id2label ("class a", "class b", ...), model.safetensors, preprocessor_config.json.
 * Linear weights are N(0, 1/fan_in), norm weights near 1, so activations stay O(1). For tests and
 * demos of the ViT path; nothing it writes is a trained model.
 *
 * @param preprocessor preprocessor_config.json body; null writes none
 */
public record RandomVitModel(int hidden, int layers, int heads, int intermediate, int imageSize, int patchSize, int labels,
                             boolean deit, DType weightType, String preprocessor, long seed) {

    /** 2 layers, hidden 32, 4 heads, 32x32 images in 8x8 patches, 7 classes. */
    public static RandomVitModel tiny() {
        return new RandomVitModel(32, 2, 4, 64, 32, 8, 7, false, DType.F32, """
                {"do_resize": true, "size": {"height": 32, "width": 32}, "resample": 2, "do_rescale": true,
                 "rescale_factor": 0.00392156862745098, "do_normalize": true, "image_mean": [0.5, 0.4, 0.3], "image_std": [0.2, 0.25, 0.3]}
                """, 1);
    }

    public RandomVitModel withDeit(boolean d) {
        return new RandomVitModel(hidden, layers, heads, intermediate, imageSize, patchSize, labels, d, weightType, preprocessor, seed);
    }

    public RandomVitModel withWeightType(DType t) {
        return new RandomVitModel(hidden, layers, heads, intermediate, imageSize, patchSize, labels, deit, t, preprocessor, seed);
    }

    public RandomVitModel withSeed(long s) {
        return new RandomVitModel(hidden, layers, heads, intermediate, imageSize, patchSize, labels, deit, weightType, preprocessor, s);
    }

    public RandomVitModel withPreprocessor(String json) {
        return new RandomVitModel(hidden, layers, heads, intermediate, imageSize, patchSize, labels, deit, weightType, json, seed);
    }

    public Path write(Path dir) {
        try {
            Files.createDirectories(dir);
            Random rnd = new Random(seed);
            String prefix = deit ? "deit." : "vit.";
            int grid = imageSize / patchSize, tokens = grid * grid + (deit ? 2 : 1);
            SafetensorsWriter w = new SafetensorsWriter();
            w.addTensor(prefix + "embeddings.cls_token", DType.F32, new long[] {1, 1, hidden}, normal(rnd, hidden, 0.5));
            if (deit) w.addTensor(prefix + "embeddings.distillation_token", DType.F32, new long[] {1, 1, hidden}, normal(rnd, hidden, 0.5));
            w.addTensor(prefix + "embeddings.position_embeddings", DType.F32, new long[] {1, tokens, hidden}, normal(rnd, tokens * hidden, 0.5));
            int patchIn = 3 * patchSize * patchSize;
            w.addTensor(prefix + "embeddings.patch_embeddings.projection.weight", weightType,
                    new long[] {hidden, 3, patchSize, patchSize}, normal(rnd, hidden * patchIn, 1 / Math.sqrt(patchIn)));
            w.addTensor(prefix + "embeddings.patch_embeddings.projection.bias", DType.F32, new long[] {hidden}, normal(rnd, hidden, 0.1));
            for (int l = 0; l < layers; l++) {
                String q = prefix + "encoder.layer." + l + ".";
                norm(w, rnd, q + "layernorm_before");
                for (String m : new String[] {"query", "key", "value"}) linear(w, rnd, q + "attention.attention." + m, hidden, hidden);
                linear(w, rnd, q + "attention.output.dense", hidden, hidden);
                norm(w, rnd, q + "layernorm_after");
                linear(w, rnd, q + "intermediate.dense", intermediate, hidden);
                linear(w, rnd, q + "output.dense", hidden, intermediate);
            }
            norm(w, rnd, prefix + "layernorm");
            if (deit) {
                linear(w, rnd, "cls_classifier", labels, hidden);
                linear(w, rnd, "distillation_classifier", labels, hidden);
            } else {
                linear(w, rnd, "classifier", labels, hidden);
            }
            w.write(dir.resolve("model.safetensors"), s -> {});
            StringBuilder id2label = new StringBuilder();
            for (int i = 0; i < labels; i++) id2label.append(i == 0 ? "" : ", ").append('"').append(i).append("\": \"class ").append((char) ('a' + i)).append('"');
            Files.writeString(dir.resolve("config.json"), String.format(Locale.ROOT, """
                    {"architectures": ["%s"], "model_type": "%s", "hidden_size": %d, "num_hidden_layers": %d,
                     "num_attention_heads": %d, "intermediate_size": %d, "hidden_act": "gelu", "layer_norm_eps": 1e-12,
                     "image_size": %d, "patch_size": %d, "num_channels": 3, "qkv_bias": true, "id2label": {%s}}
                    """, deit ? "DeiTForImageClassificationWithTeacher" : "ViTForImageClassification", deit ? "deit" : "vit",
                    hidden, layers, heads, intermediate, imageSize, patchSize, id2label));
            if (preprocessor != null) Files.writeString(dir.resolve("preprocessor_config.json"), preprocessor);
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void linear(SafetensorsWriter w, Random rnd, String name, int out, int in) {
        w.addTensor(name + ".weight", weightType, new long[] {out, in}, normal(rnd, out * in, 1 / Math.sqrt(in)));
        w.addTensor(name + ".bias", DType.F32, new long[] {out}, normal(rnd, out, 0.1));
    }

    private void norm(SafetensorsWriter w, Random rnd, String name) {
        float[] g = normal(rnd, hidden, 0.1);
        for (int i = 0; i < g.length; i++) g[i] += 1;
        w.addTensor(name + ".weight", DType.F32, new long[] {hidden}, g);
        w.addTensor(name + ".bias", DType.F32, new long[] {hidden}, normal(rnd, hidden, 0.1));
    }

    private static float[] normal(Random rnd, int n, double std) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (rnd.nextGaussian() * std);
        return v;
    }
}
