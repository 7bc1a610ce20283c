package io.transfuse.model.mamba;

import io.transfuse.backend.Backend;
import io.transfuse.backend.ReferenceBackend;
import io.transfuse.backend.cpu.CpuBackend;
import io.transfuse.loader.RandomMambaModel;
import io.transfuse.loader.RandomMambaModel.Shape;
import io.transfuse.loader.ShardedSafetensors;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.Decoder;
import io.transfuse.model.DecoderLimits;
import io.transfuse.model.StateSlots;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The Mamba graph against {@link MambaReference} (a separate plain sequential implementation) on
 * random-weight models: prefill of a prompt, then decode steps, on the CPU backend and on the
 * plain-Java reference backend; prefill-all against token-by-token decode.
 */
class MambaModelTest {
    private static final long SEED = 7;
    private static final int[] PROMPT = {5, 200, 17, 99, 256, 3, 42, 42, 150, 271, 8};
    private static final int DECODE_STEPS = 6;

    @TempDir
    Path dir;

    /** The shapes tested: the tiny default, and one with every option flipped and odd sizes. */
    private static final Shape[] SHAPES = {
            Shape.TINY,
            new Shape(40, 3, 8, 3, 3, 5, false, true, false),
            new Shape(32, 1, 4, 1, 2, 0, true, false, true), // kernel width 1: no conv state
    };

    private record Run(double maxDiff, double maxLogit) {}

    /** The graph of the model in {@code dir} on {@code backend}, forward passes of {@code chunk} tokens, 64 positions. */
    static MambaModel load(Path dir, TrackedArena arena, Backend backend, int chunk) {
        MambaConfig c = MambaConfig.read(dir.resolve("config.json"));
        return new MambaModel(c, MambaWeights.from(ShardedSafetensors.open(dir, arena), c), backend, new DecoderLimits(chunk, 4, 64, 16));
    }

    /**
     * Feeds PROMPT at once, then DECODE_STEPS greedy tokens one at a time (the reference's choice),
     * comparing every logits vector with the reference's; returns the largest difference.
     */
    private Run compare(Shape shape, DType type, Backend backend, int chunk, double tolerance) {
        Path model = dir.resolve(shape.dModel() + "-" + shape.layers() + "-" + type + "-" + chunk + "-" + backend.name());
        RandomMambaModel.write(model, shape, type, SEED, msg -> { });
        MambaReference ref = new MambaReference(shape, type, SEED);
        double maxDiff = 0, maxLogit = 0;
        try (TrackedArena arena = new TrackedArena("test"); MambaModel graph = load(model, arena, backend, chunk);
             Decoder.Sequence state = graph.newSequence(64)) {
            assertEquals(shape.vocabRows(), graph.vocabSize());
            double[] expected = null;
            for (int t : PROMPT) expected = ref.step(t);
            float[] logits = new float[graph.vocabSize()];
            graph.forward(state, PROMPT, 0, PROMPT.length, 0, logits);
            int pos = PROMPT.length;
            for (int step = 0; ; step++) {
                for (int i = 0; i < expected.length; i++) {
                    double got = logits[i];
                    double diff = Math.abs(got - expected[i]);
                    maxLogit = Math.max(maxLogit, Math.abs(expected[i]));
                    maxDiff = Math.max(maxDiff, diff);
                    assertTrue(diff <= tolerance, shape + " " + type + " " + backend.name() + " step " + step + " logit " + i
                            + ": expected " + expected[i] + ", got " + got);
                }
                if (step == DECODE_STEPS) break;
                int next = MambaReference.argmax(expected, shape.vocab());
                expected = ref.step(next);
                graph.forward(state, new int[] {next}, 0, 1, pos++, logits);
            }
            assertEquals(pos, ((StateSlots.Slot) state).position());
        }
        System.out.printf("mamba %s %s on %s, chunk %d: max |logit diff| %.3g (max |logit| %.3g)%n",
                shape, type, backend.name(), chunk, maxDiff, maxLogit);
        return new Run(maxDiff, maxLogit);
    }

