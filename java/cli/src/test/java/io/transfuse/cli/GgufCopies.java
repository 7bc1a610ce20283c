package io.transfuse.cli;

import io.transfuse.loader.GgufFile;
import io.transfuse.loader.GgufWriter;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Map;

/** Copies of an F32 GGUF file with metadata changed (a chat template added), for the CLI tests (core has the same helper for its own). */
final class GgufCopies {
    private GgufCopies() {}

    /** Writes {@code source} to {@code target} with {@code changes} applied (a null value removes the key). */
    static Path withMetadata(Path source, Path target, Map<String, Object> changes) {
        try (TrackedArena arena = new TrackedArena("gguf copy")) {
            GgufFile in = GgufFile.open(source, arena);
            GgufWriter out = new GgufWriter();
            in.metadata().forEach((k, v) -> {
                if (!changes.containsKey(k) && !k.equals("general.alignment")) out.put(k, v);
            });
            changes.forEach((k, v) -> {
                if (v != null) out.put(k, v);
            });
            for (Tensor t : in.tensors().values()) {
                if (t.dtype() != DType.F32) throw new IllegalArgumentException(source + ": tensor " + t.name() + " is " + t.dtype() + ", not F32");
                out.addTensor(t.name(), DType.F32, t.shape(), t.data().toArray(ValueLayout.JAVA_FLOAT));
            }
            out.write(target);
        }
        return target;
    }
}
