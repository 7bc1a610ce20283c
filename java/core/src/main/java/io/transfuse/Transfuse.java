package io.transfuse;

import io.transfuse.backend.Backend;
import io.transfuse.backend.DecoderProvider;
import io.transfuse.backend.cpu.CpuBackend;
import io.transfuse.loader.GgufFile;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.ModelPath;
import io.transfuse.loader.ShardedSafetensors;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.Decoder;
import io.transfuse.model.LlamaConfig;
import io.transfuse.model.LlamaLoader;
import io.transfuse.model.LlamaModel;
import io.transfuse.model.LlamaWeights;
import io.transfuse.model.MambaConfig;
import io.transfuse.model.MambaLoader;
import io.transfuse.model.bert.EncoderLoader;
import io.transfuse.model.vit.ClassifierGraph;
import io.transfuse.model.vit.ImagePreprocessor;
import io.transfuse.model.vit.ViTLoader;
import io.transfuse.model.vit.ViTModel;
import io.transfuse.tokenizer.GgufTokenizers;
import io.transfuse.tokenizer.Tokenizer;
import io.transfuse.tokenizer.hf.HfTokenizer;


import java.nio.file.Path;
import java.util.ServiceLoader;

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
        Device device = resolve(options.device());
        if (device == Device.CPU) return load(path, options, backend(options));
        DecoderProvider provider = provider(device);
        provider.requireAvailable(device); // fail before reading the model (e.g. --device cuda, no driver)
        return load(path, options.withDevice(device), null, provider);
    }

    /** AUTO becomes CUDA when a provider sees a GPU, else CPU; other devices stay. */
    static Device resolve(Device device) {
        if (device != Device.AUTO) return device;
        for (DecoderProvider p : ServiceLoader.load(DecoderProvider.class)) {
            if (p.supports(Device.CUDA) && p.available(Device.CUDA)) return Device.CUDA;
        }
        return Device.CPU;
    }

    private static DecoderProvider provider(Device device) {
        for (DecoderProvider p : ServiceLoader.load(DecoderProvider.class)) {
            if (p.supports(device)) return p;
        }
        throw new TransfuseException("device " + device.cliName() + " needs the transfuse-cuda module on the class path");
    }

    /** Loads onto a given backend (tests run the graph on a reference backend this way). */
    static LanguageModel load(Path path, LoadOptions options, Backend backend) {
        return load(path, options, backend, null);
    }

    /** Builds the graph on {@code backend} (CPU ops) or, when {@code provider} is given, on its device. */
    private static LanguageModel load(Path path, LoadOptions options, Backend backend, DecoderProvider provider) {
        ModelPath model = ModelPath.resolve(path);
        TrackedArena arena = new TrackedArena(model.path().toString());
        try {
            if (MambaLoader.isMamba(model)) {
                Decoder graph;
                if (provider != null) {
                    MambaConfig config = MambaConfig.read(model.path().resolve("config.json"));
                    graph = provider.mamba(options.device(), config, MambaLoader.weights(model.path(), config, arena), options);
                } else {
                    graph = MambaLoader.load(model.path(), arena, backend, PREFILL_CHUNK);
                }
                try {
                    warmUp(graph);
                } catch (RuntimeException e) {
                    graph.close();
                    throw e;
                }
                int context = options.contextLength() == 0 ? graph.contextLength() : options.contextLength();
                return new LanguageModel(arena, graph, MambaLoader.tokenizer(model.path()), context);
            }
            LlamaConfig config;
            LlamaWeights weights;
            Tokenizer tokenizer = null;
            if (model.format() == ModelPath.Format.GGUF) {
                GgufFile gguf = GgufFile.open(model.path(), arena);
                tokenizer = GgufTokenizers.load(gguf);
                int vocab = tokenizer != null ? tokenizer.vocabularySize() : (int) gguf.tensor(LlamaWeights.Names.GGUF.tokenEmbedding()).dim(0);
                config = LlamaLoader.config(gguf, vocab);
                weights = LlamaWeights.from(gguf, LlamaWeights.Names.GGUF, config);
            } else {
                config = LlamaLoader.config(model.path().resolve("config.json"));
                weights = LlamaWeights.from(ShardedSafetensors.open(model.path(), arena), LlamaWeights.Names.HF, config);
                tokenizer = hfTokenizer(model.path(), config.vocabSize());
            }
            int context = options.contextLength() == 0 ? config.contextLength() : Math.min(options.contextLength(), config.contextLength());
            Decoder graph = provider != null
                    ? provider.llama(options.device(), config, weights, options.withContextLength(context))
                    : new LlamaModel(config, weights, backend, arena, Math.min(PREFILL_CHUNK, context));
            try {
                warmUp(graph);
            } catch (RuntimeException e) {
                graph.close();
                throw e;
            }
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
     * or an ONNX export with tokenizer.json beside it. {@code options.device()} picks where the
     * transformer stack runs, as in {@link #load(Path, LoadOptions)}; tokenisation and pooling run on the CPU.
     */
    public static EmbeddingModel loadEncoder(Path path, LoadOptions options) {
        return loadEncoder(path, options, EncoderOptions.defaults());
    }

    public static EmbeddingModel loadEncoder(Path path, LoadOptions options, EncoderOptions encoder) {
        Device device = resolve(options.device());
        if (device == Device.CPU) return EncoderLoader.load(path, encoder, backend(options.withDevice(device)));
        DecoderProvider provider = provider(device);
        provider.requireAvailable(device); // fail before reading the model
        LoadOptions resolved = options.withDevice(device);
        return EncoderLoader.load(path, encoder, (config, weights, arena, rows) -> provider.bert(device, config, weights, rows, resolved));
    }

    /**
     * One throwaway forward pass, so the first real one does not pay for linking the native
     * downcalls and the backend's first-use setup (tens of milliseconds).
     */
    private static void warmUp(Decoder graph) {
        try (TrackedArena scratch = new TrackedArena("warm-up of " + graph.source());
             Decoder.SequenceState state = graph.newState(1, scratch)) {
            graph.forward(new int[] {0}, 0, 1, 0, state, new float[graph.vocabSize()]);
        }
    }

    /**
     * Loads an image classifier (ViT, DeiT) from a Hugging Face directory: config.json with
     * id2label, safetensors weights, and preprocessor_config.json (ViT's defaults when absent).
     * On {@code cuda} / {@code cuda-emu} the transformer blocks run on the device; the patch embedding
     * (with position interpolation for other image sizes) and the head stay on the CPU.
     */
    public static ImageClassifier loadClassifier(Path dir, LoadOptions options) {
        Device device = resolve(options.device());
        DecoderProvider provider = device == Device.CPU ? null : provider(device);
        if (provider != null) provider.requireAvailable(device); // fail before reading the model
        TrackedArena arena = new TrackedArena(dir.toString());
        try {
            ViTModel model = ViTLoader.load(dir, backend(options.withDevice(Device.CPU)), arena);
            ClassifierGraph graph = provider == null ? model : provider.vit(device, model, options.withDevice(device));
            try {
                return new ImageClassifier(arena, graph, ImagePreprocessor.forModel(dir, model.config().imageSize()));
            } catch (RuntimeException e) {
                graph.close();
                throw e;
            }
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static Backend backend(LoadOptions options) {
        return switch (options.device()) {
            case AUTO, CPU -> CpuBackend.create(options.threads());
            case CUDA, CUDA_EMU -> throw new IllegalStateException("device " + options.device().cliName() + " has no CPU backend");
        };
    }
}
