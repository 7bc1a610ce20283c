package io.transfuse.model;

import io.transfuse.backend.Backend;
import io.transfuse.loader.Json;
import io.transfuse.loader.ModelPath;
import io.transfuse.loader.ShardedSafetensors;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tokenizer.Tokenizer;
import io.transfuse.tokenizer.hf.HfTokenizer;

import java.nio.file.Files;
import java.nio.file.Path;

/** Builds a {@link MambaModel} from a Hugging Face MambaForCausalLM directory (config.json, safetensors, tokenizer.json). */
public final class MambaLoader {
    private MambaLoader() {}

    /** True when {@code model} is a Hugging Face directory whose config.json describes a Mamba-1 LM. */
    public static boolean isMamba(ModelPath model) {
        return model.format() == ModelPath.Format.HF_DIRECTORY
                && MambaConfig.isMamba(Json.read(model.path().resolve("config.json")));
    }

    /** The graph over the directory's weights (mapped into {@code arena}), with a workspace for {@code chunk} tokens. */
    public static MambaModel load(Path directory, TrackedArena arena, Backend backend, int chunk) {
        MambaConfig config = MambaConfig.read(directory.resolve("config.json"));
        return new MambaModel(config, weights(directory, config, arena), backend, arena, chunk);
    }

    /** The directory's weights (mapped into {@code arena}), checked against {@code config}: for graphs on other devices too. */
    public static MambaWeights weights(Path directory, MambaConfig config, TrackedArena arena) {
        return MambaWeights.from(ShardedSafetensors.open(directory, arena), config);
    }

    /** The directory's tokenizer.json (Mamba checkpoints ship GPT-NeoX's byte-level BPE), or null when it has none. */
    public static Tokenizer tokenizer(Path directory) {
        Path file = directory.resolve("tokenizer.json");
        return Files.isRegularFile(file) ? HfTokenizer.load(file) : null;
    }
}
