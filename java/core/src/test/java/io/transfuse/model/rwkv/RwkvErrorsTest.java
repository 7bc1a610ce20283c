package io.transfuse.model.rwkv;

import io.transfuse.Transfuse;
import io.transfuse.loader.GgufFile;
import io.transfuse.loader.GgufWriter;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.RandomRwkvModel;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Dequantize;
import io.transfuse.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Malformed RWKV GGUF files fail at load with one line naming the file and the key or tensor at fault. */
class RwkvErrorsTest {
    @TempDir
    Path dir;

    private int made;

    /** The rwkv7-tiny (or rwkv6-tiny) model rewritten with metadata {@code key} set to {@code value} (null: removed) and tensor {@code drop} left out. */
    private Path model(String preset, String key, Object value, String drop) {
        Path src = dir.resolve(preset + ".gguf");
        if (!src.toFile().exists()) RandomRwkvModel.writeGguf(src, RandomRwkvModel.Shape.preset(preset), DType.F32, 1, m -> { });
        Path out = dir.resolve("m" + made++ + ".gguf");
        try (TrackedArena arena = new TrackedArena("rewrite")) {
            GgufFile f = GgufFile.open(src, arena);
            GgufWriter w = new GgufWriter();
            for (Map.Entry<String, Object> e : f.metadata().entrySet()) {
                Object v = e.getValue();
                if (e.getKey().equals(key)) v = value;
                if (v == null) continue;
                if (v instanceof Long l) v = (int) (long) l;
                if (v instanceof long[] ls) v = java.util.Arrays.stream(ls).mapToInt(x -> (int) x).toArray();
                w.put(e.getKey(), v);
            }
            if (key != null && value != null && !f.metadata().containsKey(key)) w.put(key, value);
            for (Map.Entry<String, Tensor> e : f.tensors().entrySet()) {
                if (e.getKey().equals(drop)) continue;
                w.addTensor(e.getKey(), DType.F32, e.getValue().shape(), Dequantize.toFloats(e.getValue()));
            }
            w.write(out);
        }
        return out;
    }

    private static void fails(Path model, String... parts) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Transfuse.load(model).close());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        for (String p : parts) assertTrue(e.getMessage().contains(p), "message should contain " + p + ": " + e.getMessage());
    }

    @Test
    void missingTensorsAreNamed() {
        fails(model("rwkv7-tiny", null, null, "blk.1.time_mix_k_k.weight"), "blk.1.time_mix_k_k.weight", "missing");
        fails(model("rwkv6-tiny", null, null, "blk.2.time_mix_first.weight"), "blk.2.time_mix_first.weight", "missing");
    }

    @Test
    void headSizeMismatchIsNamed() {
        // 192 wide: 40 does not divide it; 96 divides it but time_mix_first / the states disagree elsewhere
        fails(model("rwkv7-tiny", "rwkv7.wkv.head_size", 40, null), "rwkv7.wkv.head_size' = 40", "192");
        fails(model("rwkv6-tiny", "rwkv6.wkv.head_size", 64, null), "time_mix_first.weight", "[2, 64]");
    }

    @Test
    void unknownVersionsAndMissingKeysAreNamed() {
        fails(model("rwkv7-tiny", "general.architecture", "rwkv5", null), "architecture 'rwkv5' is not supported");
        fails(model("rwkv7-tiny", "rwkv7.attention.iclr_lora_rank", null, null), "rwkv7.attention.iclr_lora_rank", "missing");
        fails(model("rwkv6-tiny", "rwkv6.token_shift_count", 1, null), "token_shift_count' = 1");
    }

    @Test
    void wrongLowRankIsNamed() {
        fails(model("rwkv7-tiny", "rwkv7.attention.decay_lora_rank", 32, null), "time_mix_w1.weight");
    }
}
