package io.transfuse.generate;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Greedy decoding as transformers runs it with num_beams 1 and do_sample false ({@code GenerationMixin._sample}):
 * each step the {@link LogitsProcessors} change the raw logits (not log-probabilities, unlike beam search) and the
 * highest-scoring token is appended (the lowest id on a tie, as {@code torch.argmax}); a sequence ends after an
 * EOS token or at the maximum length. Drives the same {@link BeamModel} as {@link BeamSearch}, one row per
 * unfinished input and no forks, so a seq2seq or decoder-only model implements one interface for both.
 * Sampling (do_sample) is not done here: the single-sequence path has {@link io.transfuse.sampling.Sampler}.
 */
public final class GreedySearch {
    private GreedySearch() {}

    /** The generated tokens per input (the final EOS included when there is one; score NaN). The model is closed at the end. */
    public static List<Hypothesis> run(BeamModel model, int[][] prompts, GenerationConfig config) {
        try (model) { // closed however the search ends, a refused config included
            return search(model, prompts, config);
        }
    }

    private static List<Hypothesis> search(BeamModel model, int[][] prompts, GenerationConfig config) {
        config.requireSupported();
        if (config.doSample()) {
            throw new IllegalArgumentException(config.source() + ": do_sample is true; greedy search takes the most likely token"
                    + " (use the Sampler for sampling)");
        }
        if (config.numBeams() != 1) {
            throw new IllegalArgumentException(config.source() + ": num_beams is " + config.numBeams() + "; use BeamSearch");
        }
        int n = prompts.length;
        if (n == 0) throw new IllegalArgumentException("no inputs to generate for");
        int[][] seq = new int[n][];
        int[] length = new int[n], minLength = new int[n], maxLength = new int[n], row = new int[n];
        boolean[] eos = new boolean[n];
        for (int i = 0; i < n; i++) {
            if (prompts[i] == null || prompts[i].length == 0) throw new IllegalArgumentException("input " + i + ": the prompt is empty");
            length[i] = prompts[i].length;
            maxLength[i] = config.maxLength(length[i]);
            minLength[i] = config.minLength(length[i]);
            if (length[i] >= maxLength[i]) {
                throw new IllegalArgumentException("input " + i + ": the prompt is " + length[i] + " tokens but max_length is "
                        + maxLength[i] + " (" + config.source() + "); raise max_length or set max_new_tokens");
            }
            seq[i] = Arrays.copyOf(prompts[i], Math.min(maxLength[i], 2 * length[i] + 16)); // grows: max_length may be huge
            row[i] = i;
        }
        float[][] logits = model.start(prompts.clone());
        if (logits == null || logits.length != n) throw new IllegalStateException("the model returned logits for "
                + (logits == null ? 0 : logits.length) + " rows, expected " + n);
        int vocab = logits[0].length;
        LogitsProcessors processors = new LogitsProcessors(config, vocab);
        float[] scores = new float[vocab];
        List<Integer> live = new ArrayList<>();
        for (int i = 0; i < n; i++) live.add(i);
        while (!live.isEmpty()) {
            List<Integer> next = new ArrayList<>();
            List<int[]> rows = new ArrayList<>();
            for (int i : live) {
                float[] l = logits[row[i]];
                if (l == null || l.length != vocab) throw new IllegalStateException("the model's logits for row " + row[i]
                        + " hold " + (l == null ? "nothing" : l.length + " values") + ", expected " + vocab);
                System.arraycopy(l, 0, scores, 0, vocab);
                processors.apply(scores, seq[i], length[i], minLength[i], maxLength[i]);
                int best = 0;
                for (int t = 1; t < vocab; t++) if (scores[t] > scores[best]) best = t;
                if (length[i] == seq[i].length) seq[i] = Arrays.copyOf(seq[i], (int) Math.min(maxLength[i], 2L * length[i]));
                seq[i][length[i]++] = best;
                eos[i] = processors.isEos(best);
                if (eos[i] || length[i] >= maxLength[i]) continue;
                rows.add(new int[] {row[i], best});
                row[i] = rows.size() - 1;
                next.add(i);
            }
            live = next;
            if (live.isEmpty()) break;
            int[] parents = rows.stream().mapToInt(r -> r[0]).toArray();
            int[] tokens = rows.stream().mapToInt(r -> r[1]).toArray();
            logits = model.step(parents, tokens);
            if (logits == null || logits.length != parents.length) throw new IllegalStateException("the model returned logits for "
                    + (logits == null ? 0 : logits.length) + " rows, expected " + parents.length);
        }
        List<Hypothesis> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(new Hypothesis(Arrays.copyOfRange(seq[i], prompts[i].length, length[i]), Float.NaN, eos[i]));
        }
        return out;
    }
}
