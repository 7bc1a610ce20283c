package io.transfuse.model.seq2seq;

import io.transfuse.Device;
import io.transfuse.LoadOptions;
import io.transfuse.Seq2SeqModel;
import io.transfuse.Seq2SeqOptions;
import io.transfuse.generate.BeamModel;
import io.transfuse.generate.BeamSearch;
import io.transfuse.generate.GenerationConfig;
import io.transfuse.generate.GenerationConfigFiles;
import io.transfuse.generate.Hypothesis;
import io.transfuse.internal.Internals;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Beam search through {@link Seq2SeqModel#generateIds} with {@code numBeams} > 1, where every step forks and reorders
 * decoder rows (a row takes over its parent's self-attention cache), against the same search
 * ({@link BeamSearch}, checked against transformers' own beam helpers elsewhere) over a model that never forks: it
 * keeps each hypothesis's tokens and, every step, replays all of them from the decoder start token on fresh rows. The
 * two differ only in how a hypothesis's cache is carried from step to step, so a wrong parent, row or copy shows as
 * a different hypothesis. Exact token equality: both run the same kernels on the same rows' histories (the replay
 * feeds them in the same order), so their logits agree to rounding, far below the score gaps of random weights.
 */
class Seq2SeqBeamSearchTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"t5-tiny", "bart-tiny", "marian-tiny"})
    void beamsThroughForkedRowsEqualReplayedHypotheses(String name) {
        int beams = 3, maxNew = 7;
        Path model = Seq2SeqFixture.copyModel(name, dir);
        List<int[]> sources = Seq2SeqFixture.cases(name).stream().map(Seq2SeqFixture.Case::source).toList();
        try (Seq2SeqModel m = Seq2SeqModel.load(model, LoadOptions.defaults().withDevice(Device.CPU).withMaxSequences(beams * sources.size()))) {
            List<int[]> got = m.generateIds(sources, new Seq2SeqOptions(maxNew, beams));
            Seq2SeqRunner runner = Internals.seq2seq(m);
            GenerationConfig config = GenerationConfigFiles.load(model).toBuilder().numBeams(beams).numReturnSequences(1)
                    .maxLength(-1).maxNewTokens(maxNew).build();
            runner.graph().encode(sources);
            int[][] starts = new int[sources.size()][];
            for (int s = 0; s < starts.length; s++) starts[s] = new int[] {runner.config().decoderStartId()};
            List<List<Hypothesis>> expected = BeamSearch.run(new Replay(runner.graph(), maxNew + 1), starts, config);
            boolean differsFromGreedy = false;
            List<int[]> greedy = m.generateIds(sources, new Seq2SeqOptions(maxNew));
            for (int s = 0; s < sources.size(); s++) {
                int[] t = expected.get(s).getFirst().tokens();
                assertArrayEquals(Arrays.copyOfRange(t, 1, t.length), got.get(s), name + " source " + s);
                differsFromGreedy |= !Arrays.equals(got.get(s), greedy.get(s));
            }
            System.out.printf("%s: %d sources, %d beams; beam output differs from greedy for some source: %s%n", name,
                    sources.size(), beams, differsFromGreedy);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1})
    void oneBeamIsGreedy(int beams) {
        Path model = Seq2SeqFixture.copyModel("bart-tiny", dir);
        List<Seq2SeqFixture.Case> cases = Seq2SeqFixture.cases("bart-tiny");
        try (Seq2SeqModel m = Seq2SeqModel.load(model, LoadOptions.defaults().withDevice(Device.CPU))) {
            List<int[]> got = m.generateIds(cases.stream().map(Seq2SeqFixture.Case::source).toList(), new Seq2SeqOptions(8, beams));
            for (int k = 0; k < cases.size(); k++) assertArrayEquals(cases.get(k).greedy(), got.get(k), "case " + k);
        }
    }

    /** A {@link BeamModel} that never forks: every call replays each row's whole history on fresh decoder rows. */
    private static final class Replay implements BeamModel {
        private final Seq2SeqGraph graph;
        private final int capacity;
        private List<int[]> histories = new ArrayList<>();
        private int[] inputOf;

        Replay(Seq2SeqGraph graph, int capacity) {
            this.graph = graph;
            this.capacity = capacity;
        }

        @Override
        public float[][] start(int[][] prompts) {
            histories = new ArrayList<>();
            inputOf = new int[prompts.length];
            for (int s = 0; s < prompts.length; s++) {
                histories.add(prompts[s].clone());
                inputOf[s] = s;
            }
            return replay();
        }

        @Override
        public float[][] step(int[] parents, int[] tokens) {
            List<int[]> next = new ArrayList<>();
            int[] inputs = new int[parents.length];
            for (int j = 0; j < parents.length; j++) {
                int[] h = histories.get(parents[j]);
                int[] n = Arrays.copyOf(h, h.length + 1);
                n[h.length] = tokens[j];
                next.add(n);
                inputs[j] = inputOf[parents[j]];
            }
            histories = next;
            inputOf = inputs;
            return replay();
        }

        private float[][] replay() {
            int k = histories.size(), len = histories.getFirst().length;
            int[] rows = new int[k];
            for (int j = 0; j < k; j++) {
                rows[j] = j;
                assertEquals(len, histories.get(j).length, "beam rows advance together");
            }
            graph.startRows(inputOf.clone(), capacity);
            float[][] logits = null;
            for (int t = 0; t < len; t++) {
                int[] tokens = new int[k];
                for (int j = 0; j < k; j++) tokens[j] = histories.get(j)[t];
                logits = graph.step(rows, rows, tokens);
            }
            assertTrue(logits != null && logits.length == k);
            float[][] copy = new float[k][];
            for (int j = 0; j < k; j++) copy[j] = logits[j].clone();
            return copy;
        }
    }
}
