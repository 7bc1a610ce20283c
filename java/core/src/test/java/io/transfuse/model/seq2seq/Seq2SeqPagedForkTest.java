package io.transfuse.model.seq2seq;

import io.transfuse.Device;
import io.transfuse.LoadOptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The decoder's paged self-attention cache under forks and reorders, over histories long enough to fill several KV
 * blocks (16 positions each): 4 rows over 2 sources take 44 steps, each step drawing every row's parent at random
 * among the current rows (repeats fork a hypothesis, rows not drawn end, rows trade places) and a random token. Every
 * few steps each row's logits are compared with a second graph that replays the row's whole history alone on a fresh
 * row (never forking: the dense, copy-free form of the same history). Also: full blocks of forked rows are shared
 * (same block numbers), a row never holds more blocks than its length needs, the pool holds at most one block per row
 * beyond the rows' distinct histories, and it is empty once the rows are released.
 *
 * <p>Tolerance 1e-4 of the largest logit: both sides run the same F32 kernels; only the batch composition differs.
 */
public class Seq2SeqPagedForkTest {
    @TempDir
    Path dir;

    private static final Seq2SeqLimits LIMITS = new Seq2SeqLimits(4, 64, 6, 48);

    @ParameterizedTest
    @ValueSource(strings = {"t5-tiny", "bart-tiny"})
    void forkedPagedRowsEqualReplayedHistories(String name) {
        check(Seq2SeqFixture.copyModel(name, dir), name, Device.CPU, 1e-4);
    }

    /** The random walk on {@code device}, logits within {@code relTol} of the largest replayed logit. */
    public static void check(Path model, String name, Device device, double relTol) {
        List<int[]> sources = Seq2SeqFixture.cases(name).stream().map(Seq2SeqFixture.Case::source).toList().subList(0, 2);
        try (Seq2SeqRunner m = Seq2SeqRunner.load(model, LoadOptions.defaults().withDevice(device), LIMITS);
             Seq2SeqRunner replay = Seq2SeqRunner.load(model, LoadOptions.defaults().withDevice(device), LIMITS)) {
            Seq2SeqGraph g = m.graph();
            int steps = 44, width = 4, vocab = m.config().vocab(), start = m.config().decoderStartId();
            g.encode(sources);
            // rows 0, 1 read source 0; rows 2, 3 source 1; first step: each row from the start token
            g.startRows(new int[] {0, 0, 1, 1}, steps + 1);
            int[] rows = {0, 1, 2, 3};
            List<int[]> hist = new ArrayList<>();
            int[] sourceOf = {0, 0, 1, 1};
            for (int r = 0; r < width; r++) hist.add(new int[] {start});
            g.step(rows, rows, new int[] {start, start, start, start});
            SplittableRandom rnd = new SplittableRandom(name.hashCode());
            int forksSharingFullBlocks = 0;
            for (int s = 1; s < steps; s++) {
                int[] parents = new int[width], newRows = new int[width], tokens = new int[width];
                for (int i = 0; i < width; i++) {
                    parents[i] = rows[rnd.nextInt(width)];
                    tokens[i] = 3 + rnd.nextInt(vocab - 3);
                }
                // new row ids: a permutation of the rows (rows trade places)
                int[] perm = rows.clone();
                for (int i = width - 1; i > 0; i--) {
                    int j = rnd.nextInt(i + 1), t = perm[i];
                    perm[i] = perm[j];
                    perm[j] = t;
                }
                System.arraycopy(perm, 0, newRows, 0, width);
                int[][] before = new int[width][];
                int[] srcBefore = new int[width];
                for (int r = 0; r < width; r++) {
                    before[r] = hist.get(r);
                    srcBefore[r] = sourceOf[r];
                }
                float[][] logits = g.step(newRows, parents, tokens);
                for (int i = 0; i < width; i++) {
                    int[] h = Arrays.copyOf(before[parents[i]], before[parents[i]].length + 1);
                    h[h.length - 1] = tokens[i];
                    hist.set(newRows[i], h);
                    sourceOf[newRows[i]] = srcBefore[parents[i]];
                }
                // paging invariants
                for (int r = 0; r < width; r++) {
                    assertEquals(hist.get(r).length, g.length(r), "row " + r + " length");
                    assertEquals((hist.get(r).length + 15) / 16, g.kvBlockTable(r).length, "row " + r + " holds the blocks its length needs");
                }
                for (int a = 0; a < width; a++) {
                    for (int b = a + 1; b < width; b++) {
                        if (parents[a] == parents[b] && hist.get(newRows[a]).length > 16) {
                            assertEquals(g.kvBlockTable(newRows[a])[0], g.kvBlockTable(newRows[b])[0], "forked rows share their first block");
                            forksSharingFullBlocks++;
                        }
                    }
                }
                assertTrue(g.heldKvBlocks() <= width * ((steps + 1 + 15) / 16), "blocks held: " + g.heldKvBlocks());
                if (s % 7 == 0 || s == steps - 1) {
                    for (int i = 0; i < width; i++) {
                        float[] want = replayed(replay.graph(), sources.get(sourceOf[newRows[i]]), hist.get(newRows[i]));
                        compare(name + " step " + s + " row " + newRows[i], logits[i], want, relTol);
                    }
                }
            }
            assertTrue(forksSharingFullBlocks > 0, "the random walk forked rows past a full block");
            g.releaseAll();
            assertEquals(0, g.heldKvBlocks(), "every KV block is back in the pool");
        }
    }

    /** The logits after a history's last token, replayed alone from the start on a fresh row (no fork, no sharing). */
    private static float[] replayed(Seq2SeqGraph g, int[] source, int[] history) {
        g.encode(List.of(source));
        g.startRows(new int[] {0}, history.length);
        float[] logits = null;
        for (int t : history) logits = g.step(new int[] {0}, new int[] {0}, new int[] {t})[0];
        return logits;
    }

    private static void compare(String what, float[] got, float[] want, double relTol) {
        double scale = 0, worst = 0;
        for (float v : want) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
        assertTrue(worst <= relTol * scale, what + ": worst logit difference " + worst + " of " + scale);
    }
}
