package io.transfuse.loader;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.memory.TrackedArena;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * A model's files, found and parsed once: a GGUF file (its header and tensor table read, the data
 * memory-mapped), a Hugging Face directory (config.json read; safetensors mapped when first asked for),
 * or an ONNX export. The family registry detects the architecture from it and the family's loader reads
 * its config and weights from it, so no file is parsed twice. Mapped memory belongs to {@link #arena()}.
 *
 * <p>A path may be a .gguf file, a .onnx file, a directory with config.json, or a directory holding
 * exactly one .gguf file.
 */
public final class ModelSource {
    public enum Format { GGUF, HF_DIRECTORY, ONNX }

    private final Path path;
    private final Format format;
    private final TrackedArena arena;
    private final GgufFile gguf;
    private final JsonNode config;
    private WeightFile safetensors;

    private ModelSource(Path path, Format format, TrackedArena arena) {
        this.path = path;
        this.format = format;
        this.arena = arena;
        this.gguf = format == Format.GGUF ? GgufFile.open(path, arena) : null;
        this.config = format == Format.HF_DIRECTORY ? Json.read(path.resolve("config.json")) : null;
    }

    /** Finds the model at {@code path} and parses its header or config; mapped memory goes to {@code arena}. */
    public static ModelSource open(Path path, TrackedArena arena) {
        Path p = resolve(path);
        String name = p.getFileName().toString();
        Format f = Files.isDirectory(p) ? Format.HF_DIRECTORY : name.endsWith(".onnx") ? Format.ONNX : Format.GGUF;
        return new ModelSource(p, f, arena);
    }

    /** The model file (GGUF, ONNX) or directory (Hugging Face) {@code path} names. */
    public static Path resolve(Path path) {
        if (!Files.exists(path)) throw new ModelFormatException(path + ": no such file or directory");
        if (Files.isRegularFile(path)) {
            String name = path.getFileName().toString();
            if (name.endsWith(".gguf") || name.endsWith(".onnx")) return path;
            throw new ModelFormatException(path + ": not a model (expected a .gguf or .onnx file, or a directory with config.json)");
        }
        if (Files.exists(path.resolve("config.json"))) return path;
        List<Path> ggufs;
        try (Stream<Path> files = Files.list(path)) {
            ggufs = files.filter(p -> p.getFileName().toString().endsWith(".gguf")).sorted().toList();
        } catch (IOException e) {
            throw new ModelFormatException(path + ": cannot list directory (" + e.getMessage() + ")", e);
        }
        if (ggufs.size() == 1) return ggufs.getFirst();
        if (ggufs.isEmpty()) throw new ModelFormatException(path + ": no config.json and no .gguf file in this directory");
        throw new ModelFormatException(path + ": several .gguf files " + ggufs.stream().map(p -> p.getFileName().toString()).toList()
                + "; name one");
    }

    /** The model file or directory. */
    public Path path() { return path; }

    public Format format() { return format; }

    /** The directory of the model's companion files (tokenizer.json, preprocessor_config.json, ...). */
    public Path directory() {
        return format == Format.HF_DIRECTORY ? path : path.toAbsolutePath().getParent();
    }

    /** Owner of the mapped files. */
    public TrackedArena arena() { return arena; }

    /** The GGUF file (format GGUF only). */
    public GgufFile gguf() {
        if (gguf == null) throw new IllegalStateException(path + " is not a GGUF file");
        return gguf;
    }

    /** config.json (Hugging Face directories only). */
    public JsonNode config() {
        if (config == null) throw new IllegalStateException(path + " is not a Hugging Face directory");
        return config;
    }

    /** The path of config.json, named in config errors. */
    public Path configPath() { return path.resolve("config.json"); }

    /** The directory's safetensors (one file or shards), mapped on first use. */
    public WeightFile safetensors() {
        if (format != Format.HF_DIRECTORY) throw new IllegalStateException(path + " is not a Hugging Face directory");
        if (safetensors == null) safetensors = ShardedSafetensors.open(path, arena);
        return safetensors;
    }

    /**
     * What the files say the model is: GGUF {@code general.architecture}, Hugging Face {@code model_type}
     * (or the first of {@code architectures}), or "onnx" for an ONNX export.
     */
    public String architecture() {
        return switch (format) {
            case GGUF -> gguf.optional("general.architecture", String.class, "");
            case ONNX -> "onnx";
            case HF_DIRECTORY -> {
                String type = config.path("model_type").asText("");
                yield !type.isEmpty() ? type : config.path("architectures").path(0).asText("");
            }
        };
    }

    @Override
    public String toString() { return path.toString(); }
}
