package io.transfuse.quantize;

import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.RandomVariantModel;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Hugging Face directories quantize cannot convert: each error names the file and what is wrong, and no output is left. */
class HfToGgufErrorsTest {
    @TempDir
    Path dir;

    private void assertFails(Path in, String... parts) {
        Path out = dir.resolve("out.gguf");
        Exception e = assertThrows(RuntimeException.class, () -> ModelQuantizer.quantize(in, out, QuantPreset.Q8_0, msg -> { }));
        for (String part : parts) assertTrue(e.getMessage().contains(part), "'" + part + "' missing from: " + e.getMessage());
        assertFalse(Files.exists(out), "no output after a failure");
    }

    private Path hfModel(String name) {
        Path hf = dir.resolve(name);
        RandomVariantModel.writeHf(hf, RandomVariantModel.preset("qwen2-tiny"), DType.F16, 1, msg -> { });
        return hf;
    }

    @Test
    void missingConfigJson() throws Exception {
        Path hf = hfModel("no-config");
        Files.delete(hf.resolve("config.json"));
        assertFails(hf, "no-config", "no config.json");
    }

    @Test
    void unsupportedModelType() throws Exception {
        Path hf = hfModel("bert");
        Path config = hf.resolve("config.json");
        Files.writeString(config, Files.readString(config).replace("\"model_type\": \"qwen2\"", "\"model_type\": \"bert\""));
        assertFails(hf, "config.json", "model_type 'bert'", "qwen2");
    }

    @Test
    void nonFloatTensor() throws Exception {
        Path hf = hfModel("int8");
        // The same directory with an int8 embedding: a safetensors file written by hand (8-byte header length, JSON, data).
        String header = "{\"model.embed_tokens.weight\":{\"dtype\":\"I8\",\"shape\":[512,256],\"data_offsets\":[0,131072]}}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        bytes.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
        bytes.write(h);
        bytes.write(new byte[131072]);
        Files.write(hf.resolve("model.safetensors"), bytes.toByteArray());
        assertFails(hf, "model.safetensors", "model.embed_tokens.weight", "I8");
    }

    @Test
    void tensorOfAnotherModel() throws Exception {
        Path hf = hfModel("extra");
        Path config = hf.resolve("config.json");
        // One layer fewer in the config: layer 1's tensors are left over.
        Files.writeString(config, Files.readString(config).replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 1"));
        assertFails(hf, "extra", "model.layers.1.", "config.json describes (1 layers)", "does not know where it goes");
    }

    @Test
    void missingTokenizer() throws Exception {
        Path hf = hfModel("no-tokenizer");
        Files.delete(hf.resolve("tokenizer.json"));
        assertFails(hf, "no-tokenizer", "no tokenizer.json");
    }
}
