package io.transfuse.generate;

import io.transfuse.loader.ModelFormatException;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Small searches worked out by hand (the derivations are in the comments), on a model given as probability
 * tables: token 0 is EOS, 1 = A, 2 = B, 3 = C; a table is chosen by the generated tokens so far, else by the last
 * token. Expected scores are the sums of the logs of the table entries, written out.
 */
class BeamSearchHandTest {
    private static final int EOS = 0, A = 1, B = 2, C = 3;

    /** Probabilities after the generated tokens {@code "1,2"}, else after the last token, else {@code otherwise}. */
    private static ToyBeamModel.Logits table(int promptLength, Map<String, double[]> byGenerated, Map<Integer, double[]> byLast,
                                             double[] otherwise) {
        return (input, prefix) -> {
            StringBuilder key = new StringBuilder();
            for (int i = promptLength; i < prefix.length; i++) key.append(i > promptLength ? "," : "").append(prefix[i]);
            double[] p = byGenerated.get(key.toString());
            if (p == null && prefix.length > promptLength) p = byLast.get(prefix[prefix.length - 1]);
            if (p == null) p = otherwise;
            float[] logits = new float[p.length];
            for (int t = 0; t < p.length; t++) logits[t] = (float) Math.log(p[t]);
            return logits;
        };
    }

    private static double ln(double p) {
        return Math.log(p);
    }

    // Length penalty. After C: A .65, B .25. Step 1 keeps A and B. Step 2: A EOS = ln .65 + ln .5 (-1.1239) ranks first
    // and is kept; running B B (-1.4917), A A (-2.0402). Step 3 is the last (3 new tokens): B B EOS =
    // ln .25 + ln .9 + ln .95 (-1.5430) and A A EOS (-2.9565) rank first and second and are offered.
    private static final ToyBeamModel.Logits LENGTH_MODEL = table(1,
            Map.of("", new double[] {.04, .65, .25, .06},
                    "1", new double[] {.5, .2, .18, .12},
                    "2", new double[] {.04, .03, .9, .03},
                    "2,2", new double[] {.95, .025, .015, .01}),
            Map.of(A, new double[] {.4, .35, .15, .1}, B, new double[] {.3, .2, .4, .1}),
            new double[] {.4, .3, .2, .1});

    private static GenerationConfig beams(int n) {
        return GenerationConfig.defaults().toBuilder().numBeams(n).numReturnSequences(n).eosTokenId(EOS).build();
    }

    @Test
    void lengthPenaltyDividesBySumOfLogprobsByGeneratedLengthWithEos() {
        double aEos = ln(.65) + ln(.5), bbEos = ln(.25) + ln(.9) + ln(.95);
        // length_penalty 0: raw sums, A EOS (-1.124) beats B B EOS (-1.543).
        List<Hypothesis> lp0 = search(LENGTH_MODEL, beams(2).toBuilder().maxNewTokens(3).lengthPenalty(0).build());
        assertHypotheses(lp0, new int[][] {{A, EOS}, {B, B, EOS}}, aEos, bbEos);
        // length_penalty 1: -1.124 / 2 = -0.562 loses to -1.543 / 3 = -0.514.
        List<Hypothesis> lp1 = search(LENGTH_MODEL, beams(2).toBuilder().maxNewTokens(3).lengthPenalty(1).build());
        assertHypotheses(lp1, new int[][] {{B, B, EOS}, {A, EOS}}, bbEos / 3, aEos / 2);
        // length_penalty 2: -1.543 / 9 = -0.171, -1.124 / 4 = -0.281.
        List<Hypothesis> lp2 = search(LENGTH_MODEL, beams(2).toBuilder().maxNewTokens(3).lengthPenalty(2).build());
        assertHypotheses(lp2, new int[][] {{B, B, EOS}, {A, EOS}}, bbEos / 9, aEos / 4);
        assertTrue(lp2.getFirst().endedWithEos());
        assertArrayEquals(new int[] {B, B}, lp2.getFirst().withoutEos());
    }

