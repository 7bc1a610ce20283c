package io.transfuse.cli;

import io.transfuse.loader.GgufFile;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static io.transfuse.cli.MakeModelAndBenchCommandTest.assertOneLineError;
import static io.transfuse.cli.MakeModelAndBenchCommandTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** quantize as a user runs it: an F32 model into Q4_K_M, the per-tensor types in the output, clear errors. */
class QuantizeCommandTest {
    @TempDir Path dir;

    @Test
    void f32ToQ4KmWithLlamaCppPerTensorTypes() {
        Path f32 = dir.resolve("f32.gguf"), q = dir.resolve("q4km.gguf");
        assertEquals(0, run("make-model", "--preset", "kquant-tiny", "--seed", "3", f32.toString()).code());
        var r = run("quantize", f32.toString(), q.toString(), "q4_k_m");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("output.weight -> Q6_K") && r.err().contains("wrote"), r.err());
        assertTrue(r.err().lines().anyMatch(l -> l.startsWith("quantize: ") && l.contains("output.weight -> Q6_K")) && !r.err().contains("\r"),
                "progress as plain lines off a terminal: " + r.err());
        try (TrackedArena a = new TrackedArena("test")) {
            GgufFile f = GgufFile.open(q, a);
            assertEquals(DType.Q6_K, f.tensors().get("output.weight").dtype());
            assertEquals(DType.Q4_K, f.tensors().get("token_embd.weight").dtype());
            assertEquals(DType.Q4_K, f.tensors().get("blk.0.attn_v.weight").dtype()); // use_more_bits(0, 4) is false
            assertEquals(DType.Q6_K, f.tensors().get("blk.2.attn_v.weight").dtype()); // (2 - 0) % 3 == 2
            assertEquals(DType.Q6_K, f.tensors().get("blk.3.ffn_down.weight").dtype()); // last eighth
            assertEquals(DType.F32, f.tensors().get("blk.0.attn_norm.weight").dtype());
            assertEquals(15L, f.metadata().get("general.file_type"));
            assertEquals("llama", f.metadata().get("general.architecture"));
        }
    }

    /** A Hugging Face directory in, as a user downloads one: converted and quantised in one step, vocabulary included. */
    @Test
    void huggingFaceDirectoryToQ4Km() {
        Path hf = dir.resolve("qwen3-hf"), q = dir.resolve("qwen3-q4km.gguf");
        assertEquals(0, run("make-model", "--preset", "qwen3-tiny", "--format", "safetensors", hf.toString()).code());
        var r = run("quantize", hf.toString(), q.toString(), "q4_k_m");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("converting Hugging Face directory") && r.err().contains("output.weight -> Q6_K"), r.err());
        try (TrackedArena a = new TrackedArena("test")) {
            GgufFile f = GgufFile.open(q, a);
            assertEquals("qwen3", f.metadata().get("general.architecture"));
            assertEquals(DType.Q4_K, f.tensors().get("blk.0.attn_q.weight").dtype());
            assertEquals(DType.F32, f.tensors().get("blk.0.attn_q_norm.weight").dtype());
            assertEquals("llama", f.metadata().get("tokenizer.ggml.model"));
            assertEquals(512, ((String[]) f.metadata().get("tokenizer.ggml.tokens")).length);
        }
        var g = run("generate", "--model", q.toString(), "--max-tokens", "4", "--temperature", "0", "once upon a time");
        assertEquals(0, g.code(), g.err());
        assertOneLineError(run("quantize", dir.toString(), dir.resolve("o.gguf").toString(), "q8_0"), "no config.json");
    }

    @Test
    void clearErrors() {
        Path f32 = dir.resolve("f32.gguf"), q8 = dir.resolve("q8.gguf");
        assertEquals(0, run("make-model", "--preset", "kquant-tiny", f32.toString()).code());
        assertOneLineError(run("quantize", f32.toString(), dir.resolve("o.gguf").toString(), "q3_k_s"), "q3_k_s");
        assertOneLineError(run("quantize", dir.resolve("missing.gguf").toString(), dir.resolve("o.gguf").toString(), "q8_0"), "missing.gguf");
        assertFalse(Files.exists(dir.resolve("o.gguf")));
        assertEquals(0, run("quantize", f32.toString(), q8.toString(), "q8_0").code());
        assertOneLineError(run("quantize", q8.toString(), dir.resolve("o.gguf").toString(), "q4_k_m"), "is Q8_0");
    }
}
