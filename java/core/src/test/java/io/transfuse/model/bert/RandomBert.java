package io.transfuse.model.bert;

import io.transfuse.loader.SafetensorsWriter;
import io.transfuse.tensor.DType;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.zip.GZIPInputStream;

/**
 * Test fixture generator: a small random-weight BERT-family encoder as a Hugging Face directory
 * (config.json, model.safetensors, the real all-MiniLM-L6-v2 tokenizer.json so that the vocabulary
 * is real). The weights stay available as float arrays (after any F16 rounding) for the reference.
 */
public final class RandomBert {
    public final int vocab = 30522, hidden, layers, heads, intermediate, maxPositions, typeVocab = 2, positionOffset;
    public final String modelType, prefix;
    final float eps = 1e-12f;
    public final Map<String, float[]> weights = new LinkedHashMap<>();
    public final Map<String, long[]> shapes = new LinkedHashMap<>();

    public RandomBert(String modelType, String prefix, int hidden, int layers, int heads, int intermediate, int maxPositions) {
        this.modelType = modelType;
        this.prefix = prefix;
        this.hidden = hidden;
        this.layers = layers;
        this.heads = heads;
        this.intermediate = intermediate;
        this.maxPositions = maxPositions;
        this.positionOffset = modelType.equals("roberta") ? 2 : 0; // pad_token_id 1
    }

    /** Writes the model to dir; matrices (and embeddings) in {@code matrixType} (F32 or F16), vectors in F32. */
    public Path write(Path dir, long seed, DType matrixType) {
        generate(seed, matrixType);
        return writeFiles(dir, matrixType);
    }

    /** Fills {@link #weights} and {@link #shapes} (HF names without prefix). */
    public void generate(long seed, DType matrixType) {
        Random r = new Random(seed);
        weights.clear();
        shapes.clear();
        int h = hidden;
        add("embeddings.word_embeddings.weight", r, 1f, matrixType, vocab, h);
        add("embeddings.position_embeddings.weight", r, 1f, matrixType, maxPositions, h);
        add("embeddings.token_type_embeddings.weight", r, 1f, matrixType, typeVocab, h);
        addNorm("embeddings.LayerNorm", r, h);
        for (int l = 0; l < layers; l++) {
            String n = "encoder.layer." + l + ".";
            for (String proj : new String[] {"query", "key", "value"}) {
                add(n + "attention.self." + proj + ".weight", r, proj.equals("value") ? 0.2f : 0.4f, matrixType, h, h);
                add(n + "attention.self." + proj + ".bias", r, 0.1f, DType.F32, h);
            }
            add(n + "attention.output.dense.weight", r, 0.2f, matrixType, h, h);
            add(n + "attention.output.dense.bias", r, 0.1f, DType.F32, h);
            addNorm(n + "attention.output.LayerNorm", r, h);
            add(n + "intermediate.dense.weight", r, 0.3f, matrixType, intermediate, h);
            add(n + "intermediate.dense.bias", r, 0.3f, DType.F32, intermediate);
            add(n + "output.dense.weight", r, 0.15f, matrixType, h, intermediate);
            add(n + "output.dense.bias", r, 0.1f, DType.F32, h);
            addNorm(n + "output.LayerNorm", r, h);
        }
    }

    private Path writeFiles(Path dir, DType matrixType) {
        try {
            Files.createDirectories(dir);
            SafetensorsWriter w = new SafetensorsWriter();
            for (String name : weights.keySet()) {
                float[] v = weights.get(name);
                long[] shape = shapes.get(name);
                boolean matrix = shape.length == 2;
                w.addTensor(prefix + name, matrix ? matrixType : DType.F32, shape, v);
            }
            w.write(dir.resolve("model.safetensors"), s -> { });
            Files.writeString(dir.resolve("config.json"), """
                    {"model_type": "%s", "vocab_size": %d, "hidden_size": %d, "num_hidden_layers": %d,
                     "num_attention_heads": %d, "intermediate_size": %d, "max_position_embeddings": %d,
                     "type_vocab_size": %d, "layer_norm_eps": 1e-12, "hidden_act": "gelu", "pad_token_id": 1}
                    """.formatted(modelType, vocab, hidden, layers, heads, intermediate, maxPositions, typeVocab));
            try (InputStream in = new GZIPInputStream(RandomBert.class.getResourceAsStream("/tokenizers/all-minilm-l6-v2-tokenizer.json.gz"))) {
                Files.write(dir.resolve("tokenizer.json"), in.readAllBytes());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir;
    }

    private void addNorm(String name, Random r, int h) {
        float[] w = new float[h], b = new float[h];
        for (int i = 0; i < h; i++) {
            w[i] = 1 + (r.nextFloat() * 2 - 1) * 0.3f;
            b[i] = (r.nextFloat() * 2 - 1) * 0.2f;
        }
        weights.put(name + ".weight", w);
        shapes.put(name + ".weight", new long[] {h});
        weights.put(name + ".bias", b);
        shapes.put(name + ".bias", new long[] {h});
    }

    private void add(String name, Random r, float scale, DType type, long... shape) {
        long n = 1;
        for (long d : shape) n *= d;
        float[] v = new float[(int) n];
        for (int i = 0; i < v.length; i++) {
            float x = (r.nextFloat() * 2 - 1) * scale;
            v[i] = type == DType.F16 ? Float.float16ToFloat(Float.floatToFloat16(x)) : x;
        }
        weights.put(name, v);
        shapes.put(name, shape);
    }
}