    // Early stopping, 2 beams, length_penalty 1, up to 5 new tokens. Step 1: A (ln .4) and EOS (ln .3) rank first and
    // second: EOS is kept (-1.204). Step 2: A EOS (ln .4 + ln .5 = -1.609, / 2 = -0.805) ranks first and is kept: two kept.
    //  true: done now (one model step after the start).
    //  false: the best running beam B B (-1.715) / 2 = -0.857 > -1.204, go on. Step 3: B B EOS (-1.766 / 3 = -0.589)
    //    and A A EOS (-3.037 / 3 = -1.012) rank first and second; kept: B B EOS, A EOS. Best running A A A
    //    (-3.170) / 3 = -1.057 < -0.805: done (two model steps).
    //  "never": the best running beam is divided by the longest length, 5: -0.343 and then -0.634 both beat -0.805,
    //    so step 4 runs too; its A A A EOS (-4.086 / 4 = -1.022) is not kept; A A A A (-4.220) / 5 = -0.844: done
    //    (three model steps), same hypotheses.
    private static final ToyBeamModel.Logits EARLY_MODEL = table(1,
            Map.of("", new double[] {.3, .4, .2, .1},
                    "1", new double[] {.5, .3, .15, .05},
                    "2", new double[] {.04, .035, .9, .025},
                    "2,2", new double[] {.95, .025, .015, .01}),
            Map.of(A, new double[] {.4, .35, .15, .1}, B, new double[] {.3, .2, .4, .1}),
            new double[] {.4, .3, .2, .1});

    @Test
    void earlyStoppingTrueFalseAndNever() {
        GenerationConfig base = beams(2).toBuilder().maxNewTokens(5).lengthPenalty(1).build();
        double eos = ln(.3), aEos = ln(.4) + ln(.5), bbEos = ln(.2) + ln(.9) + ln(.95);

        ToyBeamModel whenTrue = new ToyBeamModel(EARLY_MODEL);
        List<Hypothesis> t = BeamSearch.run(whenTrue, new int[][] {{C}}, base.toBuilder().earlyStopping(EarlyStopping.TRUE).build()).getFirst();
        assertHypotheses(t, new int[][] {{A, EOS}, {EOS}}, aEos / 2, eos);
        assertEquals(1, whenTrue.steps);

        ToyBeamModel whenFalse = new ToyBeamModel(EARLY_MODEL);
        List<Hypothesis> f = BeamSearch.run(whenFalse, new int[][] {{C}}, base.toBuilder().earlyStopping(EarlyStopping.FALSE).build()).getFirst();
        assertHypotheses(f, new int[][] {{B, B, EOS}, {A, EOS}}, bbEos / 3, aEos / 2);
        assertEquals(2, whenFalse.steps);

        ToyBeamModel never = new ToyBeamModel(EARLY_MODEL);
        List<Hypothesis> n = BeamSearch.run(never, new int[][] {{C}}, base.toBuilder().earlyStopping(EarlyStopping.NEVER).build()).getFirst();
        assertHypotheses(n, new int[][] {{B, B, EOS}, {A, EOS}}, bbEos / 3, aEos / 2);
        assertEquals(3, never.steps);
    }

    // Forced tokens with 2 beams: the first token is forced to C (log-prob 0), then A (ln .5) and C (ln .35) lead
    // (EOS, ln .1, ranks third: not kept), then the maximum length is one away, so EOS is forced (0) for both.
    @Test
    void forcedBosAndEosScoreZero() {
        ToyBeamModel.Logits model = table(1, Map.of(), Map.of(), new double[] {.1, .5, .05, .35});
        GenerationConfig config = beams(2).toBuilder().maxNewTokens(3).forcedBosTokenId(C).forcedEosTokenIds(List.of(EOS)).build();
        assertHypotheses(search(model, config), new int[][] {{C, A, EOS}, {C, C, EOS}}, ln(.5) / 3, ln(.35) / 3);
        // Greedy: C forced, then A, then EOS forced.
        assertArrayEquals(new int[] {C, A, EOS}, greedy(model, config.toBuilder().numBeams(1).numReturnSequences(1).build()).tokens());
    }

