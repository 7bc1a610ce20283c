package io.transfuse;

import io.transfuse.backend.Backend;
import io.transfuse.backend.Backends;
import io.transfuse.loader.ChatTemplates;
import io.transfuse.loader.ModelSource;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.ClassifierFamily;
import io.transfuse.model.Decoder;
import io.transfuse.model.DecoderFamily;
import io.transfuse.model.DetectorFamily;
import io.transfuse.model.EncoderFamily;
import io.transfuse.model.Families;
import io.transfuse.model.bert.BertFamily;
import io.transfuse.model.bert.BertHead;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Entry point: {@code try (var model = Transfuse.load(path)) { model.generate(prompt, options, System.out::print); }}
 * Loads language models ({@link #load}), text encoders ({@link #loadEncoder}) and image classifiers
 * ({@link #loadClassifier}); a null argument is a NullPointerException naming it.
 *
 * <p>Every load goes the same way: the device is chosen ({@link LoadOptions#device()}, AUTO = a GPU when
 * one is present), the model's files are found and parsed once ({@link ModelSource}: a GGUF file, a
 * Hugging Face directory, an ONNX export), the family registry ({@link Families}) detects the architecture,
 * and the family builds its one graph on a new backend for that device. Weights are memory-mapped, not copied.
 */
public final class Transfuse {
    private Transfuse() {}

    /** A causal language model (Llama, GPT-2, Mamba) for text generation. */
    public static LanguageModel load(Path path) {
        return load(path, LoadOptions.defaults());
    }

    public static LanguageModel load(Path path, LoadOptions options) {
        return load(path, options, (Backend) null);
    }

    /** Loads onto the given backend (null: a new one for the options' device); tests run graphs on a reference backend this way. */
    static LanguageModel load(Path path, LoadOptions options, Backend given) {
        return open(path, options, given, (source, backend, opts) -> {
            DecoderFamily family = Families.detect(source, DecoderFamily.class);
            DecoderFamily.Parts parts = family.load(source, backend, opts);
            try {
                warmUp(parts.graph());
                return new LanguageModel(source.arena(), parts.graph(), parts.tokenizer(), ChatTemplates.find(source));
            } catch (RuntimeException e) {
                parts.graph().close();
                throw e;
            }
        });
    }

    /**
     * A text encoder (BERT, RoBERTa, MiniLM, BGE, E5): a Hugging Face directory (config.json,
     * model.safetensors, tokenizer.json, optional sentence-transformers modules.json) or an ONNX export
     * with tokenizer.json beside it. Tokenisation and pooling run on the CPU, the network on the device.
     */
    public static EmbeddingModel loadEncoder(Path path, LoadOptions options) {
        return loadEncoder(path, options, EncoderOptions.defaults());
    }

    public static EmbeddingModel loadEncoder(Path path, LoadOptions options, EncoderOptions encoder) {
        Objects.requireNonNull(encoder, "encoder");
        return open(path, options, null, (source, backend, opts) -> {
            EncoderFamily family = Families.detect(source, EncoderFamily.class);
            EncoderFamily.Parts p = family.load(source, backend, opts, encoder);
            try {
                return new EmbeddingModel(source.arena(), p.graph(), p.tokenizer(), p.pooling(), encoder.batchSize(), p.maxTokens());
            } catch (RuntimeException e) {
                p.graph().close();
                throw e;
            }
        });
    }

    /**
     * An image classifier (ViT, DeiT) from a Hugging Face directory: config.json with id2label,
     * safetensors weights, and preprocessor_config.json (ViT's defaults when absent). Preprocessing runs
     * on the CPU, the network on the device.
     */
    public static ImageClassifier loadClassifier(Path dir, LoadOptions options) {
        return open(dir, options, null, (source, backend, opts) -> {
            ClassifierFamily family = Families.detect(source, ClassifierFamily.class);
            ClassifierFamily.Parts p = family.load(source, backend, opts);
            return new ImageClassifier(source.arena(), p.graph(), p.preprocessor());
        });
    }

    /**
     * An object detector (DETR with a ResNet-50 backbone) from a Hugging Face directory: config.json with id2label,
     * safetensors weights, and preprocessor_config.json (DETR's defaults when absent). Preprocessing and the final
     * post-processing run on the CPU, the network on the device.
     */
    public static ObjectDetector loadDetector(Path dir, LoadOptions options) {
        return open(dir, options, null, (source, backend, opts) -> {
            DetectorFamily family = Families.detect(source, DetectorFamily.class);
            DetectorFamily.Parts p = family.load(source, backend, opts);
            return new ObjectDetector(source.arena(), p.graph(), p.preprocessor());
        });
    }

    /**
     * A text classifier (sentiment, topic, NLI): a Hugging Face directory of a BERT-family
     * {@code *ForSequenceClassification} model (BERT, RoBERTa, XLM-R, DistilBERT, ALBERT, ELECTRA, MobileBERT, ModernBERT,
     * nomic-bert, JinaBERT) with
     * tokenizer.json; labels from config.json {@code id2label}.
     */
    public static TextClassifier loadTextClassifier(Path dir, LoadOptions options) {
        return new TextClassifier(loadTask(dir, options, BertHead.Kind.SEQUENCE, 0));
    }

    /**
     * A token classifier (named entities, part of speech): a BERT-family {@code *ForTokenClassification}
     * directory, or ELECTRA's discriminator ({@code ElectraForPreTraining}).
     */
    public static TokenClassifier loadTokenClassifier(Path dir, LoadOptions options) {
        return new TokenClassifier(loadTask(dir, options, BertHead.Kind.TOKEN, 0));
    }

    /** A cross-encoder reranker: a BERT-family {@code *ForSequenceClassification} directory with one output. */
    public static Reranker loadReranker(Path dir, LoadOptions options) {
        return new Reranker(loadTask(dir, options, BertHead.Kind.SEQUENCE, 1));
    }

    /** An encoder with the task head {@code kind} (TOKEN also takes REPLACED_TOKEN); {@code outputs > 0} requires that many labels. */
    private static EncoderRunner loadTask(Path dir, LoadOptions options, BertHead.Kind kind, int outputs) {
        EncoderOptions encoder = EncoderOptions.defaults();
        return open(dir, options, null, (source, backend, opts) -> {
            EncoderFamily family = Families.detect(source, EncoderFamily.class);
            if (!(family instanceof BertFamily bert) || source.format() != ModelSource.Format.HF_DIRECTORY) {
                throw new io.transfuse.loader.ModelFormatException(source.path() + ": task heads are read from a Hugging Face directory"
                        + " of a BERT-family model (config.json with architectures *ForSequenceClassification or *ForTokenClassification)");
            }
            BertHead head = bert.head(source); // before the graph: a model without the head fails fast
            boolean fits = head.kind() == kind || (kind == BertHead.Kind.TOKEN && head.kind() == BertHead.Kind.REPLACED_TOKEN);
            if (!fits) {
                throw new io.transfuse.loader.ModelFormatException(source.path() + ": the model's head classifies "
                        + (head.kind() == BertHead.Kind.SEQUENCE ? "whole texts: load it with Transfuse.loadTextClassifier or loadReranker"
                        : "tokens: load it with Transfuse.loadTokenClassifier"));
            }
            if (outputs > 0 && head.labels().length != outputs) {
                throw new io.transfuse.loader.ModelFormatException(source.path() + ": a reranker has " + outputs + " output, this head has "
                        + head.labels().length + " labels " + java.util.Arrays.toString(head.labels()) + ": load it with Transfuse.loadTextClassifier");
            }
            EncoderFamily.Parts p = family.load(source, backend, opts, encoder);
            try {
                return new EncoderRunner(source.arena(), p.graph(), p.tokenizer(), head, encoder.batchSize(), p.maxTokens());
            } catch (RuntimeException e) {
                p.graph().close();
                throw e;
            }
        });
    }

    /** What a load builds from the parsed files on a new backend (which the result owns; on failure the caller closes it). */
    @FunctionalInterface
    private interface Build<T> {
        T build(ModelSource source, Backend backend, LoadOptions options);
    }

    /** The common path: device, files, backend, family; frees everything when a step fails. */
    private static <T> T open(Path path, LoadOptions options, Backend given, Build<T> build) {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(options, "options");
        Device device = given != null ? Device.CPU : Backends.resolve(options.device());
        if (given == null) Backends.requireAvailable(device); // fail before reading the model (e.g. --device cuda, no driver)
        LoadOptions resolved = options.withDevice(device);
        TrackedArena arena = new TrackedArena(path.toString());
        try {
            Backend backend = null;
            try {
                ModelSource source = ModelSource.open(path, arena);
                backend = given != null ? given : Backends.open(device, resolved);
                return build.build(source, backend, resolved);
            } catch (RuntimeException e) {
                if (backend != null) backend.close(); // closing twice is harmless: the graph may have closed it already
                else if (given != null) given.close();
                throw e;
            }
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * One throwaway forward pass, so the first real one does not pay for linking the native downcalls and
     * the backend's first-use setup (tens of milliseconds).
     */
    private static void warmUp(Decoder graph) {
        try (Decoder.Sequence s = graph.newSequence(1)) {
            graph.forward(s, new int[] {0}, 0, 1, 0, new float[graph.vocabSize()]);
        }
    }
}
