package io.transfuse.sampling;

import io.transfuse.SamplingOptions;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The sampler against a direct computation of the distribution it should draw from. */
class SamplerTest {
    static float[] logits(int n, long seed) {
        Random r = new Random(seed);
        float[] l = new float[n];
        for (int i = 0; i < n; i++) l[i] = (float) (r.nextGaussian() * 2);
        return l;
    }

    static int argmax(float[] x) {
        int b = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[b]) b = i;
        return b;
    }

    /** Reference: softmax(logits / t) restricted to the top-k, then to the top-p nucleus, renormalised. */
    static double[] expected(float[] logits, double t, int k, double p) {
        return expected(logits, t, k, p, 0);
    }

    /** Reference: as above, then only tokens at least minP times as likely as the most likely one. */
    static double[] expected(float[] logits, double t, int k, double p, double minP) {
        int n = logits.length;
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = i;
        java.util.Arrays.sort(order, (a, b) -> Float.compare(logits[b], logits[a]));
        double max = logits[order[0]];
        double[] prob = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) sum += prob[i] = Math.exp((logits[i] - max) / t);
        int keep = k == 0 ? n : k;
        double cum = 0;
        int m = 0;
        while (m < keep) {
            cum += prob[order[m++]];
            if (cum >= p * sum) break;
        }
        while (m > 1 && prob[order[m - 1]] < minP * prob[order[0]]) cum -= prob[order[--m]];
        double[] out = new double[n];
        for (int i = 0; i < m; i++) out[order[i]] = prob[order[i]] / cum;
        return out;
    }

    static void assertDrawsFrom(float[] logits, SamplingOptions o) {
        double[] want = expected(logits, o.temperature(), o.topK(), o.topP(), o.minP());
        Sampler s = new Sampler(o, logits.length);
        int draws = 40_000;
        int[] counts = new int[logits.length];
        for (int i = 0; i < draws; i++) counts[s.sample(logits)]++;
        for (int i = 0; i < logits.length; i++) {
            double sd = Math.sqrt(draws * want[i] * (1 - want[i])) + 1e-9;
            double z = Math.abs(counts[i] - draws * want[i]) / sd;
            if (want[i] == 0) assertEquals(0, counts[i], "token " + i + " is outside top-k/top-p but was drawn");
            else assertTrue(z < 5, "token " + i + ": drew " + counts[i] + ", expected " + draws * want[i]);
        }
    }

    @Test
    void greedyPicksTheArgmax() {
        float[] l = logits(1000, 1);
        assertEquals(argmax(l), new Sampler(SamplingOptions.greedy(), l.length).sample(l));
    }

    @Test
    void temperatureSamplingFollowsTheSoftmax() {
        assertDrawsFrom(logits(20, 2), new SamplingOptions(0.7f, 0, 1, 42));
    }

    @Test
    void topKKeepsTheKMostLikely() {
        assertDrawsFrom(logits(50, 3), new SamplingOptions(1.3f, 5, 1, 7));
    }

    @Test
    void topPKeepsTheNucleus() {
        assertDrawsFrom(logits(30, 4), new SamplingOptions(1f, 0, 0.6f, 9));
    }

    @Test
    void topKAndTopPTogether() {
        assertDrawsFrom(logits(30, 5), new SamplingOptions(0.9f, 10, 0.8f, 11));
    }

    @Test
    void sameSeedSameTokens() {
        float[] l = logits(100, 6);
        SamplingOptions o = new SamplingOptions(1, 0, 0.95f, 1234);
        Sampler a = new Sampler(o, 100), b = new Sampler(o, 100);
        for (int i = 0; i < 200; i++) assertEquals(a.sample(l), b.sample(l));
    }

    @Test
    void minPDropsTheUnlikelyTail() {
        assertDrawsFrom(logits(40, 12), SamplingOptions.builder().temperature(1).minP(0.2).seed(3).build());
    }

    @Test
    void minPWithTopKAndTemperature() {
        assertDrawsFrom(logits(40, 13), SamplingOptions.builder().temperature(0.8).topK(12).minP(0.05).seed(5).build());
    }

    /**
     * Reference for the penalties, written from their definitions (CTRL / transformers' repetition penalty,
     * OpenAI's frequency and presence penalties) with a map of counts over the window.
     */
    static float[] penalized(float[] logits, int[] history, SamplingOptions o) {
        java.util.Map<Integer, Integer> counts = new java.util.HashMap<>();
        for (int i = Math.max(0, history.length - o.penaltyWindow()); i < history.length; i++) counts.merge(history[i], 1, Integer::sum);
        float[] out = logits.clone();
        counts.forEach((id, c) -> {
            double l = logits[id];
            l = l > 0 ? l / o.repetitionPenalty() : l * o.repetitionPenalty();
            out[id] = (float) (l - c * o.frequencyPenalty() - o.presencePenalty());
        });
        return out;
    }

    @Test
    void penaltiesChangeGreedyChoicesAsTheirDefinitionsSay() {
        Random r = new Random(21);
        for (int trial = 0; trial < 200; trial++) {
            float[] l = logits(30, 100 + trial);
            int[] history = new int[1 + r.nextInt(40)];
            for (int i = 0; i < history.length; i++) history[i] = r.nextInt(8) == 0 ? r.nextInt(30) : argmax(l); // repeats of the favourite
            SamplingOptions o = SamplingOptions.builder().repetitionPenalty(1 + r.nextDouble()).frequencyPenalty(r.nextDouble())
                    .presencePenalty(r.nextDouble() * 2 - 0.5).penaltyWindow(1 + r.nextInt(20)).build();
            int[] padded = java.util.Arrays.copyOf(history, history.length + 5); // the sampler reads only [0, length)
            assertEquals(argmax(penalized(l, history, o)), new Sampler(o, l.length).sample(l, padded, history.length),
                    "trial " + trial + ": " + o);
        }
    }

    @Test
    void penalisedSamplingFollowsThePenalisedSoftmax() {
        float[] l = logits(25, 31);
        int[] history = {3, 3, 7, argmax(l), argmax(l), 11, 3, 20};
        SamplingOptions o = SamplingOptions.builder().temperature(0.9).topP(0.9).repetitionPenalty(1.3)
                .frequencyPenalty(0.4).presencePenalty(0.2).penaltyWindow(6).seed(17).build();
        double[] want = expected(penalized(l, history, o), o.temperature(), o.topK(), o.topP(), o.minP());
        Sampler s = new Sampler(o, l.length);
        int draws = 40_000;
        int[] counts = new int[l.length];
        for (int i = 0; i < draws; i++) counts[s.sample(l, history, history.length)]++;
        for (int i = 0; i < l.length; i++) {
            double sd = Math.sqrt(draws * want[i] * (1 - want[i])) + 1e-9;
            if (want[i] == 0) assertEquals(0, counts[i], "token " + i + " is outside top-p but was drawn");
            else assertTrue(Math.abs(counts[i] - draws * want[i]) / sd < 5, "token " + i + ": drew " + counts[i] + ", expected " + draws * want[i]);
        }
    }

    @Test
    void noPenaltyWithoutHistoryOrWithNeutralValues() {
        float[] l = logits(50, 40);
        int[] history = {argmax(l), argmax(l)};
        assertEquals(argmax(l), new Sampler(SamplingOptions.builder().repetitionPenalty(2).build(), 50).sample(l));
        assertEquals(argmax(l), new Sampler(SamplingOptions.greedy(), 50).sample(l, history, 2));
    }
}
