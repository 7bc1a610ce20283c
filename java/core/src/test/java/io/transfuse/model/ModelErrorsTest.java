package io.transfuse.model;

import io.transfuse.GenerateOptions;
import io.transfuse.LanguageModel;
import io.transfuse.TestModels;
import io.transfuse.Transfuse;
import io.transfuse.TransfuseException;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.SamplingOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad models, prompts and options fail with one clear message naming the fault. */
class ModelErrorsTest {
    @TempDir
    Path dir;

    Path hfCopyWithConfig(String from, String to) throws IOException {
        Path model = dir.resolve("model");
        Files.createDirectories(model);
        Files.copy(TestModels.storiesHf().resolve("model.safetensors"), model.resolve("model.safetensors"));
        String config = Files.readString(TestModels.storiesHf().resolve("config.json"));
        assertTrue(config.contains(from), "fixture config lacks " + from);
        Files.writeString(model.resolve("config.json"), config.replace(from, to));
        return model;
    }

    @Test
    void missingModel() {
        Path p = dir.resolve("missing.gguf");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Transfuse.load(p));
        assertTrue(e.getMessage().contains(p.toString()) && e.getMessage().contains("no such file"), e.getMessage());
    }

    @Test
    void tensorShapeNotMatchingConfig() throws IOException {
        Path model = hfCopyWithConfig("\"intermediate_size\": 172", "\"intermediate_size\": 171");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Transfuse.load(model));
        assertTrue(e.getMessage().contains("'model.layers.0.mlp.gate_proj.weight'") && e.getMessage().contains("[172, 64]"), e.getMessage());
    }

    @Test
    void inconsistentHeadCounts() throws IOException {
        Path model = hfCopyWithConfig("\"num_key_value_heads\": 4", "\"num_key_value_heads\": 3");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Transfuse.load(model));
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("key/value heads"), e.getMessage());
    }

    @Test
    void unsupportedArchitecture() throws IOException {
        Path model = hfCopyWithConfig("\"model_type\": \"llama\"", "\"model_type\": \"gpt_neox\"");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Transfuse.load(model));
        assertTrue(e.getMessage().contains("gpt_neox"), e.getMessage());
    }

    @Test
    void missingTensor() throws IOException {
        Path model = hfCopyWithConfig("\"num_hidden_layers\": 5", "\"num_hidden_layers\": 6");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Transfuse.load(model));
        assertTrue(e.getMessage().matches(".*tensor 'model\\.layers\\.5\\.[a-z_.]+weight' is missing.*"), e.getMessage());
    }

    @Test
    void promptLongerThanTheContext() {
        try (LanguageModel m = Transfuse.load(TestModels.storiesGguf())) {
            String prompt = "Once upon a time there was a dragon. ".repeat(100);
            TransfuseException e = assertThrows(TransfuseException.class,
                    () -> m.generate(prompt, GenerateOptions.defaults(), s -> {}));
            assertTrue(e.getMessage().contains("prompt is") && e.getMessage().contains("context holds 512"), e.getMessage());
        }
    }

    @Test
    void invalidOptionValues() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new SamplingOptions(-1, 0, 1, 0)).getMessage().contains("temperature"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new SamplingOptions(1, -3, 1, 0)).getMessage().contains("topK"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new SamplingOptions(1, 0, 0, 0)).getMessage().contains("topP"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new SamplingOptions(1, 0, 1.5f, 0)).getMessage().contains("topP"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> GenerateOptions.defaults().withMaxTokens(-1)).getMessage().contains("maxTokens"));
    }
}