    @Test
    void cpuGraphMatchesReference() {
        for (Shape s : SHAPES) {
            // fp32 kernels against double: |logit| up to ~60; the state recurrence does not amplify
            // errors (|exp(dt A)| <= 1), so differences stay at float rounding of the sums
            // (measured: 5e-6 at most); 5e-5 leaves room for other summation orders.
            Run run = compare(s, DType.F32, CpuBackend.create(0), 128, 5e-5);
            assertTrue(run.maxLogit() > 1, "logits too small to make the comparison meaningful: " + run.maxLogit());
            // prefill split into chunks of 4 tokens (several workspace passes, state carried)
            compare(s, DType.F32, CpuBackend.create(0), 4, 5e-5);
        }
    }

    @Test
    void f16WeightsMatchReference() {
        // The reference rounds the same weights to f16; the CPU matmul reads f16 exactly.
        compare(Shape.TINY, DType.F16, CpuBackend.create(0), 128, 5e-5);
    }

    @Test
    void referenceBackendGraphMatchesReference() {
        // The graph on the double-precision Java backend: only float storage of activations differs
        // (measured: 2.3e-6 at most).
        for (Shape s : SHAPES) compare(s, DType.F32, new ReferenceBackend(), 5, 2e-5);
    }

    @Test
    void prefillAllEqualsTokenByToken() {
        Shape s = Shape.TINY;
        Path model = dir.resolve("m");
        RandomMambaModel.write(model, s, DType.F32, SEED, msg -> { });
        try (TrackedArena arena = new TrackedArena("test"); MambaModel graph = load(model, arena, CpuBackend.create(0), 128);
             Decoder.Sequence a = graph.newSequence(64); Decoder.Sequence b = graph.newSequence(64)) {
            double maxDiff = 0;
            for (int n = 1; n <= PROMPT.length; n++) {
                // prefix of n tokens in one call, against feeding token n-1 after the previous n-1 steps
                float[] all = new float[graph.vocabSize()], step = new float[graph.vocabSize()];
                graph.forward(a, PROMPT, 0, n, 0, all);
                graph.forward(b, PROMPT, n - 1, 1, n - 1, step);
                for (int i = 0; i < all.length; i++) {
                    double diff = Math.abs(all[i] - step[i]);
                    maxDiff = Math.max(maxDiff, diff);
                    // the same fp32 recurrences; only the matmul's summation order may differ
                    // between one row and many: 1e-5 on logits of size ~10.
                    assertTrue(diff <= 1e-5, "prefix " + n + " logit " + i + ": prefill " + all[i] + ", token by token " + step[i]);
                }
            }
            System.out.printf("mamba prefill-all vs token-by-token: max |logit diff| %.3g%n", maxDiff);
        }
    }

    @Test
    void stateRestartsAtZeroAndCannotRewind() {
        Path model = dir.resolve("m");
        RandomMambaModel.write(model, Shape.TINY, DType.F32, SEED, msg -> { });
        try (TrackedArena arena = new TrackedArena("test"); MambaModel graph = load(model, arena, CpuBackend.create(0), 128);
             Decoder.Sequence st = graph.newSequence(16); Decoder.Sequence small = graph.newSequence(8)) {
            float[] first = new float[graph.vocabSize()], again = new float[graph.vocabSize()];
            graph.forward(st, PROMPT, 0, 4, 0, first);
            graph.forward(st, PROMPT, 4, 3, 4, again);
            // startPos 0 starts a new sequence: the state is cleared, the logits repeat exactly
            graph.forward(st, PROMPT, 0, 4, 0, again);
            assertArrayEquals(first, again, 0f);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> graph.forward(st, PROMPT, 0, 1, 2, again));
            assertTrue(e.getMessage().contains("position 4"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> graph.forward(small, PROMPT, 0, 11, 0, again));
            assertTrue(e.getMessage().contains("capacity of 8"), e.getMessage());
        }
    }
}
