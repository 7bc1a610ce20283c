package io.transfuse.sampling;

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
    static double[] expected(float[] logits, float t, int k, float p) {
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
        double[] out = new double[n];
        for (int i = 0; i < m; i++) out[order[i]] = prob[order[i]] / cum;
        return out;
    }

    static void assertDrawsFrom(float[] logits, SamplingOptions o) {
        double[] want = expected(logits, o.temperature(), o.topK(), o.topP());
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
}
