package io.transfuse.cli;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.transfuse.cuda.jcuda.GpuProbe;
import io.transfuse.tokenizer.hf.Encoding;
import io.transfuse.tokenizer.hf.HfTokenizer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static io.transfuse.cli.MainTest.assertOneLineError;
import static io.transfuse.cli.MainTest.run;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * {@code transfuse embed} and {@code transfuse convert} as a user runs them, on the real
 * all-MiniLM-L6-v2 and bge-small-en-v1.5 ONNX exports (from the langchain4j jars on Maven Central):
 * the printed embeddings agree with ONNX Runtime on the same file (cosine >= 0.9999 per text), on the
 * CPU and with {@code --device cuda-emu}.
 */
class EmbedCommandTest {
    static final List<String> TEXTS = List.of("Hello world", "Café naïve résumé", "你好世界，日本語のテキスト",
            "Emoji 😀🚀 and punctuation?!", "", "word " .repeat(300) + "truncated");
    static final ObjectMapper JSON = new ObjectMapper();

    @AfterEach
    void restoreStdin() {
        EmbedCommand.stdin = System.in;
    }

    static Path extract(String name) throws IOException {
        Path dir = Path.of("target", "encoders", name).toAbsolutePath();
        Path onnx = dir.resolve("model.onnx");
        if (!Files.isRegularFile(onnx)) {
            Files.createDirectories(dir);
            copy("/" + name + "-tokenizer.json", dir.resolve("tokenizer.json"));
            copy("/" + name + ".onnx", onnx);
        }
        return onnx;
    }

