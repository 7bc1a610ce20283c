package io.transfuse.cuda;

import io.transfuse.cuda.runtime.EmulatedRuntime;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.Decoder;
import io.transfuse.model.MixedBatch;
import io.transfuse.model.rwkv.RwkvFixture;
import io.transfuse.model.rwkv.RwkvModel;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The RWKV graph on cuda-emu (the real tf_rwkv_* kernels and the GEMMs on the host emulator, fp16 or bf16
 * activations, fp32 WKV state) against llama.cpp's logits (core's test resources rwkv/, make_rwkv_fixtures.mjs) on
 * rwkv6-tiny and rwkv7-tiny: the 18-token prompt token by token and in passes of 7 (the state carried), prefill-all
 * against token by token, batched against alone.
 */
class RwkvCudaEmuTest {
    @TempDir
    static Path dir;

    /**
     * GPU activations are fp16 or bf16: the weights and every activation are rounded (about a dozen roundings per
     * layer, three layers, the decays exp(-exp(w)) amplifying w's rounding), the WKV state stays fp32. fp16 (2^-11):
     * 2% of the largest logit; bf16 (2^-8): 10%. A wrong decay, bonus, norm or a state not handed on between passes
     * moves logits by tenths to units (measured on the CPU while building the graph).
     */
    private static double tolerance(RwkvFixture f, DType t) { return (t == DType.F16 ? 0.02 : 0.10) * Math.max(1, f.maxLogit()); }

    private static CudaBackend backend(DType t) { return new CudaBackend("cuda-emu", new EmulatedRuntime(), t); }

    private static void run(RwkvFixture f, DType t, int pass, String what) {
        double worst = 0;
        int[] p = f.prompt();
        try (TrackedArena arena = new TrackedArena("test"); RwkvModel graph = RwkvFixture.graph(f.writeModel(dir), arena, backend(t), 64);
             Decoder.Sequence seq = graph.newSequence(256)) {
            float[] logits = new float[graph.vocabSize()];
            for (int s = 0; s < p.length; s += pass) {
                int n = Math.min(pass, p.length - s);
                graph.forward(seq, p, s, n, s, logits);
                double d = f.diff(s + n - 1, logits);
                assertTrue(d <= tolerance(f, t), what + ": logits after position " + (s + n - 1) + " differ from llama.cpp's by " + d);
                worst = Math.max(worst, d);
            }
        }
        System.out.printf("%s cuda-emu %s %s: max |logit diff| vs llama.cpp %.3g (max |logit| %.3g)%n", f.preset(), t, what, worst, f.maxLogit());
    }

    @ParameterizedTest
    @ValueSource(strings = {"rwkv6-tiny", "rwkv7-tiny"})
    void matchesLlamaCpp(String preset) {
        RwkvFixture f = RwkvFixture.load(preset);
        run(f, DType.F16, 1, "token by token");
        run(f, DType.F16, 7, "passes of 7");
        run(f, DType.BF16, 18, "whole prompt");
    }

    @ParameterizedTest
    @ValueSource(strings = {"rwkv6-tiny", "rwkv7-tiny"})
    void prefillAllEqualsTokenByTokenAndBatchedEqualsAlone(String preset) {
        RwkvFixture f = RwkvFixture.load(preset);
        int[] p = f.prompt();
        double worst = 0;
        try (TrackedArena arena = new TrackedArena("test"); RwkvModel graph = RwkvFixture.graph(f.writeModel(dir), arena, backend(DType.F16), 64);
             Decoder.Sequence a = graph.newSequence(256); Decoder.Sequence b = graph.newSequence(256)) {
            float[] all = new float[graph.vocabSize()], step = new float[graph.vocabSize()];
            graph.forward(a, p, 0, p.length, 0, all);
            for (int t = 0; t < p.length; t++) graph.forward(b, p, t, 1, t, step);
            for (int i = 0; i < all.length; i++) worst = Math.max(worst, Math.abs(all[i] - step[i]));
        }
        System.out.printf("%s cuda-emu f16 prefill-all vs token-by-token: max |diff| %.3g%n", preset, worst);
        // one kernel serves both, token by token in order: the same sums, but the GEMMs see other row counts
        assertTrue(worst <= tolerance(f, DType.F16) / 4, "prefill-all and token-by-token differ by " + worst);
        try (TrackedArena arena = new TrackedArena("test"); RwkvModel graph = RwkvFixture.graph(f.writeModel(dir), arena, backend(DType.F16), 64)) {
            MixedBatch.Result r = MixedBatch.run(graph, graph.vocabSize(), 5);
            System.out.printf("%s cuda-emu f16 batched vs alone: max |diff| %.3g (max |logit| %.3g)%n", preset, r.maxDiff(), r.maxAbs());
            assertTrue(r.maxDiff() <= 0.005 * r.maxAbs(), "batched and alone differ by " + r.maxDiff());
        }
    }
}
