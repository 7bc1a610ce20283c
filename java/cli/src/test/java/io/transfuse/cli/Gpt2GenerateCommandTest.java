package io.transfuse.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code transfuse make-model --preset gpt2-tiny} writes the same random GPT-2 as GGUF (with its byte-level
 * vocabulary in the GGUF metadata) and as a Hugging Face directory (Conv1D weights, tokenizer.json), and
 * {@code generate} prints the same greedy text from both: the GGUF tokenizer and layout against the Hugging
 * Face ones (Gpt2ModelTest checks the logits against a plain reference).
 */
class Gpt2GenerateCommandTest {
    @TempDir
    Path dir;

    @Test
    void ggufAndHuggingFaceFormsGenerateTheSameText() {
        Path gguf = dir.resolve("gpt2.gguf"), hf = dir.resolve("gpt2-hf");
        assertEquals(0, MainTest.run("make-model", "--preset", "gpt2-tiny", gguf.toString()).code());
        assertEquals(0, MainTest.run("make-model", "--preset", "gpt2-tiny", "--format", "safetensors", hf.toString()).code());
        String prompt = "the weather in the north";
        MainTest.Run a = MainTest.run("generate", "--model", gguf.toString(), "--temperature", "0", "--max-tokens", "24", prompt);
        MainTest.Run b = MainTest.run("generate", "--model", hf.toString(), "--temperature", "0", "--max-tokens", "24", prompt);
        assertEquals(0, a.code(), a.err());
        assertEquals(0, b.code(), b.err());
        assertTrue(a.out().startsWith(prompt) && a.out().length() > prompt.length() + 8, a.out());
        assertEquals(b.out(), a.out());
    }
}
