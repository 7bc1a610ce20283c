package io.transfuse.model.bert;

import io.transfuse.internal.Internals;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.transfuse.EmbeddingModel;
import io.transfuse.EncoderOptions;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.tokenizer.hf.Encoding;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Real models: Transfuse's embeddings of all-MiniLM-L6-v2 (mean pooling) and bge-small-en-v1.5
 * (CLS pooling), loaded from the .onnx file directly and from the directory `convert` writes, agree
 * with ONNX Runtime running the same .onnx file (last_hidden_state, pooled and normalised the same
 * way in this test) to cosine >= 0.9999 for every text, at batch 1 and in mixed-length batches.
 */
public class OnnxRuntimeAgreementTest {
    public static final List<String> TEXTS = List.of(
            "Hello world",
            "The quick brown fox jumps over the lazy dog.",
            "Café naïve résumé déjà vu — Ünïcödé àçcénts",
            "你好世界，这是一个中文句子。日本語のテキストも。한국어 문장",
            "Punctuation!!! ... ??? (parentheses) [brackets] {braces} \"quotes\" 'single' -- dashes; semi:colons",
            "Emoji 😀🚀🎉 and symbols ©®™ € £ ¥",
            "",
            " ",
            "a",
            "The cat sat on the mat. " .repeat(40) + "This long text is truncated at the model's maximum length.",
            String.join(" ", java.util.Collections.nCopies(700, "token")),
            "Transfuse runs transformer models from Java on CPUs and NVIDIA GPUs.");

    @Test
    void miniLmAgreesWithOnnxRuntime(@TempDir Path tmp) throws Exception {
        check(RealEncoders.miniLm(), Pooling.Mode.MEAN, tmp);
    }

    @Test
    void bgeSmallAgreesWithOnnxRuntime(@TempDir Path tmp) throws Exception {
        check(RealEncoders.bgeSmall(), Pooling.Mode.CLS, tmp);
    }

    private static void check(Path onnx, Pooling.Mode mode, Path tmp) throws Exception {
        Path converted = tmp.resolve("converted");
        EncoderConverter.convert(onnx, converted, new Pooling(mode, true), s -> { });
        List<float[]> reference;
        try (EmbeddingModel direct = Transfuse.loadEncoder(onnx, LoadOptions.defaults(), EncoderOptions.defaults().withPooling(io.transfuse.PoolingMode.valueOf(mode.name())))) {
            reference = onnxRuntime(onnx, direct, mode);
            compare("onnx batch 1", reference, direct, 1, null);
            compare("onnx batch 5", reference, direct, 5, null);
        }
        try (EmbeddingModel dir = Transfuse.loadEncoder(converted, LoadOptions.defaults())) {
            assertEquals(mode.name(), dir.pooling().name(), "pooling read from the converted modules.json");
            assertTrue(dir.normalizes(), "normalisation read from the converted modules.json");
            compare("converted batch 32", reference, dir, 32, null);
        }
        for (int batch : new int[] {3}) { // internal batching: batches of 3 texts of mixed lengths
            try (EmbeddingModel m = Transfuse.loadEncoder(onnx, LoadOptions.defaults(),
                    EncoderOptions.defaults().withPooling(io.transfuse.PoolingMode.valueOf(mode.name())).withBatchSize(batch))) {
                compare("onnx batchSize " + batch, reference, m, batch, m.embed(TEXTS));
            }
        }
    }

    private static void compare(String where, List<float[]> reference, EmbeddingModel model, int batch, float[][] given) {
        float[][] got = given;
        if (got == null) {
            got = new float[TEXTS.size()][];
            for (int start = 0; start < TEXTS.size(); start += batch) {
                List<String> part = TEXTS.subList(start, Math.min(TEXTS.size(), start + batch));
                float[][] e = model.embed(part);
                System.arraycopy(e, 0, got, start, e.length);
            }
        }
        double min = 1;
        for (int i = 0; i < TEXTS.size(); i++) {
            double cos = cosine(reference.get(i), got[i]);
            min = Math.min(min, cos);
            assertTrue(cos >= 0.9999, where + ": text " + i + " cosine " + cos);
        }
        System.out.printf("%s %s: lowest cosine to ONNX Runtime 1 - %.2e%n", model.describe(), where, 1 - min);
    }

    /** ONNX Runtime's last_hidden_state for each text alone (same token ids), pooled and L2-normalised here. */
    public static List<float[]> onnxRuntime(Path onnx, EmbeddingModel model, Pooling.Mode mode) throws Exception {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        List<float[]> out = new ArrayList<>();
        try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions();
             OrtSession session = env.createSession(onnx.toString(), opts)) {
            for (String text : TEXTS) {
                Encoding e = Internals.tokenizer(model).encode(text, true, model.maxTokens());
                int n = e.length();
                long[][] ids = new long[1][n], mask = new long[1][n], types = new long[1][n];
                for (int i = 0; i < n; i++) {
                    ids[0][i] = e.ids()[i];
                    mask[0][i] = 1;
                    types[0][i] = e.typeIds()[i];
                }
                try (ai.onnxruntime.OnnxTensor a = ai.onnxruntime.OnnxTensor.createTensor(env, ids);
                     ai.onnxruntime.OnnxTensor b = ai.onnxruntime.OnnxTensor.createTensor(env, mask);
                     ai.onnxruntime.OnnxTensor c = ai.onnxruntime.OnnxTensor.createTensor(env, types);
                     OrtSession.Result r = session.run(Map.of("input_ids", a, "attention_mask", b, "token_type_ids", c))) {
                    float[][] hidden = ((float[][][]) r.get(0).getValue())[0];
                    int rows = mode == Pooling.Mode.CLS ? 1 : n;
                    double[] acc = new double[hidden[0].length];
                    for (int t = 0; t < rows; t++) for (int d = 0; d < acc.length; d++) acc[d] += hidden[t][d] / rows;
                    double norm = 0;
                    for (double v : acc) norm += v * v;
                    float[] v = new float[acc.length];
                    for (int d = 0; d < acc.length; d++) v[d] = (float) (acc[d] / Math.sqrt(norm));
                    out.add(v);
                }
            }
        }
        return out;
    }

    public static double cosine(float[] a, float[] b) {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += (double) a[i] * b[i];
            na += (double) a[i] * a[i];
            nb += (double) b[i] * b[i];
        }
        return dot / Math.sqrt(na * nb);
    }
}
