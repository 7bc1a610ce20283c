package io.transfuse.model;

import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.ModelSource;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.bert.BertFamily;
import io.transfuse.model.gpt2.Gpt2Family;
import io.transfuse.model.llama.LlamaFamily;
import io.transfuse.model.mamba.MambaFamily;
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
            new BertFamily(),
            new ViTFamily());

    private Families() {}

    /** The family of the model in {@code source}, or an error naming what the files say and what is supported. */
    public static ModelFamily detect(ModelSource source) {
        for (ModelFamily f : ALL) if (f.recognizes(source)) return f;
        String arch = source.architecture();
        throw new ModelFormatException(source.path() + ": " + (arch.isEmpty() ? "the files name no architecture"
                : "architecture '" + arch + "' is not supported") + " (supported: " + supported() + ")");
    }

    /** The family of {@code source}, which must be of {@code kind} (an error names the task it is for otherwise). */
    public static <F extends ModelFamily> F detect(ModelSource source, Class<F> kind, String use) {
        ModelFamily f = detect(source);
        if (!kind.isInstance(f)) {
            throw new ModelFormatException(source.path() + ": a " + f.name() + " model is for " + f.task() + "; " + use);
        }
        return kind.cast(f);
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
