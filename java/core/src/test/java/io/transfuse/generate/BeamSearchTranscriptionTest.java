package io.transfuse.generate;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Beam search where it is not exact (few beams) against a second, plain transcription of transformers' rules,
 * written here in the shape of the older per-candidate loop ({@code BeamSearchScorer.process}: walk the ranked
 * candidates, send a finished one to the kept hypotheses if it ranks among the first num_beams, else fill the
 * next beams) with the current rules (generated length with the EOS, the best running beam in the stopping test),
 * one input at a time, computing every prefix's logits afresh (no rows, no parents). Hundreds of random
 * configurations and batches.
 */
class BeamSearchTranscriptionTest {
    @Test
    void matchesThePlainTranscriptionOnRandomConfigurations() {
        SplittableRandom random = new SplittableRandom(2026);
        int checked = 0;
        for (int trial = 0; trial < 300; trial++) {
            int vocab = 6 + random.nextInt(8);
            int beams = 2 + random.nextInt(4);
            boolean twoEos = random.nextInt(4) == 0;
            EarlyStopping early = EarlyStopping.values()[random.nextInt(3)];
            double[] penalties = {-0.5, 0, 0.7, 1, 2};
            GenerationConfig.Builder b = GenerationConfig.defaults().toBuilder()
                    .numBeams(beams).numReturnSequences(1 + random.nextInt(beams))
                    .eosTokenIds(twoEos ? List.of(0, 1) : List.of(0))
                    .lengthPenalty(penalties[random.nextInt(penalties.length)]).earlyStopping(early)
                    .maxNewTokens(2 + random.nextInt(10));
            if (random.nextInt(3) == 0) b.noRepeatNgramSize(1 + random.nextInt(3));
            if (random.nextInt(3) == 0) b.minNewTokens(random.nextInt(4));
            if (random.nextInt(4) == 0) b.repetitionPenalty(1.2);
            if (random.nextInt(4) == 0) b.renormalizeLogits(true);
            if (random.nextInt(5) == 0) b.forcedEosTokenIds(List.of(0));
            GenerationConfig config = b.build();
            int inputs = 1 + random.nextInt(3);
            int[][] prompts = new int[inputs][];
            long[] seeds = new long[inputs];
            for (int i = 0; i < inputs; i++) {
                prompts[i] = random.ints(1 + random.nextInt(4), 2, vocab).toArray();
                seeds[i] = random.nextLong();
            }
            ToyBeamModel.Logits logits = ToyBeamModel.hashed(seeds, vocab, random.nextInt(40));
            List<List<Hypothesis>> got = BeamSearch.run(new ToyBeamModel(logits), prompts, config);
            for (int i = 0; i < inputs; i++) {
                List<Hypothesis> want = reference(logits, i, prompts[i], config, vocab);
                String what = "trial " + trial + ", input " + i + ", " + config;
                assertEquals(want.size(), got.get(i).size(), what);
                for (int k = 0; k < want.size(); k++) {
                    assertArrayEquals(want.get(k).tokens(), got.get(i).get(k).tokens(), what + ", hypothesis " + k);
                    assertEquals(want.get(k).score(), got.get(i).get(k).score(), 1e-6, what + ", hypothesis " + k);
                    checked++;
                }
            }
        }
        assertTrue(checked > 500, "hypotheses compared: " + checked);
    }

    private record Run(int[] seq, float score) {}

    private record Candidate(int beam, int token, float score) {}

    /** The plain transcription for one input alone. */
    static List<Hypothesis> reference(ToyBeamModel.Logits logits, int input, int[] prompt, GenerationConfig c, int vocab) {
        int beams = c.numBeams(), promptLength = prompt.length;
        int maxLength = c.maxLength(promptLength), minLength = c.minLength(promptLength);
        int keep = Math.max(2, 1 + c.eosTokenIds().size()) * beams;
        LogitsProcessors processors = new LogitsProcessors(c, vocab);
        List<Run> running = new ArrayList<>();
        for (int k = 0; k < beams; k++) running.add(new Run(prompt, k == 0 ? 0f : -1e9f));
        List<Hypothesis> kept = new ArrayList<>(); // at most num_beams; the worst is dropped (the newest on a tie)
        boolean canImprove = true;
        for (int length = promptLength; ; length++) {
            List<Candidate> candidates = new ArrayList<>();
            for (int k = 0; k < beams; k++) {
                float[] scores = new float[vocab];
                LogitsProcessors.logSoftmax(logits.after(input, running.get(k).seq), scores);
                processors.apply(scores, running.get(k).seq, length, minLength, maxLength);
                for (int t = 0; t < vocab; t++) candidates.add(new Candidate(k, t, scores[t] + running.get(k).score));
            }
            candidates.sort(Comparator.comparingDouble(x -> -x.score)); // stable: the lower (beam, token) first
            candidates = candidates.subList(0, keep);

            boolean accepting = canImprove && !(c.earlyStopping() == EarlyStopping.TRUE && kept.size() == beams);
            List<Run> next = new ArrayList<>();
            List<Run> finishedRuns = new ArrayList<>();
            boolean allFinished = true;
            for (int rank = 0; rank < candidates.size(); rank++) {
                Candidate x = candidates.get(rank);
                int[] seq = Arrays.copyOf(running.get(x.beam).seq, length + 1);
                seq[length] = x.token;
                boolean finished = c.eosTokenIds().contains(x.token) || length + 1 >= maxLength;
                allFinished &= finished;
                if (finished) {
                    finishedRuns.add(new Run(seq, x.score - 1e9f));
                    if (rank < beams && accepting) {
                        float score = x.score / (float) Math.pow(length + 1 - promptLength, c.lengthPenalty());
                        kept.add(new Hypothesis(Arrays.copyOfRange(seq, promptLength, seq.length), score,
                                c.eosTokenIds().contains(x.token)));
                        if (kept.size() > beams) {
                            int worst = 0;
                            for (int h = 1; h < kept.size(); h++) if (kept.get(h).score() <= kept.get(worst).score()) worst = h;
                            kept.remove(worst);
                        }
                    }
                } else if (next.size() < beams) {
                    next.add(new Run(seq, x.score));
                }
            }
            for (int f = 0; next.size() < beams; f++) next.add(finishedRuns.get(f));
            if (allFinished) break;
            int hypothetical = c.earlyStopping() == EarlyStopping.NEVER && c.lengthPenalty() > 0
                    ? maxLength - promptLength : length + 1 - promptLength;
            float best = next.getFirst().score / (float) Math.pow(hypothetical, c.lengthPenalty());
            if (kept.size() == beams) {
                float worst = Float.POSITIVE_INFINITY;
                for (Hypothesis h : kept) worst = Math.min(worst, h.score());
                if (!(best > worst)) canImprove = false;
                if (!canImprove || c.earlyStopping() == EarlyStopping.TRUE) break;
            } else if (!(best > -1e9f)) {
                break;
            }
            running = next;
        }
        List<Hypothesis> sorted = new ArrayList<>(kept);
        sorted.sort(Comparator.comparingDouble(h -> -h.score()));
        return sorted.subList(0, Math.min(c.numReturnSequences(), sorted.size()));
    }
}
