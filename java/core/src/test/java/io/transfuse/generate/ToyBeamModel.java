package io.transfuse.generate;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A {@link BeamModel} whose logits are a function of (input, whole prefix), computed afresh for every row from
 * the prefix this class rebuilds by following the parent rows: if a search mixed up rows, parents or tokens, the
 * logits (and so the result) would be those of another prefix. Checks the contract as it goes (parents in range,
 * inputs in order, one start, one close).
 */
final class ToyBeamModel implements BeamModel {
    /** Logits after {@code prefix} (prompt included) of input {@code input}. */
    interface Logits {
        float[] after(int input, int[] prefix);
    }

    private final Logits logits;
    private List<int[]> rows;
    private int[] rowInput;
    int steps, rowsComputed;
    boolean closed;

    ToyBeamModel(Logits logits) {
        this.logits = logits;
    }

    @Override
    public float[][] start(int[][] prompts) {
        assertTrue(rows == null, "start is called once");
        rows = new ArrayList<>();
        rowInput = new int[prompts.length];
        for (int i = 0; i < prompts.length; i++) {
            rows.add(prompts[i].clone());
            rowInput[i] = i;
        }
        return compute();
    }

    @Override
    public float[][] step(int[] parentRows, int[] tokens) {
        assertFalse(closed, "step after close");
        assertEquals(parentRows.length, tokens.length, "one token per new row");
        assertTrue(parentRows.length > 0, "at least one row");
        List<int[]> next = new ArrayList<>();
        int[] input = new int[parentRows.length];
        for (int j = 0; j < parentRows.length; j++) {
            int p = parentRows[j];
            assertTrue(p >= 0 && p < rows.size(), "parent row " + p + " of " + rows.size());
            input[j] = rowInput[p];
            if (j > 0) assertTrue(input[j] >= input[j - 1], "rows stay grouped by input, in input order");
            int[] seq = Arrays.copyOf(rows.get(p), rows.get(p).length + 1);
            seq[seq.length - 1] = tokens[j];
            next.add(seq);
        }
        rows = next;
        rowInput = input;
        steps++;
        return compute();
    }

    private float[][] compute() {
        float[][] out = new float[rows.size()][];
        for (int r = 0; r < out.length; r++) out[r] = logits.after(rowInput[r], rows.get(r));
        rowsComputed += out.length;
        return out;
    }

    @Override
    public void close() {
        assertFalse(closed, "close is called once");
        closed = true;
    }

    /**
     * The fixture's hashed logits (make_hf_beam_fixture.py, logits()): SplitMix64 of the prefix, then per token a
     * value r in [0, 200) and (r * vocab + t - 100 * vocab [+ eosBoost * vocab for token 0]) / 256, exact in float32.
     */
    static Logits hashed(long[] seeds, int vocab, int eosBoost) {
        return (input, prefix) -> {
            long h = seeds[input];
            for (int tok : prefix) h = mix(h ^ (tok + 7));
            float[] out = new float[vocab];
            for (int t = 0; t < vocab; t++) {
                long r = Long.remainderUnsigned(mix(h ^ ((t + 1) * 0x100000001B3L)), 200);
                long units = r * vocab + t - 100L * vocab + (t == 0 ? (long) eosBoost * vocab : 0);
                out[t] = (float) (units / 256.0);
            }
            return out;
        };
    }

    static long mix(long z) {
        z += 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