    private static void copy(String resource, Path target) throws IOException {
        try (InputStream in = EmbedCommandTest.class.getResourceAsStream(resource)) {
            assertNotNull(in, "test classpath lacks " + resource);
            Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    static List<float[]> parse(String out, List<String> texts) throws IOException {
        List<float[]> e = new ArrayList<>();
        List<String> lines = out.lines().toList();
        assertEquals(texts.size(), lines.size(), out);
        for (int i = 0; i < lines.size(); i++) {
            JsonNode line = JSON.readTree(lines.get(i));
            assertEquals(texts.get(i), line.get("text").asText());
            JsonNode arr = line.get("embedding");
            float[] v = new float[arr.size()];
            for (int d = 0; d < v.length; d++) v[d] = arr.get(d).floatValue();
            e.add(v);
        }
        return e;
    }

    /** ONNX Runtime's last_hidden_state, pooled (mean or CLS) and L2-normalised. */
    static List<float[]> onnxRuntime(Path onnx, List<String> texts, boolean cls) throws Exception {
        HfTokenizer tok = HfTokenizer.load(onnx.resolveSibling("tokenizer.json"));
        int max = tok.modelMaxLength() > 0 ? Math.min(512, tok.modelMaxLength()) : 512;
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        List<float[]> out = new ArrayList<>();
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions(); OrtSession s = env.createSession(onnx.toString(), o)) {
            for (String text : texts) {
                Encoding e = tok.encode(text, true, max);
                int n = e.length();
                long[][] ids = new long[1][n], mask = new long[1][n], types = new long[1][n];
                for (int i = 0; i < n; i++) {
                    ids[0][i] = e.ids()[i];
                    mask[0][i] = 1;
                }
                try (var a = ai.onnxruntime.OnnxTensor.createTensor(env, ids); var b = ai.onnxruntime.OnnxTensor.createTensor(env, mask);
                     var c = ai.onnxruntime.OnnxTensor.createTensor(env, types);
                     var r = s.run(Map.of("input_ids", a, "attention_mask", b, "token_type_ids", c))) {
                    float[][] h = ((float[][][]) r.get(0).getValue())[0];
                    int rows = cls ? 1 : n;
                    double[] acc = new double[h[0].length];
                    for (int t = 0; t < rows; t++) for (int d = 0; d < acc.length; d++) acc[d] += h[t][d] / rows;
                    double norm = 0;
                    for (double v : acc) norm += v * v;
                    float[] v = new float[acc.length];
                    for (int d = 0; d < v.length; d++) v[d] = (float) (acc[d] / Math.sqrt(norm));
                    out.add(v);
                }
            }
        }
        return out;
    }

    static void assertAgree(List<float[]> want, List<float[]> got, String where) {
        for (int i = 0; i < want.size(); i++) {
            double dot = 0, a = 0, b = 0;
            for (int d = 0; d < want.get(i).length; d++) {
                dot += (double) want.get(i)[d] * got.get(i)[d];
                a += (double) want.get(i)[d] * want.get(i)[d];
                b += (double) got.get(i)[d] * got.get(i)[d];
            }
            double cos = dot / Math.sqrt(a * b);
            assertTrue(cos >= 0.9999, where + " text " + i + ": cosine " + cos);
        }
    }

    @Test
    void miniLmFromArgumentsAgreesWithOnnxRuntime() throws Exception {
        Path onnx = extract("all-minilm-l6-v2");
        MainTest.Run r = run(concat(List.of("embed", "--model", onnx.toString()), TEXTS));
        assertEquals(0, r.code(), r.err());
        List<float[]> got = parse(r.out(), TEXTS);
        assertEquals(384, got.getFirst().length);
        assertAgree(onnxRuntime(onnx, TEXTS, false), got, "MiniLM");
    }

    @Test
    void bgeFromStdinWithClsPoolingAgreesWithOnnxRuntime() throws Exception {
        Path onnx = extract("bge-small-en-v1.5");
        List<String> lines = TEXTS.stream().filter(t -> !t.isEmpty()).toList(); // an empty line is a text too, but keep lines unambiguous
        EmbedCommand.stdin = new ByteArrayInputStream((String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));
        MainTest.Run r = run("embed", "--model", onnx.toString(), "--pooling", "cls", "--batch", "2");
        assertEquals(0, r.code(), r.err());
        assertAgree(onnxRuntime(onnx, lines, true), parse(r.out(), lines), "BGE");
    }

    /**
     * Lines from stdin are answered as they arrive: the first line's embedding is printed while stdin is still
     * open (it used to wait for --batch lines or the end of input), and agrees with ONNX Runtime.
     */
    @Test
    void stdinStreamsLineByLine() throws Exception {
        Path onnx = extract("all-minilm-l6-v2");
        java.io.PipedOutputStream typed = new java.io.PipedOutputStream();
        EmbedCommand.stdin = new java.io.PipedInputStream(typed, 1 << 16);
        java.io.StringWriter out = new java.io.StringWriter(), err = new java.io.StringWriter();
        java.util.concurrent.CompletableFuture<Integer> code = java.util.concurrent.CompletableFuture.supplyAsync(() ->
                Main.run(new String[] {"embed", "--model", onnx.toString()}, new java.io.PrintWriter(out, true), new java.io.PrintWriter(err, true)));
        typed.write("Hello world\n".getBytes(StandardCharsets.UTF_8));
        typed.flush();
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (out.toString().lines().count() < 1 && !code.isDone() && System.nanoTime() < deadline) Thread.sleep(20);
        assertEquals(1, out.toString().lines().count(), "no embedding printed while stdin is open; stderr: " + err);
        typed.write("Café naïve résumé\n".getBytes(StandardCharsets.UTF_8));
        typed.close();
        assertEquals(0, code.get(120, java.util.concurrent.TimeUnit.SECONDS), err.toString());
        List<String> texts = List.of("Hello world", "Café naïve résumé");
        assertAgree(onnxRuntime(onnx, texts, false), parse(out.toString(), texts), "MiniLM streamed");
    }

    @Test
    void miniLmAndBgeOnCudaEmuAgreeWithOnnxRuntime() throws Exception {
        Path minilm = extract("all-minilm-l6-v2");
        MainTest.Run r = run(concat(List.of("embed", "--model", minilm.toString(), "--device", "cuda-emu"), TEXTS));
        assertEquals(0, r.code(), r.err());
        assertAgree(onnxRuntime(minilm, TEXTS, false), parse(r.out(), TEXTS), "MiniLM on cuda-emu");
        Path bge = extract("bge-small-en-v1.5");
        // BGE's 12 layers on the emulator: the short texts here (BertOnnxAgreementCudaEmuTest in java/cuda runs the long ones too)
        List<String> short_ = TEXTS.subList(0, TEXTS.size() - 1);
        r = run(concat(List.of("embed", "--model", bge.toString(), "--device", "cuda-emu", "--pooling", "cls", "--batch", "3"), short_));
        assertEquals(0, r.code(), r.err());
        assertAgree(onnxRuntime(bge, short_, true), parse(r.out(), short_), "BGE on cuda-emu");
    }

    @Test
    void cudaWithoutGpuFailsWithOneLine() throws IOException {
        assumeFalse(GpuProbe.present(), "a GPU is present");
        assertOneLineError(run("embed", "--model", extract("all-minilm-l6-v2").toString(), "--device", "cuda", "hi"), 1,
                "no CUDA device/driver was found");
        assertOneLineError(run("embed", "--model", extract("all-minilm-l6-v2").toString(), "--device", "tpu", "hi"), 2, "tpu", "cuda-emu");
    }

    @Test
    void convertThenEmbedTheDirectory(@TempDir Path tmp) throws Exception {
        Path onnx = extract("all-minilm-l6-v2");
        Path out = tmp.resolve("minilm-hf");
        MainTest.Run c = run("convert", onnx.toString(), out.toString());
        assertEquals(0, c.code(), c.err());
        for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json", "modules.json", "1_Pooling/config.json"}) {
            assertTrue(Files.isRegularFile(out.resolve(f)), f);
        }
        assertTrue(Files.isDirectory(out.resolve("2_Normalize")), "modules.json names 2_Normalize");
        // The weights get the umask's mode like config.json beside them (they were 0600).
        assertEquals(Files.getPosixFilePermissions(out.resolve("config.json")), Files.getPosixFilePermissions(out.resolve("model.safetensors")));
        MainTest.Run r = run(concat(List.of("embed", "--model", out.toString(), "--batch", "4"), TEXTS));
        assertEquals(0, r.code(), r.err());
        assertAgree(onnxRuntime(onnx, TEXTS, false), parse(r.out(), TEXTS), "converted MiniLM");
    }

