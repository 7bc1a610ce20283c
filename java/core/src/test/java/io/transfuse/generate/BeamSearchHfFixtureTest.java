package io.transfuse.generate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Beam search and greedy decoding against Hugging Face transformers' own (5.18.0) on a toy model: the fixture
 * hf_beam_search.json and the command that made it are in src/test/resources/generate
 * (make_hf_beam_fixture.py). The case configs go through {@link GenerationConfigFiles} as generation_config.json
 * content; all inputs of a case run as one batch (HF ran each alone).
 */
class BeamSearchHfFixtureTest {
    @TestFactory
    List<DynamicTest> matchesTransformers() throws Exception {
        JsonNode root;
        try (InputStream in = getClass().getResourceAsStream("/generate/hf_beam_search.json")) {
            root = new ObjectMapper().readTree(in);
        }
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : root.get("cases")) {
            tests.add(DynamicTest.dynamicTest(c.get("name").asText(), () -> check(c)));
        }
        assertTrue(tests.size() >= 8, "fixture cases");
        return tests;
    }

    private static void check(JsonNode c) {
        GenerationConfig config = GenerationConfigFiles.parse(c.get("config"), null, "hf_beam_search.json case");
        long[] seeds = new long[c.get("seeds").size()];
        for (int i = 0; i < seeds.length; i++) seeds[i] = c.get("seeds").get(i).asLong();
        int[][] prompts = new int[seeds.length][];
        for (int i = 0; i < seeds.length; i++) prompts[i] = ints(c.get("prompts").get(i));
        ToyBeamModel model = new ToyBeamModel(ToyBeamModel.hashed(seeds, c.get("vocab").asInt(), c.get("eos_boost").asInt()));
        boolean greedy = c.get("mode").asText().equals("greedy");
        List<List<Hypothesis>> got = greedy
                ? GreedySearch.run(model, prompts, config).stream().map(List::of).toList()
                : BeamSearch.run(model, prompts, config);
        assertTrue(model.closed, "the search closes the model");
        for (int i = 0; i < seeds.length; i++) {
            JsonNode expected = c.get("expected").get(i);
            assertEquals(expected.size(), got.get(i).size(), "input " + i + ": hypotheses");
            for (int k = 0; k < expected.size(); k++) {
                Hypothesis h = got.get(i).get(k);
                String what = "input " + i + ", hypothesis " + k + ": got " + Arrays.toString(h.tokens()) + " score " + h.score();
                assertArrayEquals(ints(expected.get(k).get("tokens")), h.tokens(), what);
                if (!greedy) assertEquals(expected.get(k).get("score").asDouble(), h.score(), 2e-6, what);
            }
        }
    }

    private static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }
}
