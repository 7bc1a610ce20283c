package io.transfuse.loader;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;

/** The safetensors weights of a Hugging Face model directory: one file, or shards listed in an index. */
public final class ShardedSafetensors implements WeightFile {
    private final Path directory;
    private final Map<String, Tensor> tensors;

    private ShardedSafetensors(Path directory, Map<String, Tensor> tensors) {
        this.directory = directory;
        this.tensors = Collections.unmodifiableMap(tensors);
    }

    public static ShardedSafetensors open(Path directory, TrackedArena arena) {
        Path single = directory.resolve("model.safetensors");
        Path index = directory.resolve("model.safetensors.index.json");
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        if (Files.exists(single)) {
            tensors.putAll(SafetensorsFile.open(single, arena).tensors());
        } else if (Files.exists(index)) {
            JsonNode weightMap = Json.read(index).path("weight_map");
            if (!weightMap.isObject()) throw new ModelFormatException(index + ": no 'weight_map' object");
            TreeSet<String> shards = new TreeSet<>();
            for (Iterator<JsonNode> it = weightMap.elements(); it.hasNext(); ) shards.add(it.next().asText());
            for (String shard : shards) {
                for (Map.Entry<String, Tensor> e : SafetensorsFile.open(directory.resolve(shard), arena).tensors().entrySet()) {
                    if (tensors.put(e.getKey(), e.getValue()) != null) {
                        throw new ModelFormatException(directory.resolve(shard) + ": tensor '" + e.getKey() + "' also appears in another shard");
                    }
                }
            }
        } else {
            throw new ModelFormatException(directory + ": no model.safetensors or model.safetensors.index.json");
        }
        return new ShardedSafetensors(directory, tensors);
    }

    @Override
    public Path path() { return directory; }

    @Override
    public Map<String, Tensor> tensors() { return tensors; }
}
