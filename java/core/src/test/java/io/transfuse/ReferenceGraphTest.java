package io.transfuse;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.backend.ReferenceBackend;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Llama graph on the plain-Java reference backend reproduces llama2.c's logits: this checks
 * the graph (weights, layouts, RoPE, GQA) independently of the native CPU kernels.
 */
class ReferenceGraphTest {
    @Test
    void referenceBackendMatchesLlama2cLogits() {
        JsonNode ref = TestModels.reference();
        int[] prompt = TestModels.ints(ref.get("prompt_ids"));
        for (var path : new java.nio.file.Path[] {TestModels.storiesGguf(), TestModels.storiesHf()}) {
            try (LanguageModel m = Transfuse.load(path, LoadOptions.defaults().withMaxSequences(2), new ReferenceBackend());
                 Session s = m.newSession()) {
                float[] logits = new float[512];
                s.feed(new int[] {prompt[0]}, logits);
                assertClose(TestModels.doubles(ref.get("logits_pos0_first8")), logits, path + " pos 0");
                s.feed(new int[] {prompt[1]}, logits);
                assertClose(TestModels.doubles(ref.get("logits_pos1_first8")), logits, path + " pos 1");
            }
        }
    }

    static void assertClose(double[] expected, float[] actual, String where) {
        for (int i = 0; i < expected.length; i++) {
            assertTrue(Math.abs(expected[i] - actual[i]) <= 1e-4, where + " logit " + i + ": expected " + expected[i] + ", got " + actual[i]);
        }
    }
}
