package io.transfuse;

import io.transfuse.backend.Backend;
import io.transfuse.backend.cpu.CpuBackend;
import io.transfuse.loader.GgufFile;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.ModelPath;
import io.transfuse.loader.ShardedSafetensors;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.KvCache;
import io.transfuse.model.LlamaConfig;
import io.transfuse.model.LlamaLoader;
import io.transfuse.model.LlamaModel;
import io.transfuse.model.LlamaWeights;
import io.transfuse.model.bert.EncoderLoader;
import io.transfuse.tokenizer.SentencePieceBpe;
import io.transfuse.tokenizer.Tokenizer;
import io.transfuse.tokenizer.hf.HfTokenizer;

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
                tokenizer = hfTokenizer(model.path(), config.vocabSize());
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

    /** The directory's tokenizer.json (null when absent); its ids must fit the model's vocabulary. */
    private static Tokenizer hfTokenizer(Path dir, int modelVocab) {
        Path file = dir.resolve("tokenizer.json");
        if (!java.nio.file.Files.isRegularFile(file)) return null;
        HfTokenizer t = HfTokenizer.load(file);
        if (t.vocabularySize() > modelVocab) {
            throw new ModelFormatException(file + ": the tokenizer has " + t.vocabularySize() + " tokens but the model's vocabulary is "
                    + modelVocab + " (config.json vocab_size)");
        }
        return t;
    }

    /**
     * Loads a BERT-family text encoder (BERT, RoBERTa, MiniLM, BGE, E5): a Hugging Face directory
     * (config.json, model.safetensors, tokenizer.json, optional sentence-transformers modules.json)
     * or an ONNX export with tokenizer.json beside it.
     */
    public static EmbeddingModel loadEncoder(Path path, LoadOptions options) {
        return loadEncoder(path, options, EncoderOptions.defaults());
    }

    public static EmbeddingModel loadEncoder(Path path, LoadOptions options, EncoderOptions encoder) {
        return EncoderLoader.load(path, encoder, backend(options));
    }

    /**
     * One throwaway forward pass, so the first real one does not pay for linking the native
     * downcalls and the backend's first-use setup (tens of milliseconds).
     */
    private static void warmUp(LlamaModel graph) {
        try (TrackedArena scratch = new TrackedArena("warm-up of " + graph.config().source())) {
            graph.forward(new int[] {0}, 0, 1, 0, new KvCache(graph.config(), 1, scratch));
        }
    }

    private static Backend backend(LoadOptions options) {
        return switch (options.device()) {
            case AUTO, CPU -> CpuBackend.create(options.threads());
        };
    }
}
