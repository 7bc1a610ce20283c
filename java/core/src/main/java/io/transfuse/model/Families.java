package io.transfuse.model;

import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.ModelSource;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.bert.BertFamily;
import io.transfuse.model.detr.DetrFamily;
import io.transfuse.model.gpt2.Gpt2Family;
import io.transfuse.model.llama.LlamaFamily;
import io.transfuse.model.mamba.Mamba2Family;
import io.transfuse.model.mamba.MambaFamily;
import io.transfuse.model.swin.SwinFamily;
import io.transfuse.model.vit.ViTFamily;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/** The family registry: every architecture Transfuse runs, detected once from a model's files. */
public final class Families {
    /** One entry per architecture. */
    public static final List<ModelFamily> ALL = List.of(
            new LlamaFamily(),
            new Gpt2Family(),
            new MambaFamily(),
            new Mamba2Family(),
            new BertFamily(),
            new ViTFamily(),
            new SwinFamily(),
            new DetrFamily(),
            // RWKV (issue 17)
            new io.transfuse.model.rwkv.RwkvFamily());

    private Families() {}

    /** The family of the model in {@code source}, or an error naming what the files say and what is supported. */
    public static ModelFamily detect(ModelSource source) {
        for (ModelFamily f : ALL) if (f.recognizes(source)) return f;
        String arch = source.architecture();
        throw new ModelFormatException(source.path() + ": " + (arch.isEmpty() ? "the files name no architecture"
                : "architecture '" + arch + "' is not supported") + " (supported: " + supported() + ")");
    }

    /**
     * The family of {@code source}, which must be of {@code kind}. Otherwise the error says what the model is for,
     * which architectures {@code kind} supports, and how to load this one (API and CLI): a BERT directory given to
     * {@code generate} is an embedding model for {@code transfuse embed}, not an unsupported architecture.
     */
    public static <F extends ModelFamily> F detect(ModelSource source, Class<F> kind) {
        ModelFamily f = detect(source);
        if (!kind.isInstance(f)) {
            String task = ALL.stream().filter(kind::isInstance).findFirst().map(ModelFamily::task).orElse(kind.getSimpleName());
            String supported = ALL.stream().filter(kind::isInstance).map(ModelFamily::name).collect(Collectors.joining(", "));
            throw new ModelFormatException(source.path() + ": this is a " + f.name() + " model, for " + f.task() + ", not " + task
                    + " (" + task + " supports: " + supported + "); " + howToLoad(f));
        }
        return kind.cast(f);
    }

    /** How a model of family {@code f} is loaded, in the API and on the command line. */
    private static String howToLoad(ModelFamily f) {
        return switch (f) {
            case DecoderFamily d -> "load it with Transfuse.load (CLI: transfuse generate, chat or serve)";
            case EncoderFamily e -> "load it with Transfuse.loadEncoder (CLI: transfuse embed)";
            case ClassifierFamily c -> "load it with Transfuse.loadClassifier (CLI: transfuse classify)";
            case DetectorFamily d -> "load it with Transfuse.loadDetector (CLI: transfuse detect)";
        };
    }

    /** The family of the model at {@code path} (its header or config is read and released). */
    public static ModelFamily of(Path path) {
        try (TrackedArena arena = new TrackedArena("family detection of " + path)) {
            return detect(ModelSource.open(path, arena));
        }
    }

    private static String supported() {
        return ALL.stream().map(f -> f.name() + " (" + f.task() + ")").collect(Collectors.joining(", "));
    }
}
