package io.transfuse.model.mamba;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.transfuse.Transfuse;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.RandomMambaModel;
import io.transfuse.loader.RandomMambaModel.Shape;
import io.transfuse.loader.RandomMambaModel.TensorSpec;
import io.transfuse.loader.SafetensorsWriter;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.*;

/** Malformed Mamba configs and weights fail at load with one message naming the file and the field or tensor. */
class MambaErrorsTest {
    private static final Shape S = Shape.TINY; // dInner 128, dState 16, conv 4, dtRank 4

    @TempDir
    Path dir;

    /** A TINY model whose config and tensor list were edited; tensors whose spec maps to null are left out. */
    private Path model(Consumer<ObjectNode> editConfig, UnaryOperator<TensorSpec> editTensor) {
        Path m = dir.resolve("m");
        RandomMambaModel.write(m, S, DType.F32, 1, msg -> { });
        ObjectNode config = RandomMambaModel.config(S);
        editConfig.accept(config);
        RandomMambaModel.writeText(m.resolve("config.json"), config.toPrettyString());
        SafetensorsWriter w = new SafetensorsWriter();
        for (TensorSpec t : RandomMambaModel.tensors(S)) {
            TensorSpec e = editTensor.apply(t);
            if (e != null) w.addTensor(e.name(), DType.F32, e.shape(), new float[e.count()]);
        }
        w.write(m.resolve("model.safetensors"), msg -> { });
        return m;
    }

    private void fails(Path model, String... parts) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Transfuse.load(model).close());
        for (String p : parts) assertTrue(e.getMessage().contains(p), "message should contain " + p + ": " + e.getMessage());
    }

    private void badConfig(Consumer<ObjectNode> edit, String... parts) {
        Path m = model(edit, t -> t);
        String[] all = java.util.Arrays.copyOf(parts, parts.length + 1);
        all[parts.length] = m.resolve("config.json").toString();
        fails(m, all);
    }

    @Test
    void malformedConfigs() {
        badConfig(c -> c.remove("hidden_size"), "'hidden_size' is missing");
        badConfig(c -> c.remove("num_hidden_layers"), "'num_hidden_layers' is missing");
        badConfig(c -> c.remove("vocab_size"), "'vocab_size' is missing");
        badConfig(c -> c.put("state_size", -1), "'state_size' must be positive, got -1");
        badConfig(c -> c.put("num_hidden_layers", 0), "'num_hidden_layers' must be positive, got 0");
        badConfig(c -> c.put("intermediate_size", -128), "'intermediate_size' must be positive");
        badConfig(c -> c.put("expand", 0).remove("intermediate_size"), "'expand' must be positive");
        badConfig(c -> c.put("conv_kernel", 5), "'conv_kernel' = 5 is not supported");
        badConfig(c -> c.put("state_size", 512), "'state_size' = 512 is not supported");
        badConfig(c -> c.put("hidden_size", "wide"), "'hidden_size' must be an integer");
        badConfig(c -> c.put("time_step_rank", "big"), "'time_step_rank' must be an integer or \"auto\"");
        badConfig(c -> c.put("time_step_rank", -3), "'time_step_rank' must be positive, got -3");
        badConfig(c -> c.put("layer_norm_epsilon", -1e-5), "'layer_norm_epsilon' must be a positive number");
        badConfig(c -> c.put("use_bias", "yes"), "'use_bias' must be true or false");
        badConfig(c -> c.put("hidden_act", "gelu"), "'hidden_act' = 'gelu' is not supported");
    }

    @Test
    void mambaSsmNamesAndDefaults() throws Exception {
        // mamba_ssm's own field names, HF defaults for everything else (dt_rank "auto" = ceil(768 / 16))
        var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(
                "{\"model_type\": \"mamba\", \"d_model\": 768, \"n_layer\": 24, \"vocab_size\": 50277, \"ssm_cfg\": {\"d_state\": 8}}");
        MambaConfig c = MambaConfig.from(json, Path.of("config.json"));
        assertEquals(768, c.dModel());
        assertEquals(24, c.layers());
        assertEquals(8, c.dState());
        assertEquals(4, c.dConv());
        assertEquals(1536, c.dInner());
        assertEquals(48, c.dtRank());
        assertTrue(c.tiedEmbeddings() && c.useConvBias() && !c.useBias());
        var mamba2 = new com.fasterxml.jackson.databind.ObjectMapper().readTree(
                "{\"model_type\": \"mamba\", \"d_model\": 768, \"n_layer\": 24, \"vocab_size\": 50277, \"ssm_cfg\": {\"layer\": \"Mamba2\"}}");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> MambaConfig.from(mamba2, Path.of("config.json")));
        assertTrue(e.getMessage().contains("'ssm_cfg.layer'"), e.getMessage());
    }

    @Test
    void missingTensors() {
        fails(model(c -> { }, t -> t.name().equals("backbone.layers.1.mixer.A_log") ? null : t),
                "tensor 'backbone.layers.1.mixer.A_log' is missing");
        fails(model(c -> { }, t -> t.name().equals("backbone.embeddings.weight") ? null : t),
                "tensor 'backbone.embeddings.weight' is missing");
        fails(model(c -> { }, t -> t.name().equals("backbone.norm_f.weight") ? null : t),
                "tensor 'backbone.norm_f.weight' is missing");
        // use_bias promises biases the file lacks
        fails(model(c -> c.put("use_bias", true), t -> t), "tensor 'backbone.layers.0.mixer.in_proj.bias' is missing");
        // an untied head must be in the file
        fails(model(c -> c.put("tie_word_embeddings", false), t -> t), "tensor 'lm_head.weight' is missing");
    }

    @Test
    void misshapenTensors() {
        fails(model(c -> { }, t -> t.name().endsWith("0.mixer.conv1d.weight") ? new TensorSpec(t.name(), new long[] {128, 4}) : t),
                "tensor 'backbone.layers.0.mixer.conv1d.weight' has shape [128, 4]", "implies [128, 1, 4]");
        fails(model(c -> { }, t -> t.name().endsWith("1.mixer.x_proj.weight") ? new TensorSpec(t.name(), new long[] {36, 64}) : t),
                "tensor 'backbone.layers.1.mixer.x_proj.weight' has shape [36, 64]", "implies [36, 128]");
        // a config that disagrees with the file: state_size 8 makes A_log's and x_proj's shapes wrong
        fails(model(c -> c.put("state_size", 8), t -> t), "tensor 'backbone.layers.0.mixer.x_proj.weight'", "implies [20, 128]");
        // vocab_size beyond the embedding's rows (padding may only add rows)
        fails(model(c -> c.put("vocab_size", 1000), t -> t), "tensor 'backbone.embeddings.weight' has shape [280, 64]", ">= 1000 (vocab_size)");
    }
}
