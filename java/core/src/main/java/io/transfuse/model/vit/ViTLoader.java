package io.transfuse.model.vit;

import io.transfuse.backend.Backend;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.ShardedSafetensors;
import io.transfuse.memory.TrackedArena;

import java.nio.file.Files;
import java.nio.file.Path;

/** Builds a ViT/DeiT classifier from a Hugging Face directory (config.json, safetensors, preprocessor_config.json). */
public final class ViTLoader {
    private ViTLoader() {}

    /** The graph over weights mapped into {@code arena}. */
    public static ViTModel load(Path dir, Backend ops, TrackedArena arena) {
        Path config = dir.resolve("config.json");
        if (!Files.isRegularFile(config)) throw new ModelFormatException(dir + ": no config.json (expected a Hugging Face model directory)");
        ViTConfig c = ViTConfig.read(config);
        return new ViTModel(c, ViTWeights.from(ShardedSafetensors.open(dir, arena), c), ops, arena);
    }
}
