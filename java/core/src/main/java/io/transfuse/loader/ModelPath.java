package io.transfuse.loader;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Where a model's files are and in which format. A path may be a GGUF file, a Hugging Face
 * directory (config.json + safetensors), or a directory holding exactly one GGUF file.
 */
public record ModelPath(Path path, Format format) {
    public enum Format { GGUF, HF_DIRECTORY }

    public static ModelPath resolve(Path path) {
        if (!Files.exists(path)) throw new ModelFormatException(path + ": no such file or directory");
        if (Files.isRegularFile(path)) {
            if (path.getFileName().toString().endsWith(".gguf")) return new ModelPath(path, Format.GGUF);
            throw new ModelFormatException(path + ": not a model (expected a .gguf file or a directory with config.json)");
        }
        if (Files.exists(path.resolve("config.json"))) return new ModelPath(path, Format.HF_DIRECTORY);
        List<Path> ggufs;
        try (Stream<Path> files = Files.list(path)) {
            ggufs = files.filter(p -> p.getFileName().toString().endsWith(".gguf")).sorted().toList();
        } catch (IOException e) {
            throw new ModelFormatException(path + ": cannot list directory (" + e.getMessage() + ")", e);
        }
        if (ggufs.size() == 1) return new ModelPath(ggufs.getFirst(), Format.GGUF);
        if (ggufs.isEmpty()) throw new ModelFormatException(path + ": no config.json and no .gguf file in this directory");
        throw new ModelFormatException(path + ": several .gguf files " + ggufs.stream().map(p -> p.getFileName().toString()).toList()
                + "; name one");
    }
}