    // No-repeat bigrams, greedy: after A the model prefers B, after B it prefers A. Unbanned: B A B A. With size 2,
    // after A B A the bigram A B exists, so A (next best) follows: A A; then A B and A A both exist: EOS.
    @Test
    void noRepeatNgramBansTheTokenThatWouldRepeatAnNgram() {
        ToyBeamModel.Logits model = table(1, Map.of(), Map.of(A, new double[] {.1, .3, .6}, B, new double[] {.1, .6, .3}),
                new double[] {.1, .3, .6});
        GenerationConfig greedy = GenerationConfig.defaults().toBuilder().eosTokenId(EOS).maxNewTokens(4).build();
        int[][] prompt = {{A}};
        assertArrayEquals(new int[] {B, A, B, A}, GreedySearch.run(new ToyBeamModel(model), prompt, greedy).getFirst().tokens());
        Hypothesis banned = GreedySearch.run(new ToyBeamModel(model), prompt, greedy.toBuilder().noRepeatNgramSize(2).build()).getFirst();
        assertArrayEquals(new int[] {B, A, A, EOS}, banned.tokens());
        assertTrue(banned.endedWithEos());
    }

    // Min length, greedy: EOS is the most likely token (.6) but is banned until the sequence (prompt included) has
    // min_length tokens, or the generated part min_new_tokens.
    @Test
    void minLengthBansEosUntilReached() {
        ToyBeamModel.Logits model = table(1, Map.of(), Map.of(), new double[] {.6, .3, .1});
        GenerationConfig g = GenerationConfig.defaults().toBuilder().eosTokenId(EOS).maxNewTokens(6).build();
        assertArrayEquals(new int[] {EOS}, greedy(model, g).tokens());
        assertArrayEquals(new int[] {A, A, EOS}, greedy(model, g.toBuilder().minNewTokens(2).build()).tokens());
        assertArrayEquals(new int[] {A, A, EOS}, greedy(model, g.toBuilder().minLength(3).build()).tokens());
        assertArrayEquals(new int[] {A, EOS}, greedy(model, g.toBuilder().minLength(2).build()).tokens());
        // A huge max_length allocates nothing up front.
        assertArrayEquals(new int[] {EOS}, greedy(model, g.toBuilder().maxNewTokens(-1).maxLength(Integer.MAX_VALUE).build()).tokens());
        // min_new_tokens wins over min_length (HF's _prepare_generated_length).
        assertArrayEquals(new int[] {A, EOS}, greedy(model, g.toBuilder().minLength(5).minNewTokens(1).build()).tokens());
    }

    // Bad words, greedy after the prompt B: A (.5) is banned everywhere by [[1]], so B (.3) follows, again and again;
    // [[2, 2]] also bans B after B, leaving EOS (.1) over C (.08). An [EOS] entry is ignored.
    @Test
    void badWordsBanSingleTokensAndSequenceEnds() {
        ToyBeamModel.Logits model = table(1, Map.of(), Map.of(), new double[] {.1, .5, .3, .08});
        GenerationConfig g = GenerationConfig.defaults().toBuilder().eosTokenId(EOS).maxNewTokens(3).build();
        ToyBeamModel m = new ToyBeamModel(model);
        assertArrayEquals(new int[] {B, B, B}, GreedySearch.run(m, new int[][] {{B}},
                g.toBuilder().badWordsIds(List.of(List.of(A), List.of(EOS))).build()).getFirst().tokens());
        assertArrayEquals(new int[] {EOS}, GreedySearch.run(new ToyBeamModel(model), new int[][] {{B}},
                g.toBuilder().badWordsIds(List.of(List.of(A), List.of(B, B))).build()).getFirst().tokens());
    }

