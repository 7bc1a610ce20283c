package io.transfuse.generate;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Beam search where it is exact against an exhaustive search written separately: a tiny vocabulary, a few steps,
 * enough beams that no continuation is ever dropped (num_beams at least the candidates of any step), and
 * early_stopping "never" (its bound is exact). Then beam search's num_beams best must be the best of all complete
 * sequences (ended by EOS, or by the maximum length), scored sum / generated_length ** length_penalty. The
 * constraints are checked here as properties of the finished sequence (no n-gram twice, no bad word, no early
 * EOS), not as the processors ban tokens, and the repetition penalty and renormalization are recomputed in double.
 */
class BeamSearchExhaustiveTest {
    private static final int EOS = 0;

    @ParameterizedTest(name = "vocab {0}, {1} new tokens, {2} beams, length_penalty {3}, no-repeat {4}, min new {5}, bad words {6}, repetition {7}, renormalize {8}")
    @CsvSource({
            "4, 3, 12, 1.0, 0, 0, false, 1.0, false",
            "4, 3, 12, 0.0, 0, 0, false, 1.0, false",
            "4, 3, 12, 2.0, 0, 0, false, 1.0, false",
            "4, 3, 12, -0.7, 0, 0, false, 1.0, false",
            "3, 4, 24, 1.0, 0, 0, false, 1.0, false",
            "4, 3, 12, 1.0, 2, 0, false, 1.0, false",
            "3, 4, 24, 0.5, 1, 2, false, 1.0, false",
            "4, 3, 12, 1.0, 0, 2, true, 1.0, false",
            "4, 3, 12, 1.5, 2, 1, true, 1.4, false",
            "4, 3, 12, 1.0, 2, 1, true, 1.4, true",
            "3, 4, 24, 0.8, 0, 0, false, 0.7, true",
    })
    void beamSearchFindsTheBestOfAllSequences(int vocab, int maxNew, int beams, double lengthPenalty, int noRepeat,
                                              int minNew, boolean badWords, double repetition, boolean renormalize) {
        List<List<Integer>> bad = badWords ? List.of(List.of(3), List.of(1, 2), List.of(EOS)) : List.of();
        GenerationConfig config = GenerationConfig.defaults().toBuilder()
                .numBeams(beams).numReturnSequences(beams).maxNewTokens(maxNew).eosTokenId(EOS)
                .lengthPenalty(lengthPenalty).earlyStopping(EarlyStopping.NEVER).noRepeatNgramSize(noRepeat)
                .minNewTokens(minNew == 0 ? -1 : minNew).badWordsIds(bad).repetitionPenalty(repetition)
                .renormalizeLogits(renormalize).build();
        for (long seed = 1; seed <= 12; seed++) {
            int[][] prompts = {{2}, {1, 2}};
            long[] seeds = {seed, seed + 100};
            ToyBeamModel.Logits logits = ToyBeamModel.hashed(seeds, vocab, 8);
            List<List<Hypothesis>> got = BeamSearch.run(new ToyBeamModel(logits), prompts, config);
            for (int i = 0; i < prompts.length; i++) {
                List<Scored> all = new ArrayList<>();
                enumerate(logits, i, prompts[i], new int[0], 0, vocab, maxNew, minNew, noRepeat, bad, repetition, renormalize, lengthPenalty, all);
                all.sort(Comparator.comparingDouble(s -> -s.score));
                // When fewer than num_beams sequences are possible, HF fills the rest with the never-started beams
                // (score -1e9 or below); only the real ones are compared.
                List<Hypothesis> beam = got.get(i).stream().filter(h -> h.score() > -1e8f).toList();
                int n = Math.min(beams, all.size());
                assertEquals(n, beam.size(), "seed " + seed + ", input " + i + ": hypotheses");
                for (int k = 0; k < n; k++) {
                    String what = "seed " + seed + ", input " + i + ", rank " + k + ": exhaustive " + Arrays.toString(all.get(k).tokens)
                            + " " + all.get(k).score + ", beam " + Arrays.toString(beam.get(k).tokens()) + " " + beam.get(k).score();
                    assertEquals(all.get(k).score, beam.get(k).score(), 2e-5, what);
                    assertArrayEquals(all.get(k).tokens, beam.get(k).tokens(), what);
                }
            }
        }
    }

    private record Scored(int[] tokens, double score) {}

    /** Every complete continuation of {@code prompt + generated} with its score, into {@code out}. */
    private static void enumerate(ToyBeamModel.Logits logits, int input, int[] prompt, int[] generated, double sum, int vocab,
                                  int maxNew, int minNew, int noRepeat, List<List<Integer>> bad, double repetition,
                                  boolean renormalize, double lengthPenalty, List<Scored> out) {
        int[] seq = concat(prompt, generated);
        float[] raw = logits.after(input, seq);
        double[] score = new double[vocab];
        double max = Double.NEGATIVE_INFINITY;
        for (float x : raw) max = Math.max(max, x);
        double z = 0;
        for (float x : raw) z += Math.exp(x - max);
        for (int t = 0; t < vocab; t++) {
            score[t] = raw[t] - max - Math.log(z);
            if (contains(seq, t)) score[t] = score[t] < 0 ? score[t] * repetition : score[t] / repetition;
        }
        boolean[] allowed = new boolean[vocab];
        for (int t = 0; t < vocab; t++) allowed[t] = allowed(seq, generated.length, t, minNew, noRepeat, bad);
        if (renormalize) {
            double m = Double.NEGATIVE_INFINITY, s = 0;
            for (int t = 0; t < vocab; t++) if (allowed[t]) m = Math.max(m, score[t]);
            for (int t = 0; t < vocab; t++) if (allowed[t]) s += Math.exp(score[t] - m);
            for (int t = 0; t < vocab; t++) score[t] -= m + Math.log(s);
        }
        for (int t = 0; t < vocab; t++) {
            if (!allowed[t]) continue;
            int[] next = Arrays.copyOf(generated, generated.length + 1);
            next[generated.length] = t;
            double total = sum + score[t];
            if (t == EOS || next.length == maxNew) {
                out.add(new Scored(next, total / Math.pow(next.length, lengthPenalty)));
            } else {
                enumerate(logits, input, prompt, next, total, vocab, maxNew, minNew, noRepeat, bad, repetition, renormalize, lengthPenalty, out);
            }
        }
    }

    /** Whether {@code seq + t} keeps the constraints, judged on the sequence it makes. */
    private static boolean allowed(int[] seq, int generated, int t, int minNew, int noRepeat, List<List<Integer>> bad) {
        if (t == EOS && generated < minNew) return false;
        int[] s = Arrays.copyOf(seq, seq.length + 1);
        s[seq.length] = t;
        for (List<Integer> w : bad) {
            if (w.equals(List.of(EOS))) continue; // HF never bans an EOS given alone as a bad word
            if (w.size() <= s.length && endsWith(s, w)) return false;
        }
        if (noRepeat > 0 && s.length >= noRepeat) {
            int[] last = Arrays.copyOfRange(s, s.length - noRepeat, s.length);
            for (int start = 0; start + noRepeat < s.length; start++) {
                if (Arrays.equals(last, Arrays.copyOfRange(s, start, start + noRepeat))) return false;
            }
        }
        return true;
    }

    private static boolean endsWith(int[] s, List<Integer> w) {
        for (int i = 0; i < w.size(); i++) if (s[s.length - w.size() + i] != w.get(i)) return false;
        return true;
    }

    private static boolean contains(int[] a, int t) {
        for (int x : a) if (x == t) return true;
        return false;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
