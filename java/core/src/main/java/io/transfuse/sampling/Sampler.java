package io.transfuse.sampling;

import io.transfuse.SamplingOptions;

import java.util.SplittableRandom;

/**
 * Chooses the next token from logits, as {@link SamplingOptions} describes: penalties on the logits of
 * recent tokens, then greedy, or temperature sampling restricted by top-k, top-p and min-p. Work arrays
 * are sized once for the vocabulary: nothing is allocated per token. Not thread-safe: one sampler per
 * generation.
 */
public final class Sampler {
    private final SamplingOptions options;
    private final SplittableRandom random;
    private final float[] probabilities;
    private final int[] order;
    /** The logits after the penalties, and occurrences per token in the window (null without penalties). */
    private final float[] penalized;
    private final int[] counts;
    private static final int[] NO_TOKENS = {};

    public Sampler(SamplingOptions options, int vocabularySize) {
        this.options = options;
        this.random = new SplittableRandom(options.seed());
        this.probabilities = new float[vocabularySize];
        this.order = new int[vocabularySize];
        this.penalized = options.penalizes() ? new float[vocabularySize] : null;
        this.counts = options.penalizes() ? new int[vocabularySize] : null;
    }

    /** The chosen token id with no tokens before it (no penalties apply); {@code logits} is not modified. */
    public int sample(float[] logits) {
        return sample(logits, NO_TOKENS, 0);
    }

    /**
     * The chosen token id after the sequence {@code tokens[0..length)}, whose last tokens the penalties
     * look at; {@code logits} is not modified.
     */
    public int sample(float[] logits, int[] tokens, int length) {
        int n = probabilities.length;
        if (penalized != null && length > 0) logits = penalize(logits, tokens, length);
        if (options.temperature() == 0) return argmax(logits, n);

        float max = logits[argmax(logits, n)];
        double sum = 0;
        float t = (float) options.temperature();
        for (int i = 0; i < n; i++) {
            float p = (float) Math.exp((logits[i] - max) / t);
            probabilities[i] = p;
            sum += p;
        }
        if (options.topK() == 0 && options.topP() >= 1) {
            if (options.minP() == 0) return draw(sum, n);
            // min-p alone needs no sorting: zero what falls below the floor (the most likely token has p = 1 here).
            float floor = (float) options.minP();
            sum = 0;
            for (int i = 0; i < n; i++) {
                if (probabilities[i] < floor) probabilities[i] = 0;
                sum += probabilities[i];
            }
            return draw(sum, n);
        }
        // Candidates: the top-k (or all), sorted by probability, then cut at top-p.
        int k = options.topK() == 0 ? n : Math.min(options.topK(), n);
        int candidates = selectTop(k, n);
        double cut = options.topP() * sum;
        double kept = 0;
        int m = 0;
        while (m < candidates) {
            kept += probabilities[order[m++]];
            if (kept >= cut) break;
        }
        // min-p: drop the tail less likely than minP times the most likely token (always keeps that one).
        float floor = (float) (options.minP() * probabilities[order[0]]);
        while (m > 1 && probabilities[order[m - 1]] < floor) kept -= probabilities[order[--m]];
        double r = random.nextDouble() * kept;
        double acc = 0;
        for (int i = 0; i < m; i++) {
            acc += probabilities[order[i]];
            if (r < acc) return order[i];
        }
        return order[m - 1];
    }

    /**
     * The logits with the penalties applied to the tokens among the last {@code penaltyWindow} of the
     * sequence (ids outside the vocabulary are ignored): repetition first, then frequency and presence.
     */
    private float[] penalize(float[] logits, int[] tokens, int length) {
        int n = penalized.length;
        System.arraycopy(logits, 0, penalized, 0, n);
        int from = Math.max(0, length - options.penaltyWindow());
        for (int i = from; i < length; i++) {
            int id = tokens[i];
            if (id >= 0 && id < n) counts[id]++;
        }
        float repetition = (float) options.repetitionPenalty();
        for (int i = from; i < length; i++) {
            int id = tokens[i];
            if (id < 0 || id >= n || counts[id] == 0) continue; // outside the vocabulary, or done already
            float l = logits[id];
            l = l > 0 ? l / repetition : l * repetition;
            penalized[id] = (float) (l - counts[id] * options.frequencyPenalty() - options.presencePenalty());
            counts[id] = 0; // leaves counts all zero for the next call
        }
        return penalized;
    }

    /** Draws from the unnormalised probabilities[0..n) directly (no candidate restriction). */
    private int draw(double sum, int n) {
        double r = random.nextDouble() * sum;
        double acc = 0;
        for (int i = 0; i < n; i++) {
            acc += probabilities[i];
            if (r < acc) return i;
        }
        return n - 1;
    }

    private static int argmax(float[] x, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    /** Puts the k most probable ids, most probable first, into order[0..k). Returns k. */
    private int selectTop(int k, int n) {
        for (int i = 0; i < n; i++) order[i] = i;
        if (k < n) {
            // Partial selection: a bounded min-heap of size k over the ids.
            for (int i = k / 2 - 1; i >= 0; i--) siftDown(i, k);
            for (int i = k; i < n; i++) {
                if (probabilities[order[i]] > probabilities[order[0]]) {
                    int t = order[0]; order[0] = order[i]; order[i] = t;
                    siftDown(0, k);
                }
            }
        }
        sortDescending(k);
        return k;
    }

    private void siftDown(int i, int size) {
        while (true) {
            int l = 2 * i + 1, r = l + 1, smallest = i;
            if (l < size && probabilities[order[l]] < probabilities[order[smallest]]) smallest = l;
            if (r < size && probabilities[order[r]] < probabilities[order[smallest]]) smallest = r;
            if (smallest == i) return;
            int t = order[i]; order[i] = order[smallest]; order[smallest] = t;
            i = smallest;
        }
    }

    /** Heap sort of order[0..k) by descending probability (in place, no allocation). */
    private void sortDescending(int k) {
        for (int i = k / 2 - 1; i >= 0; i--) siftDown(i, k);
        for (int end = k - 1; end > 0; end--) {
            int t = order[0]; order[0] = order[end]; order[end] = t;
            siftDown(0, end);
        }
    }
}
