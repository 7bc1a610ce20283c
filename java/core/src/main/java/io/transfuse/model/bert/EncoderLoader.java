package io.transfuse.model.bert;

import io.transfuse.EmbeddingModel;
import io.transfuse.EncoderOptions;
import io.transfuse.backend.Backend;
import io.transfuse.loader.Json;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.ShardedSafetensors;
import io.transfuse.loader.WeightFile;
import io.transfuse.loader.onnx.OnnxBert;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tokenizer.hf.HfTokenizer;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Loads a BERT-family text encoder from a Hugging Face directory (config.json, model.safetensors,
 * tokenizer.json, optional sentence-transformers modules.json and sentence_bert_config.json) or from an ONNX export
 * ({@code model.onnx} with {@code tokenizer.json} beside it).
 */
public final class EncoderLoader {
    /** Workspace rows (batch × padded length) when a batch of long texts would need more. */
    private static final int WORKSPACE_ROWS = 4096;

    private EncoderLoader() {}

    /** Builds the transformer stack over the loaded weights: the CPU {@link BertModel} or a device graph. */
    @FunctionalInterface
    public interface GraphFactory {
        /** @param maxTokens rows (batch × padded length) per forward call to plan the workspace for */
        EncoderGraph create(BertConfig config, BertWeights weights, TrackedArena arena, int maxTokens);
    }

    /** True for what {@link #load} reads: an .onnx file, or a directory whose config.json is a BERT-family model_type. */
    public static boolean isEncoder(Path path) {
        if (Files.isRegularFile(path)) return path.getFileName().toString().endsWith(".onnx");
        Path config = path.resolve("config.json");
        if (!Files.isRegularFile(config)) return false;
        String type = Json.read(config).path("model_type").asText("");
        return BertConfig.MODEL_TYPES.contains(type);
    }

    /** The encoder on the CPU {@code backend}. */
    public static EmbeddingModel load(Path path, EncoderOptions options, Backend backend) {
        return load(path, options, (c, w, arena, rows) -> new BertModel(c, w, backend, arena, rows));
    }

    /** The encoder with the stack {@code graphs} builds (tokenizer, pooling and batching are the same on every device). */
    public static EmbeddingModel load(Path path, EncoderOptions options, GraphFactory graphs) {
        if (!Files.exists(path)) throw new ModelFormatException(path + ": no such file or directory");
        TrackedArena arena = new TrackedArena(path.toString());
        try {
            BertConfig config;
            WeightFile weights;
            Path dir;
            if (Files.isRegularFile(path)) {
                if (!path.getFileName().toString().endsWith(".onnx")) {
                    throw new ModelFormatException(path + ": not an encoder model (expected an .onnx file or a directory with config.json)");
                }
                OnnxBert onnx = OnnxBert.read(path, arena);
                config = onnx.config();
                weights = onnx.weights();
                dir = path.toAbsolutePath().getParent();
            } else {
                dir = path;
                config = BertConfig.read(path.resolve("config.json"));
                weights = ShardedSafetensors.open(path, arena);
            }
            HfTokenizer tokenizer = HfTokenizer.load(tokenizerPath(path, dir));
            BertWeights w = BertWeights.from(weights, config);
            int seq = config.maxSequence();
            int rows = Math.max(seq, Math.min(WORKSPACE_ROWS, options.batchSize() * seq));
            Pooling pooling = options.resolve(Pooling.read(dir));
            int maxTokens = maxTokens(dir, config, tokenizer);
            EncoderGraph model = graphs.create(config, w, arena, rows);
            try {
                return new EmbeddingModel(arena, model, tokenizer, pooling, options.batchSize(), maxTokens);
            } catch (RuntimeException e) {
                model.close();
                throw e;
            }
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Tokens per text: the position table's length, capped by sentence-transformers'
     * {@code max_seq_length} (sentence_bert_config.json) when present, else by the tokenizer's own
     * maximum (tokenizer.json truncation or tokenizer_config.json model_max_length) when it has one.
     */
    static int maxTokens(Path dir, BertConfig config, HfTokenizer tokenizer) {
        int max = config.maxSequence();
        Path st = dir.resolve("sentence_bert_config.json");
        if (Files.isRegularFile(st)) {
            int m = Json.optionalInt(Json.read(st), "max_seq_length", 0, st);
            if (m > 0) return Math.min(max, m);
        }
        return tokenizer.modelMaxLength() > 0 ? Math.min(max, tokenizer.modelMaxLength()) : max;
    }

    /** tokenizer.json in the model directory; for an .onnx file, beside it (or one level up, as in HF repos' onnx/ folders). */
    static Path tokenizerPath(Path path, Path dir) {
        Path t = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(t) && Files.isRegularFile(path) && dir.getParent() != null
                && Files.isRegularFile(dir.getParent().resolve("tokenizer.json"))) {
            t = dir.getParent().resolve("tokenizer.json");
        }
        if (!Files.isRegularFile(t)) throw new ModelFormatException(path + ": no tokenizer.json " + (Files.isRegularFile(path) ? "beside it" : "in it"));
        return t;
    }
}
