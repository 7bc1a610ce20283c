package io.transfuse.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** make-model and bench as a user runs them. */
class MakeModelAndBenchCommandTest {
    @TempDir Path dir;

    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(code, out.toString(), err.toString());
    }

    static void assertOneLineError(Run r, String fragment) {
        assertNotEquals(0, r.code);
        String line = r.err.strip();
        assertEquals(1, line.lines().count(), r.err);
        assertTrue(line.startsWith("transfuse: ") && line.contains(fragment), line);
    }

    @Test
    void makesATinyModelAndBenchesIt() throws IOException {
        Path model = dir.resolve("t.gguf"), json = dir.resolve("b.json");
        Run m = run("make-model", "--dim", "64", "--layers", "1", "--heads", "4", "--hidden", "64", "--vocab", "300",
                "--context", "64", "--dtype", "q8_0", "--seed", "3", model.toString());
        assertEquals(0, m.code, m.err);
        assertTrue(Files.size(model) > 0);
        Files.writeString(dir.resolve("plain.txt"), "x"); // what the umask gives any new file (the model was 0600)
        assertEquals(Files.getPosixFilePermissions(dir.resolve("plain.txt")), Files.getPosixFilePermissions(model));
        Run b = run("bench", "--model", model.toString(), "--prompt-tokens", "8", "--gen-tokens", "4", "--threads", "1",
                "--repetitions", "1", "--warmup", "0", "--json", json.toString());
        assertEquals(0, b.code, b.err);
        assertTrue(b.out.contains("prefill tok/s") && b.out.contains("decode tok/s") && b.out.contains("decode GB/s"), b.out);
        JsonNode j = new ObjectMapper().readTree(Files.readString(json));
        assertEquals(64, j.get("dim").asInt());
        assertEquals("Q8_0", j.get("dtype").asText());
        assertEquals(1, j.get("decode_tok_s").size());
        assertTrue(j.get("decode_gb_s_stats").get("median").asDouble() > 0);
    }

    /**
     * bench on a Mamba directory (it threw ClassCastException: the bench read a Llama config) and on GPT-2 reports the
     * architecture's own shape; --device picks the backend (cuda-emu: the CUDA path on the host emulator).
     */
    @Test
    void benchesMambaAndGpt2OnTheDeviceAsked() throws IOException {
        Path mamba = dir.resolve("mamba"), gpt2 = dir.resolve("gpt2.gguf"), json = dir.resolve("m.json");
        assertEquals(0, run("make-model", "--preset", "mamba-tiny", mamba.toString()).code);
        assertEquals(0, run("make-model", "--preset", "gpt2-tiny", gpt2.toString()).code);
        Run b = run("bench", "--model", mamba.toString(), "--device", "cpu", "--prompt-tokens", "8", "--gen-tokens", "4",
                "--threads", "1", "--repetitions", "1", "--warmup", "0", "--json", json.toString());
        assertEquals(0, b.code, b.err);
        assertTrue(b.out.contains("mamba") && b.out.contains("d_inner") && b.out.contains("decode tok/s") && b.out.contains("device cpu"), b.out);
        JsonNode j = new ObjectMapper().readTree(Files.readString(json));
        assertEquals("mamba", j.get("architecture").asText());
        assertEquals(0, j.get("heads").asInt());
        Run g = run("bench", "--model", gpt2.toString(), "--device", "cuda-emu", "--prompt-tokens", "4", "--gen-tokens", "2",
                "--threads", "1", "--repetitions", "1", "--warmup", "0");
        assertEquals(0, g.code, g.err);
        assertTrue(g.out.contains("gpt2") && g.out.contains("device cuda-emu") && g.out.contains("decode tok/s"), g.out);
        Run e = run("bench", "--model", mamba.toString(), "--engine", "--concurrency", "2", "--prompt-tokens", "4",
                "--gen-tokens", "3", "--threads", "1", "--repetitions", "1", "--warmup", "0");
        assertEquals(0, e.code, e.err);
        assertOneLineError(run("bench", "--model", mamba.toString(), "--device", "tpu"), "tpu");
    }

    /** Progress on stderr that is not a terminal (here a writer; in use a log file) is plain lines, never \r. */
    @Test
    void progressIsPlainLinesWhenStderrIsNotATerminal() {
        Run m = run("make-model", "--dim", "64", "--layers", "2", "--heads", "4", "--hidden", "64", "--vocab", "300",
                "--context", "64", dir.resolve("p.gguf").toString());
        assertEquals(0, m.code, m.err);
        assertFalse(m.err.contains("\r"), m.err);
        assertTrue(m.err.lines().anyMatch(l -> l.startsWith("make-model: wrote")), m.err);
        assertTrue(m.err.lines().count() >= 3, "expected the header, a progress line and the summary:\n" + m.err);
    }

    /** An .onnx encoder takes the encoder branch: texts/s of embed calls of --batch texts of exactly --text-tokens tokens. */
    @Test
    void benchesAnEncoder() throws IOException {
        Path onnx = EmbedCommandTest.extract("all-minilm-l6-v2"), json = dir.resolve("e.json");
        Run b = run("bench", "--model", onnx.toString(), "--batch", "3", "--text-tokens", "9", "--threads", "1",
                "--repetitions", "2", "--warmup", "0", "--json", json.toString());
        assertEquals(0, b.code, b.err);
        assertTrue(b.out.contains("encoder, hidden 384, 6 layers") && b.out.contains("texts/s"), b.out);
        JsonNode j = new ObjectMapper().readTree(Files.readString(json));
        assertEquals(3, j.get("batch").asInt());
        assertEquals(9, j.get("tokens_per_text").asInt());
        assertEquals(2, j.get("texts_s").size());
        assertTrue(j.get("texts_s_stats").get("min").asDouble() > 0);
        assertOneLineError(run("bench", "--model", onnx.toString(), "--batch", "0"), "--batch must be >= 1");
    }

    @Test
    void clearErrors() {
        assertOneLineError(run("make-model", "--dim", "65", dir.resolve("x.gguf").toString()), "not divisible by");
        assertOneLineError(run("make-model", "--dim", "64", "--heads", "4", "--layers", "1", "--vocab", "300",
                dir.resolve("no/such/dir/x.gguf").toString()), "cannot write");
        assertOneLineError(run("make-model", "--dtype", "q4", dir.resolve("x.gguf").toString()), "--dtype");
        assertOneLineError(run("bench", "--model", dir.resolve("missing.gguf").toString()), "missing.gguf");
        assertFalse(Files.exists(dir.resolve("x.gguf")));
        assertEquals(0, run("make-model", "--help").code);
        assertEquals(0, run("bench", "--help").code);
    }
}
