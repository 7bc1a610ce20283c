package io.transfuse.cli;

import io.transfuse.GenerateOptions;
import io.transfuse.LanguageModel;
import io.transfuse.Transfuse;
import io.transfuse.loader.RandomMambaModel;
import io.transfuse.SamplingOptions;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code transfuse generate --model DIR} on a random-weight Mamba directory prints the greedy
 * continuation the library produces (which MambaGenerateTest checks against the plain reference).
 */
class MambaGenerateCommandTest {
    @TempDir
    Path dir;

    @Test
    void generateOnAMambaDirectory() {
        RandomMambaModel.write(dir, RandomMambaModel.Shape.TINY, DType.F32, 11, msg -> { });
        String prompt = "the weather in the south";
        String expected;
        try (LanguageModel lm = Transfuse.load(dir)) {
            expected = lm.generate(prompt, new GenerateOptions(20, SamplingOptions.greedy()), piece -> { }).text();
        }
        assertTrue(!expected.isEmpty(), "the library generated nothing");
        MainTest.Run r = MainTest.run("generate", "--model", dir.toString(), "--temperature", "0", "--max-tokens", "20", prompt);
        assertEquals(0, r.code(), r.err());
        assertEquals(prompt + expected + System.lineSeparator(), r.out());
        assertTrue(r.err().contains("decode:") && r.err().contains("tok/s"), r.err());
    }

    /** {@code --device cuda-emu} runs the Mamba graph on the CUDA backend (host emulator) and prints what cpu prints. */
    @Test
    void generateOnCudaEmuPrintsWhatCpuPrints() {
        // An untied head: with the tied tiny preset every greedy step repeats the last token.
        RandomMambaModel.write(dir, new RandomMambaModel.Shape(64, 2, 16, 4, 2, 0, false, false, true), DType.F32, 5, msg -> { });
        String prompt = "the weather in the south";
        MainTest.Run cpu = MainTest.run("generate", "--device", "cpu", "--model", dir.toString(), "--temperature", "0", "--max-tokens", "16", prompt);
        MainTest.Run emu = MainTest.run("generate", "--device", "cuda-emu", "--model", dir.toString(), "--temperature", "0", "--max-tokens", "16", prompt);
        assertEquals(0, cpu.code(), cpu.err());
        assertEquals(0, emu.code(), emu.err());
        assertTrue(cpu.out().length() > prompt.length() + 4, cpu.out());
        assertEquals(cpu.out(), emu.out());
        assertTrue(emu.err().contains("decode:") && emu.err().contains("tok/s"), emu.err());
    }

    @Test
    void makeModelWritesAMambaDirectoryThatGenerates() {
        Path model = dir.resolve("mamba");
        MainTest.Run made = MainTest.run("make-model", "--preset", "mamba-tiny", "--dtype", "f16", model.toString());
        assertEquals(0, made.code(), made.err());
        for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json"}) {
            assertTrue(Files.isRegularFile(model.resolve(f)), f + " missing");
        }
        MainTest.Run r = MainTest.run("generate", "--model", model.toString(), "--temperature", "0", "--max-tokens", "5", "on the");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("on the") && r.err().contains("decode:"), r.out() + r.err());
        MainTest.assertOneLineError(MainTest.run("make-model", "--preset", "mamba-tiny", "--dtype", "q8_0", dir.resolve("q").toString()),
                2, "f32 and f16");
    }

    @Test
    void mambaDirectoryWithoutWeightsIsOneLineError() throws Exception {
        RandomMambaModel.write(dir, RandomMambaModel.Shape.TINY, DType.F32, 11, msg -> { });
        Files.delete(dir.resolve("model.safetensors"));
        MainTest.Run r = MainTest.run("generate", "--model", dir.toString(), "hi");
        MainTest.assertOneLineError(r, 1, "no model.safetensors");
    }
}
