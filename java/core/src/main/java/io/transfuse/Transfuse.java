package io.transfuse;

import io.transfuse.backend.Backend;
import io.transfuse.backend.cpu.CpuBackend;
import io.transfuse.loader.GgufFile;
import io.transfuse.loader.ModelPath;
import io.transfuse.loader.ShardedSafetensors;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.Decoder;
import io.transfuse.model.LlamaConfig;
import io.transfuse.model.LlamaLoader;
import io.transfuse.model.LlamaModel;
import io.transfuse.model.LlamaWeights;
import io.transfuse.model.vit.ImagePreprocessor;
import io.transfuse.model.vit.ViTLoader;
import io.transfuse.model.vit.ViTModel;
import io.transfuse.tokenizer.SentencePieceBpe;
import io.transfuse.tokenizer.Tokenizer;

import java.nio.file.Path;

/**
 * Entry point: {@code try (var model = Transfuse.load(path)) { model.generate(prompt, options, System.out::print); }}
 *
 * <p>{@code path} is a GGUF file, a Hugging Face model directory (config.json + safetensors), or a
 * directory with one GGUF file. Weights are memory-mapped, not copied.
 */
public final class Transfuse {
    /** Tokens per prefill chunk: bounds the activation workspace. */
    private static final int PREFILL_CHUNK = 128;

    private Transfuse() {}

    public static LanguageModel load(Path path) {
        return load(path, LoadOptions.defaults());
    }

    public static LanguageModel load(Path path, LoadOptions options) {
        return load(path, options, backend(options));
    }

    /** Loads onto a given backend (tests run the graph on a reference backend this way). */
    static LanguageModel load(Path path, LoadOptions options, Backend backend) {
        ModelPath model = ModelPath.resolve(path);
        TrackedArena arena = new TrackedArena(model.path().toString());
        try {
            LlamaConfig config;
            LlamaWeights weights;
            Tokenizer tokenizer = null;
            if (model.format() == ModelPath.Format.GGUF) {
                GgufFile gguf = GgufFile.open(model.path(), arena);
                if (gguf.metadata().containsKey("tokenizer.ggml.tokens")) tokenizer = SentencePieceBpe.fromGguf(gguf);
                int vocab = tokenizer != null ? tokenizer.vocabularySize() : (int) gguf.tensor(LlamaWeights.Names.GGUF.tokenEmbedding()).dim(0);
                config = LlamaLoader.config(gguf, vocab);
                weights = LlamaWeights.from(gguf, LlamaWeights.Names.GGUF, config);
            } else {
                config = LlamaLoader.config(model.path().resolve("config.json"));
                weights = LlamaWeights.from(ShardedSafetensors.open(model.path(), arena), LlamaWeights.Names.HF, config);
            }
            int context = options.contextLength() == 0 ? config.contextLength() : Math.min(options.contextLength(), config.contextLength());
            LlamaModel graph = new LlamaModel(config, weights, backend, arena, Math.min(PREFILL_CHUNK, context));
            warmUp(graph);
            return new LanguageModel(arena, graph, tokenizer, context);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * One throwaway forward pass, so the first real one does not pay for linking the native
     * downcalls and the backend's first-use setup (tens of milliseconds).
     */
    private static void warmUp(Decoder graph) {
        try (TrackedArena scratch = new TrackedArena("warm-up of " + graph.source())) {
            graph.forward(new int[] {0}, 0, 1, 0, graph.newState(1, scratch), new float[graph.vocabSize()]);
        }
    }

    /**
     * Loads an image classifier (ViT, DeiT) from a Hugging Face directory: config.json with
     * id2label, safetensors weights, and preprocessor_config.json (ViT's defaults when absent).
     */
    public static ImageClassifier loadClassifier(Path dir, LoadOptions options) {
        TrackedArena arena = new TrackedArena(dir.toString());
        try {
            ViTModel model = ViTLoader.load(dir, backend(options), arena);
            return new ImageClassifier(arena, model, ImagePreprocessor.forModel(dir, model.config().imageSize()));
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static Backend backend(LoadOptions options) {
        return switch (options.device()) {
            case AUTO, CPU -> CpuBackend.create(options.threads());
        };
    }
}
