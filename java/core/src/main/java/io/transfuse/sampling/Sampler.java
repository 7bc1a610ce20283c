package io.transfuse.sampling;

import java.util.SplittableRandom;

/**
 * Chooses the next token from logits: greedy, or temperature sampling restricted by top-k and
 * top-p. Work arrays are sized once for the vocabulary: nothing is allocated per token.
 * Not thread-safe: one sampler per generation.
 */
public final class Sampler {
    private final SamplingOptions options;
    private final SplittableRandom random;
    private final float[] probabilities;
    private final int[] order;

    public Sampler(SamplingOptions options, int vocabularySize) {
        this.options = options;
        this.random = new SplittableRandom(options.seed());
        this.probabilities = new float[vocabularySize];
        this.order = new int[vocabularySize];
    }

    /** The chosen token id; {@code logits} is not modified. */
    public int sample(float[] logits) {
        int n = probabilities.length;
        if (options.temperature() == 0) return argmax(logits, n);

        float max = logits[argmax(logits, n)];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float p = (float) Math.exp((logits[i] - max) / options.temperature());
            probabilities[i] = p;
            sum += p;
        }
        if (options.topK() == 0 && options.topP() >= 1) return draw(sum, n);
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
        double r = random.nextDouble() * kept;
        double acc = 0;
        for (int i = 0; i < m; i++) {
            acc += probabilities[order[i]];
            if (r < acc) return order[i];
        }
        return order[m - 1];
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
