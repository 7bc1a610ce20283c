package io.transfuse.model;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A fixed schedule of forward passes over several sequences of different lengths, mixing prefill
 * chunks (from position 0 and continuing a sequence) with single-token decode steps in the same pass,
 * run two ways: batched as scheduled, and each sequence alone (the same chunks, one sequence per pass).
 * Returns, for each sequence and pass, the logits after its chunk both ways, so a test can compare them.
 * Shared by the CPU tests and the CUDA module's cuda-emu tests.
 */
public final class MixedBatch {
    private MixedBatch() {}

    /** Per pass, per sequence: tokens it brings in that pass (0 = not in that pass). */
    public static final int[][] SCHEDULE = {
            // seq: A   B   C   D
            {7, 3, 0, 0},   // A and B start
            {4, 1, 20, 0},  // A continues its prompt, B decodes, C starts with a long prompt
            {1, 1, 1, 1},   // everyone decodes, D starts with a one-token prompt
            {1, 1, 1, 1},
            {1, 0, 1, 1},   // B pauses
            {1, 1, 1, 1},
    };

    /** The logits of every (pass, sequence) that ran, batched and alone. */
    public record Result(float[][][] batched, float[][][] alone) {
        /** Largest |batched - alone| over all logits. */
        public double maxDiff() {
            double m = 0;
            for (int p = 0; p < batched.length; p++) {
                for (int s = 0; s < batched[p].length; s++) {
                    if (batched[p][s] == null) continue;
                    for (int i = 0; i < batched[p][s].length; i++) m = Math.max(m, Math.abs(batched[p][s][i] - alone[p][s][i]));
                }
            }
            return m;
        }

        /** Largest |logit| seen (for relative tolerances). */
        public double maxAbs() {
            double m = 0;
            for (float[][] pass : alone) for (float[] l : pass) if (l != null) for (float v : l) m = Math.max(m, Math.abs(v));
            return m;
        }
    }

    /** Runs {@link #SCHEDULE} on {@code d} with token ids drawn from {@code seed} below {@code vocab}. */
    public static Result run(Decoder d, int vocab, long seed) {
        int passes = SCHEDULE.length, seqs = SCHEDULE[0].length;
        int[] total = new int[seqs];
        for (int[] pass : SCHEDULE) for (int s = 0; s < seqs; s++) total[s] += pass[s];
        SplittableRandom r = new SplittableRandom(seed);
        int[][] tokens = new int[seqs][];
        for (int s = 0; s < seqs; s++) {
            tokens[s] = new int[total[s]];
            for (int i = 0; i < total[s]; i++) tokens[s][i] = 1 + r.nextInt(vocab - 1);
        }
        return new Result(schedule(d, tokens, true), schedule(d, tokens, false));
    }

    private static float[][][] schedule(Decoder d, int[][] tokens, boolean batched) {
        int passes = SCHEDULE.length, seqs = tokens.length;
        float[][][] logits = new float[passes][seqs][];
        List<Decoder.Sequence> open = new ArrayList<>();
        try {
            for (int s = 0; s < seqs; s++) open.add(d.newSequence(tokens[s].length));
            int[] pos = new int[seqs];
            for (int p = 0; p < passes; p++) {
                List<Decoder.Input> pass = new ArrayList<>();
                for (int s = 0; s < seqs; s++) {
                    int n = SCHEDULE[p][s];
                    if (n == 0) continue;
                    logits[p][s] = new float[d.vocabSize()];
                    Decoder.Input in = new Decoder.Input(open.get(s), tokens[s], pos[s], n, pos[s], logits[p][s]);
                    if (batched) pass.add(in);
                    else d.forward(List.of(in));
                    pos[s] += n;
                }
                if (batched) d.forward(pass);
            }
        } finally {
            for (Decoder.Sequence s : open) s.close();
        }
        return logits;
    }
}
