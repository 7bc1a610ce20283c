package io.transfuse.model.swin;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.transfuse.ImageClassifier;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.loader.Json;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.memory.TrackedArena;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Broken Swin directories and images the stages cannot take: one clear message each, naming what is wrong. */
class SwinErrorsTest {
    @TempDir Path tmp;

    /** A copy of the fixture model with its config.json edited by {@code edit}. */
    private Path variant(String name, Consumer<ObjectNode> edit) throws Exception {
        return variant("swin-tiny", name, edit);
    }

    private Path variant(String model, String name, Consumer<ObjectNode> edit) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve(name));
        for (String f : new String[] {"config.json", "model.safetensors", "preprocessor_config.json"}) {
            Files.copy(SwinFixture.model(model).resolve(f), dir.resolve(f), StandardCopyOption.REPLACE_EXISTING);
        }
        ObjectNode config = (ObjectNode) Json.read(dir.resolve("config.json"));
        edit.accept(config);
        Files.writeString(dir.resolve("config.json"), config.toString());
        return dir;
    }

    private String loadError(Path dir) {
        long before = TrackedArena.bytesInUse();
        var e = assertThrows(ModelFormatException.class, () -> Transfuse.loadClassifier(dir, LoadOptions.defaults()));
        assertEquals(before, TrackedArena.bytesInUse(), "a failed load frees what it mapped");
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        return e.getMessage();
    }

    @Test
    void missingTensorIsNamed() throws Exception {
        String m = loadError(variant("deeper", c -> ((ArrayNode) c.get("depths")).set(1, 3)));
        assertTrue(m.contains("tensor 'swin.encoder.layers.1.blocks.2.layernorm_before.weight' is missing"), m);
    }

    @Test
    void wrongWindowShowsInTheBiasTableShape() throws Exception {
        // window 14 fits the grids (28, 14, 7) but not the stored 13 x 13 bias tables
        String m = loadError(variant("window14", c -> c.put("window_size", 14)));
        assertTrue(m.contains("tensor 'swin.encoder.layers.0.blocks.0.attention.self.relative_position_bias_table' has shape [169, 1]")
                && m.contains("implies [729, 1]"), m);
        m = loadError(variant("window8", c -> c.put("window_size", 8)));
        assertTrue(m.contains("image_size 112: stage 0's token grid 28x28 is not a whole number of 8x8 windows"), m);
    }

    @Test
    void inconsistentDepthsAndHeads() throws Exception {
        String m = loadError(variant("heads", c -> ((ArrayNode) c.get("num_heads")).remove(2)));
        assertTrue(m.contains("'depths' has 3 stages [2, 2, 2] but 'num_heads' has 2 [1, 2]"), m);
        m = loadError(variant("heads3", c -> ((ArrayNode) c.get("num_heads")).set(0, 3)));
        assertTrue(m.contains("stage 0 width 32 is not a multiple of num_heads[0] = 3"), m);
    }

    @Test
    void imageSizeTheStagesCannotTake() throws Exception {
        String m = loadError(variant("size196", c -> c.put("image_size", 196)));
        assertTrue(m.contains("image_size 196: stage 1's patch merging needs an even token grid, got 49x49"), m);
        m = loadError(variant("size100", c -> c.put("image_size", 100)));
        assertTrue(m.contains("image_size 100: stage 0's token grid 25x25 is not a whole number of 7x7 windows"), m);
        m = loadError(variant("size102", c -> c.put("image_size", 102)));
        assertTrue(m.contains("image_size 102: the image 102x102 is not a whole number of 4-pixel patches"), m);
    }

    @Test
    void preprocessedImageTheStagesCannotTake() throws Exception {
        Path dir = variant("pre", c -> { });
        // 104 x 112 pixels: a 26 x 28 token grid, not a whole number of 7 x 7 windows
        Files.writeString(dir.resolve("preprocessor_config.json"),
                Files.readString(dir.resolve("preprocessor_config.json")).replaceFirst("\"width\": 112", "\"width\": 104"));
        try (ImageClassifier clf = Transfuse.loadClassifier(dir, LoadOptions.defaults())) {
            var e = assertThrows(IllegalArgumentException.class, () -> clf.classify(SwinFixture.image(), 3));
            assertTrue(e.getMessage().contains("stage 0's token grid 26x28 is not a whole number of 7x7 windows"), e.getMessage());
        }
    }

    @Test
    void v2ImageTooSmallForItsPositionBiasWindows() throws Exception {
        Path dir = variant("swinv2-tiny", "v2small", c -> { });
        // 64 x 64 pixels: stage 2's grid is 4 x 4, but its continuous position bias was built for 8 x 8 windows
        Files.writeString(dir.resolve("preprocessor_config.json"), Files.readString(dir.resolve("preprocessor_config.json"))
                .replaceFirst("\"width\": 128", "\"width\": 64").replaceFirst("\"height\": 128", "\"height\": 64"));
        try (ImageClassifier clf = Transfuse.loadClassifier(dir, LoadOptions.defaults())) {
            var e = assertThrows(IllegalArgumentException.class, () -> clf.classify(SwinFixture.image(), 3));
            assertTrue(e.getMessage().contains("a 4x4 token grid in stage 2 needs 4x4 windows; the model's position bias is for 8x8"),
                    e.getMessage());
        }
    }

    @Test
    void v2MissingTensorIsNamed() throws Exception {
        String m = loadError(variant("swinv2-tiny", "v2deeper", c -> ((ArrayNode) c.get("depths")).set(2, 3)));
        assertTrue(m.contains("tensor 'swinv2.encoder.layers.2.blocks.2.layernorm_before.weight' is missing"), m);
    }
}
