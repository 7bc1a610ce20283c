package io.transfuse.model.mamba;

import io.transfuse.backend.Backend;
import io.transfuse.backend.ReferenceBackend;
import io.transfuse.backend.cpu.CpuBackend;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.Decoder;
import io.transfuse.model.MixedBatch;
import org.junit.jupiter.api.Test;

import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The Mamba-2 graph against the NumPy reference of make_mamba2_fixture.py (the SSM as the plain sequential
 * recurrence, float64) on its two random-weight models: {@code tiny} (2 layers, 4 heads of 16, 2 B/C groups,
 * state 16, conv 4 with bias, untied head) and {@code variant} (3 layers, 6 heads of 8, 1 group, state 12,
 * conv 3 without bias, in_proj/out_proj biases, tied head). The 80-token prompt crosses the CPU scan's
 * 64-token chunks. Prefill of 70 tokens, then the last 10 one at a time; passes of 16 tokens (the prompt in
 * 5 passes, the state carried); everything token by token; the batched schedule against each sequence alone.
 */
class Mamba2ModelTest {
    private static final String[] FIXTURES = {"tiny", "variant"};
    private static final int PREFILL = 70;
    /**
     * fp32 graph against float64: |logit| up to 23 (variant, tied head); each layer's sums are rounded to fp32
     * and the chunked scan sums in another order than the recurrence. Measured max |diff| 9.7e-7 (tiny, max
     * |logit| 3.5) and 7.6e-6 (variant, 23); budget 1e-5 x max(1, max |logit|), 30x the measurements. Dropping D,
     * the gate, dt_bias, a conv or a group mix-up moves logits by tenths to units.
     */
    private static double tolerance(Mamba2Fixture f) { return 1e-5 * Math.max(1, f.maxLogit()); }

    /** Prefill of the first {@code prefill} tokens in passes of {@code passTokens}, then the rest one at a time; the worst diff. */
    private static double run(Mamba2Fixture f, Supplier<Backend> backend, int passTokens, int prefill, String what) {
        double worst = 0;
        try (TrackedArena arena = new TrackedArena("test"); Mamba2Model graph = f.graph(arena, backend.get(), passTokens);
             Decoder.Sequence seq = graph.newSequence(256)) {
            float[] logits = new float[graph.vocabSize()];
            graph.forward(seq, f.prompt(), 0, prefill, 0, logits);
            worst = check(f, prefill - 1, logits, what);
            for (int t = prefill; t < f.prompt().length; t++) {
                graph.forward(seq, f.prompt(), t, 1, t, logits);
                worst = Math.max(worst, check(f, t, logits, what));
            }
        }
        System.out.printf("mamba2 %s: max |logit diff| %.3g (max |logit| %.3g)%n", what, worst, f.maxLogit());
        return worst;
    }

    private static double check(Mamba2Fixture f, int t, float[] logits, String what) {
        double d = f.diff(t, logits);
        assertTrue(d <= tolerance(f), what + ": logits after position " + t + " differ from the NumPy reference by " + d);
        return d;
    }

    @Test
    void cpuMatchesNumpyReference() {
        for (String name : FIXTURES) {
            Mamba2Fixture f = Mamba2Fixture.load(name);
            assertTrue(f.maxLogit() > 1, "logits too small to make the comparison meaningful");
            run(f, () -> CpuBackend.create(0), 128, PREFILL, name + " cpu, prefill " + PREFILL);
            run(f, () -> CpuBackend.create(0), 16, PREFILL, name + " cpu, passes of 16");
            run(f, () -> CpuBackend.create(0), 128, 1, name + " cpu, token by token");
        }
    }

    @Test
    void referenceBackendMatchesNumpyReference() {
        // the graph on the plain-Java double backend: checks the graph apart from the native kernels
        for (String name : FIXTURES) run(Mamba2Fixture.load(name), ReferenceBackend::new, 32, 40, name + " reference backend");
    }

    @Test
    void prefillAllEqualsTokenByToken() {
        Mamba2Fixture f = Mamba2Fixture.load("tiny");
        double maxDiff = 0;
        try (TrackedArena arena = new TrackedArena("test"); Mamba2Model graph = f.graph(arena, CpuBackend.create(0), 128);
             Decoder.Sequence a = graph.newSequence(256); Decoder.Sequence b = graph.newSequence(256)) {
            float[] all = new float[graph.vocabSize()], step = new float[graph.vocabSize()];
            for (int n = 1; n <= f.prompt().length; n++) {
                graph.forward(a, f.prompt(), 0, n, 0, all); // the prefix of n tokens in one call (a restarts at 0)
                graph.forward(b, f.prompt(), n - 1, 1, n - 1, step);
                for (int i = 0; i < all.length; i++) {
                    double diff = Math.abs(all[i] - step[i]);
                    maxDiff = Math.max(maxDiff, diff);
                    // the same fp32 ops; the chunked scan and the matmul over many rows sum in other orders
                    assertTrue(diff <= 1e-4, "prefix " + n + " logit " + i + ": prefill " + all[i] + ", token by token " + step[i]);
                }
            }
        }
        System.out.printf("mamba2 prefill-all vs token-by-token: max |logit diff| %.3g%n", maxDiff);
    }

    @Test
    void batchedEqualsAlone() {
        for (String name : FIXTURES) {
            Mamba2Fixture f = Mamba2Fixture.load(name);
            try (TrackedArena arena = new TrackedArena("test"); Mamba2Model graph = f.graph(arena, CpuBackend.create(0), 128)) {
                MixedBatch.Result r = MixedBatch.run(graph, f.logits()[0].length, 42);
                double tol = 1e-4 * Math.max(1, r.maxAbs());
                assertTrue(r.maxDiff() <= tol, name + ": batched logits differ from alone by " + r.maxDiff() + " > " + tol);
                System.out.printf("mamba2 %s batched vs alone: max |logit diff| %.3g%n", name, r.maxDiff());
            }
        }
    }
}
