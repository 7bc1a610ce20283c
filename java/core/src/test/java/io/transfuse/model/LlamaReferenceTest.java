package io.transfuse.model;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.GenerateOptions;
import io.transfuse.GenerationResult;
import io.transfuse.LanguageModel;
import io.transfuse.Session;
import io.transfuse.TestModels;
import io.transfuse.Transfuse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** stories260K on the CPU against llama2.c's outputs, and the GGUF form against the safetensors form. */
class LlamaReferenceTest {
    static final JsonNode REF = TestModels.reference();
    static LanguageModel gguf;
    static LanguageModel hf;

    @BeforeAll
    static void load() {
        gguf = Transfuse.load(TestModels.storiesGguf());
        hf = Transfuse.load(TestModels.storiesHf());
    }

    @AfterAll
    static void close() {
        gguf.close();
        hf.close();
    }

    @Test
    void greedyGenerationMatchesLlama2c() {
        int[] expected = TestModels.ints(REF.get("greedy_from_bos_200_steps").get("ids"));
        StringBuilder streamed = new StringBuilder();
        GenerationResult r = gguf.generate(REF.get("prompt").asText(), GenerateOptions.defaults().withMaxTokens(60), streamed::append);
        assertArrayEquals(Arrays.copyOf(expected, 65), r.tokens());
        assertEquals(60, r.generatedTokens());
        String fullText = REF.get("greedy_from_bos_200_steps").get("text").asText();
        String printed = REF.get("prompt").asText() + streamed;
        assertTrue(fullText.startsWith(printed) && printed.length() > 150, "printed text diverges from the reference: " + printed);
        assertEquals(streamed.toString(), r.text());
    }

    @Test
    void firstLogitsMatchLlama2c() {
        int[] prompt = TestModels.ints(REF.get("prompt_ids"));
        float[] logits = new float[512];
        try (Session s = gguf.newSession()) {
            s.feed(new int[] {prompt[0]}, logits);
            assertClose(TestModels.doubles(REF.get("logits_pos0_first8")), logits, 1e-4);
            s.feed(new int[] {prompt[1]}, logits);
            assertClose(TestModels.doubles(REF.get("logits_pos1_first8")), logits, 1e-4);
        }
    }

    @Test
    void ggufAndSafetensorsGiveTheSameLogits() {
        int[] tokens = Arrays.copyOf(TestModels.ints(REF.get("greedy_from_bos_200_steps").get("ids")), 40);
        float[] a = new float[512], b = new float[512];
        try (Session sa = gguf.newSession(); Session sb = hf.newSession()) {
            // a prefill chunk, then single-token decode steps: both paths of the graph
            sa.feed(tokens, 0, 30, a);
            sb.feed(tokens, 0, 30, b);
            assertClose(toDouble(a), b, 1e-5);
            for (int i = 30; i < tokens.length; i++) {
                sa.feed(tokens, i, 1, a);
                sb.feed(tokens, i, 1, b);
                assertClose(toDouble(a), b, 1e-5);
            }
        }
    }

    @Test
    void prefillInOneGoEqualsTokenByToken() {
        int[] tokens = Arrays.copyOf(TestModels.ints(REF.get("greedy_from_bos_200_steps").get("ids")), 25);
        float[] all = new float[512], stepwise = new float[512];
        try (Session s1 = gguf.newSession(); Session s2 = gguf.newSession()) {
            s1.feed(tokens, all);
            for (int i = 0; i < tokens.length; i++) s2.feed(tokens, i, 1, stepwise);
            assertClose(toDouble(all), stepwise, 1e-4);
        }
    }

    static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    static void assertClose(double[] expected, float[] actual, double tolerance) {
        for (int i = 0; i < expected.length; i++) {
            double diff = Math.abs(expected[i] - actual[i]);
            if (diff > tolerance) {
                throw new AssertionError("logit " + i + ": expected " + expected[i] + " but got " + actual[i]
                        + " (difference " + diff + " > " + tolerance + ")");
            }
        }
    }
}
