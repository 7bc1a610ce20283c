package io.transfuse.model.mamba;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.transfuse.Transfuse;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.RandomMamba2Model;
import io.transfuse.loader.RandomMambaModel;
import io.transfuse.loader.SafetensorsWriter;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.*;

/** Malformed Mamba-2 configs and weights fail at load with one message naming the file and the field or tensor. */
class Mamba2ErrorsTest {
    private static final RandomMamba2Model.Shape S = RandomMamba2Model.Shape.TINY; // 2 heads of 64, 1 group, state 16

    @TempDir
    Path dir;

    private int made;

    /** A TINY model whose config was edited and whose tensor {@code drop} (or none) is left out. */
    private Path model(Consumer<ObjectNode> editConfig, String drop) {
        Path m = dir.resolve("m" + made++);
        RandomMamba2Model.write(m, S, DType.F32, 1, msg -> { });
        ObjectNode config = RandomMamba2Model.config(S);
        editConfig.accept(config);
        RandomMambaModel.writeText(m.resolve("config.json"), config.toPrettyString());
        if (drop != null) {
            SafetensorsWriter w = new SafetensorsWriter();
            for (RandomMambaModel.TensorSpec t : RandomMamba2Model.tensors(S)) {
                if (!t.name().equals(drop)) w.addTensor(t.name(), DType.F32, t.shape(), new float[t.count()]);
            }
            w.write(m.resolve("model.safetensors"), msg -> { });
        }
        return m;
    }

    private static void fails(Path model, String... parts) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Transfuse.load(model).close());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        for (String p : parts) assertTrue(e.getMessage().contains(p), "message should contain " + p + ": " + e.getMessage());
    }

    @Test
    void headsTimesHeadDimMustBeTheMixerWidth() {
        fails(model(c -> c.put("num_heads", 3), null), "config.json", "num_heads * head_dim = 3 * 64 = 192", "expand * hidden_size = 128");
    }

    @Test
    void headsMustBeAMultipleOfGroups() {
        fails(model(c -> c.put("n_groups", 3), null), "num_heads = 2", "n_groups = 3");
    }

    @Test
    void unsupportedOptionsAreNamed() {
        fails(model(c -> c.put("state_size", 256), null), "'state_size' = 256", "at most 128");
        fails(model(c -> c.putArray("time_step_limit").add(0.001).add(0.1), null), "time_step_limit");
        fails(model(c -> c.put("norm_before_gate", true), null), "norm_before_gate");
    }

    @Test
    void missingTensorsAreNamed() {
        fails(model(c -> { }, "backbone.layers.1.mixer.norm.weight"), "backbone.layers.1.mixer.norm.weight");
        fails(model(c -> { }, "backbone.layers.0.mixer.dt_bias"), "backbone.layers.0.mixer.dt_bias");
        fails(model(c -> c.put("tie_word_embeddings", false), null), "lm_head.weight");
    }

    @Test
    void wrongShapeIsNamed() {
        // state_size 8 in the config, 16 in the file: in_proj and the conv have other rows
        fails(model(c -> c.put("state_size", 8), null), "mixer.in_proj.weight");
    }

    @Test
    void realConfigWithInfinityLoads() throws Exception {
        // HF writes time_step_limit as [0.0, Infinity] (Python's json, not strict JSON): the default, accepted
        Path m = model(c -> c.putArray("time_step_limit").add(0.0).add(Double.POSITIVE_INFINITY), null);
        Path config = m.resolve("config.json");
        String text = java.nio.file.Files.readString(config).replace("\"Infinity\"", "Infinity");
        assertTrue(text.contains(" Infinity"), text);
        java.nio.file.Files.writeString(config, text);
        Transfuse.load(m).close();
    }
}
