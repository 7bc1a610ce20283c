package io.transfuse.model.rwkv;

import io.transfuse.backend.Backend;
import io.transfuse.backend.ReferenceBackend;
import io.transfuse.backend.cpu.CpuBackend;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.Decoder;
import io.transfuse.model.MixedBatch;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The RWKV graph against llama.cpp (node-llama-cpp 3.22.1, its rwkv6 / rwkv7 graphs: make_rwkv_fixtures.mjs) on the
 * random-weight rwkv6-tiny (3 layers, 4 heads of 32, the residual halved after layer 2) and rwkv7-tiny (3 layers, 4
 * heads of 32, value residual from layer 0, distinct low ranks) models, logits after every position of an 18-token
 * prompt: token by token, the whole prompt in one pass, in passes of 5 (the state carried between passes), on the
 * CPU and on the plain-Java double reference backend (the graph apart from the native kernels). Then prefill-all
 * against token-by-token (the fixture's prompt and a 61-token one: the chunked WKV-6 / transposed WKV-7 prefill paths
 * of 16 tokens or more against the one-step decode path), and batched against alone.
 */
class RwkvLlamaCppTest {
    @TempDir
    static Path dir;

    /**
     * fp32 against llama.cpp's fp32 (its own summation order, vectorised exp): measured max |diff| 3.0e-6 (rwkv6-tiny)
     * and 3.9e-6 (rwkv7-tiny) against max |logit| 4.0 and 4.4; budget 2e-5 x max(1, max |logit|), 20x that. A wrong
     * lerp, decay formula, bonus, norm or missing value residual moves logits by tenths (measured while building it).
     */
    private static double tolerance(RwkvFixture f) { return 2e-5 * Math.max(1, f.maxLogit()); }

    /** The prompt in passes of {@code pass} tokens; the logits after every pass compared; the worst diff. */
    private static double run(RwkvFixture f, Supplier<Backend> backend, int pass, String what) {
        double worst = 0;
        int[] p = f.prompt();
        try (TrackedArena arena = new TrackedArena("test"); RwkvModel graph = RwkvFixture.graph(f.writeModel(dir), arena, backend.get(), 64);
             Decoder.Sequence seq = graph.newSequence(256)) {
            float[] logits = new float[graph.vocabSize()];
            for (int t = 0; t < p.length; t += pass) {
                int n = Math.min(pass, p.length - t);
                graph.forward(seq, p, t, n, t, logits);
                double d = f.diff(t + n - 1, logits);
                assertTrue(d <= tolerance(f), what + ": logits after position " + (t + n - 1) + " differ from llama.cpp's by " + d);
                worst = Math.max(worst, d);
            }
        }
        System.out.printf("%s %s: max |logit diff| vs llama.cpp %.3g (max |logit| %.3g)%n", f.preset(), what, worst, f.maxLogit());
        return worst;
    }

    @ParameterizedTest
    @ValueSource(strings = {"rwkv6-tiny", "rwkv7-tiny"})
    void cpuMatchesLlamaCpp(String preset) {
        RwkvFixture f = RwkvFixture.load(preset);
        assertTrue(f.maxLogit() > 1, "logits too small to make the comparison meaningful");
        run(f, () -> CpuBackend.create(0), 1, "cpu token by token");
        run(f, () -> CpuBackend.create(0), 64, "cpu whole prompt");
        run(f, () -> CpuBackend.create(0), 5, "cpu passes of 5");
    }

    @ParameterizedTest
    @ValueSource(strings = {"rwkv6-tiny", "rwkv7-tiny"})
    void referenceBackendMatchesLlamaCpp(String preset) {
        RwkvFixture f = RwkvFixture.load(preset);
        run(f, ReferenceBackend::new, 1, "reference backend token by token");
        run(f, ReferenceBackend::new, 7, "reference backend passes of 7");
    }

    @ParameterizedTest
    @ValueSource(strings = {"rwkv6-tiny", "rwkv7-tiny"})
    void prefillAllEqualsTokenByToken(String preset) {
        RwkvFixture f = RwkvFixture.load(preset);
        int[] p = f.prompt();
        double worst = 0;
        try (TrackedArena arena = new TrackedArena("test"); RwkvModel graph = RwkvFixture.graph(f.writeModel(dir), arena, CpuBackend.create(0), 64);
             Decoder.Sequence a = graph.newSequence(256); Decoder.Sequence b = graph.newSequence(256)) {
            float[] all = new float[graph.vocabSize()], step = new float[graph.vocabSize()];
            graph.forward(a, p, 0, p.length, 0, all);
            for (int t = 0; t < p.length; t++) graph.forward(b, p, t, 1, t, step);
            for (int i = 0; i < all.length; i++) worst = Math.max(worst, Math.abs(all[i] - step[i]));
            // a restart at position 0 forgets the earlier state
            graph.forward(a, p, 0, p.length, 0, step);
            for (int i = 0; i < all.length; i++) worst = Math.max(worst, Math.abs(all[i] - step[i]));
            // a longer prompt, the fixture's cycled: several WKV chunks and a partial one (61 = 3 x 16 + 13)
            int[] longPrompt = new int[61];
            for (int t = 0; t < longPrompt.length; t++) longPrompt[t] = p[t % p.length];
            graph.forward(a, longPrompt, 0, longPrompt.length, 0, all);
            for (int t = 0; t < longPrompt.length; t++) graph.forward(b, longPrompt, t, 1, t, step);
            for (int i = 0; i < all.length; i++) worst = Math.max(worst, Math.abs(all[i] - step[i]));
        }
        System.out.printf("%s prefill-all vs token-by-token: max |diff| %.3g%n", preset, worst);
        assertTrue(worst <= 1e-5 * Math.max(1, f.maxLogit()), "prefill-all and token-by-token differ by " + worst);
    }

    @ParameterizedTest
    @ValueSource(strings = {"rwkv6-tiny", "rwkv7-tiny"})
    void batchedEqualsAlone(String preset) {
        RwkvFixture f = RwkvFixture.load(preset);
        try (TrackedArena arena = new TrackedArena("test"); RwkvModel graph = RwkvFixture.graph(f.writeModel(dir), arena, CpuBackend.create(0), 64)) {
            MixedBatch.Result r = MixedBatch.run(graph, graph.vocabSize(), 5);
            System.out.printf("%s batched vs alone: max |diff| %.3g (max |logit| %.3g)%n", preset, r.maxDiff(), r.maxAbs());
            assertTrue(r.maxAbs() > 1, "logits too small");
            assertTrue(r.maxDiff() <= 1e-5 * r.maxAbs(), "batched and alone differ by " + r.maxDiff());
        }
    }
}