    @Test
    void batchedInputsMatchEachAlone() {
        ToyBeamModel.Logits logits = ToyBeamModel.hashed(new long[] {5, 6, 7, 8}, 9, 10);
        GenerationConfig config = beams(3).toBuilder().maxNewTokens(9).lengthPenalty(1.3).noRepeatNgramSize(2).build();
        int[][] prompts = {{3}, {4, 5, 6}, {7, 7}, {2}};
        List<List<Hypothesis>> together = BeamSearch.run(new ToyBeamModel(logits), prompts, config);
        for (int i = 0; i < prompts.length; i++) {
            int input = i;
            ToyBeamModel.Logits alone = (ignored, prefix) -> logits.after(input, prefix);
            List<Hypothesis> one = BeamSearch.run(new ToyBeamModel(alone), new int[][] {prompts[i]}, config).getFirst();
            for (int k = 0; k < one.size(); k++) {
                assertArrayEquals(one.get(k).tokens(), together.get(i).get(k).tokens(), "input " + i);
                assertEquals(one.get(k).score(), together.get(i).get(k).score(), "input " + i);
            }
        }
    }

    @Test
    void badInputsAreClearErrors() {
        ToyBeamModel.Logits model = table(1, Map.of(), Map.of(), new double[] {.1, .5, .3, .1});
        GenerationConfig config = beams(2).toBuilder().source("m/generation_config.json").maxLength(3).build();
        var tooLong = assertThrows(IllegalArgumentException.class, () -> BeamSearch.run(new ToyBeamModel(model), new int[][] {{1}, {1, 2, 3}}, config));
        assertTrue(tooLong.getMessage().contains("input 1") && tooLong.getMessage().contains("max_length is 3"), tooLong.getMessage());
        var vocab = assertThrows(ModelFormatException.class, () -> BeamSearch.run(new ToyBeamModel(model), new int[][] {{1}},
                config.toBuilder().eosTokenId(99).build()));
        assertTrue(vocab.getMessage().contains("m/generation_config.json") && vocab.getMessage().contains("'eos_token_id'")
                && vocab.getMessage().contains("99"), vocab.getMessage());
        ToyBeamModel refused = new ToyBeamModel(model);
        var sampled = assertThrows(ModelFormatException.class, () -> BeamSearch.run(refused, new int[][] {{1}},
                config.toBuilder().doSample(true).build()));
        assertTrue(sampled.getMessage().contains("beam sampling"), sampled.getMessage());
        assertTrue(refused.closed, "closed when the config is refused before start");
        var unsupported = assertThrows(ModelFormatException.class, () -> BeamSearch.run(new ToyBeamModel(model), new int[][] {{1}},
                config.toBuilder().unsupported(List.of("num_beam_groups = 2")).build()));
        assertTrue(unsupported.getMessage().contains("num_beam_groups = 2"), unsupported.getMessage());
        ToyBeamModel closed = new ToyBeamModel((i, p) -> new float[p.length == 1 ? 4 : 5]); // the vocabulary changes
        assertThrows(IllegalStateException.class, () -> BeamSearch.run(closed, new int[][] {{1}}, config.toBuilder().maxLength(5).build()));
        assertTrue(closed.closed, "closed after an exception too");
    }

    private static List<Hypothesis> search(ToyBeamModel.Logits model, GenerationConfig config) {
        return BeamSearch.run(new ToyBeamModel(model), new int[][] {{C}}, config).getFirst();
    }

    private static Hypothesis greedy(ToyBeamModel.Logits model, GenerationConfig config) {
        return GreedySearch.run(new ToyBeamModel(model), new int[][] {{C}}, config).getFirst();
    }

    private static void assertHypotheses(List<Hypothesis> got, int[][] tokens, double... scores) {
        assertEquals(tokens.length, got.size(), "hypotheses");
        for (int k = 0; k < tokens.length; k++) {
            assertArrayEquals(tokens[k], got.get(k).tokens(), "hypothesis " + k);
            assertEquals(scores[k], got.get(k).score(), 1e-5, "hypothesis " + k);
        }
    }
}
