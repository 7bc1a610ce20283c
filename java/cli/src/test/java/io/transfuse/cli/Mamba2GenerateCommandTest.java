package io.transfuse.cli;

import io.transfuse.GenerateOptions;
import io.transfuse.LanguageModel;
import io.transfuse.Transfuse;
import io.transfuse.SamplingOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code transfuse make-model --preset mamba2-tiny} writes a Mamba-2 directory (config.json, model.safetensors,
 * tokenizer.json) and {@code transfuse generate --model DIR} prints the greedy continuation the library produces
 * (Mamba2ModelTest checks the graph against the NumPy reference); a broken config is a one-line error.
 */
class Mamba2GenerateCommandTest {
    @TempDir
    Path dir;

    @Test
    void generateOnAMamba2Directory() {
        Path model = dir.resolve("mamba2");
        MainTest.Run made = MainTest.run("make-model", "--preset", "mamba2-tiny", model.toString());
        assertEquals(0, made.code(), made.err());
        for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json"}) {
            assertTrue(Files.isRegularFile(model.resolve(f)), f + " missing");
        }
        String prompt = "the weather in the south";
        String expected;
        try (LanguageModel lm = Transfuse.load(model)) {
            expected = lm.generate(prompt, new GenerateOptions(12, SamplingOptions.greedy()), piece -> { }).text();
        }
        assertTrue(!expected.isEmpty(), "the library generated nothing");
        MainTest.Run r = MainTest.run("generate", "--model", model.toString(), "--temperature", "0", "--max-tokens", "12", prompt);
        assertEquals(0, r.code(), r.err());
        assertEquals(prompt + expected + System.lineSeparator(), r.out());
        assertTrue(r.err().contains("decode:") && r.err().contains("tok/s"), r.err());
    }

    @Test
    void inconsistentHeadsAreOneLineError() throws Exception {
        Path model = dir.resolve("bad");
        assertEquals(0, MainTest.run("make-model", "--preset", "mamba2-tiny", model.toString()).code());
        Path config = model.resolve("config.json");
        String text = Files.readString(config);
        assertTrue(text.contains("\"num_heads\" : 2"), text);
        Files.writeString(config, text.replace("\"num_heads\" : 2", "\"num_heads\" : 3"));
        MainTest.assertOneLineError(MainTest.run("generate", "--model", model.toString(), "hi"), 1, "num_heads * head_dim");
    }
}