    @Test
    void usageAndModelErrors(@TempDir Path tmp) throws IOException {
        assertOneLineError(run("embed", "hi"), 2, "--model");
        Path onnx = extract("all-minilm-l6-v2");
        assertOneLineError(run("embed", "--model", onnx.toString(), "--pooling", "max", "hi"), 2, "--pooling", "max");
        assertOneLineError(run("embed", "--model", onnx.toString(), "--batch", "0", "hi"), 2, "batch");
        assertOneLineError(run("embed", "--model", "/nonexistent/model.onnx", "hi"), 1, "/nonexistent/model.onnx", "no such file");
        Path lonely = tmp.resolve("lonely");
        Files.createDirectories(lonely);
        Files.copy(onnx, lonely.resolve("model.onnx"));
        assertOneLineError(run("embed", "--model", lonely.resolve("model.onnx").toString(), "hi"), 1, "tokenizer.json");
        Path garbage = tmp.resolve("garbage.onnx");
        Files.write(garbage, new byte[] {(7 << 3) | 2, 100, 1});
        Files.copy(onnx.resolveSibling("tokenizer.json"), tmp.resolve("tokenizer.json"));
        assertOneLineError(run("convert", garbage.toString(), tmp.resolve("out").toString()), 1, "garbage.onnx", "byte");
        assertOneLineError(run("convert", tmp.toString(), tmp.resolve("out").toString()), 2, ".onnx");
        assertOneLineError(run("convert", onnx.toString()), 2, "OUTDIR");
    }

    private static String[] concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all.toArray(String[]::new);
    }
}
