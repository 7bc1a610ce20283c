package io.transfuse.cuda;

import io.transfuse.internal.Internals;
import io.transfuse.Device;
import io.transfuse.GenerateOptions;
import io.transfuse.GenerationResult;
import io.transfuse.LanguageModel;
import io.transfuse.LoadOptions;
import io.transfuse.Session;
import io.transfuse.Transfuse;
import io.transfuse.loader.RandomGpt2Model;
import io.transfuse.loader.RandomGpt2Model.Shape;
import io.transfuse.model.MixedBatch;
import io.transfuse.model.gpt2.Gpt2Reference;
import io.transfuse.SamplingOptions;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * GPT-2 on cuda-emu (the same graph class as on the CPU, on the CUDA kernels over the host emulator, fp16;
 * head dim 16 padded to 64) against core's plain double-precision {@link Gpt2Reference}: teacher-forced
 * logits, greedy generation, and a mixed batch of sequences against each sequence alone.
 *
 * <p>Tolerance: fp16 weights and activations (2^-11 relative per rounding, a dozen roundings per layer over
 * 2 layers) on logits of up to ~10: measured about 0.01; the budget 0.05 fails on any real mistake (a wrong
 * head split, a missing bias, a position off by one move logits by whole units). Greedy generation: each
 * chosen token's reference logit must be within the budget of the reference's best (fp16 may pick either of
 * two tokens whose logits differ by less than its error, never a clearly worse one).
 */
class Gpt2CudaEmuTest {
    static final double TOLERANCE = 0.05;
    static final Shape S = Shape.TINY;

    @TempDir
    static Path dir;
    static Path gguf;
    static Gpt2Reference ref;
    static LanguageModel emu;

    @BeforeAll
    static void load() {
        Path hf = dir.resolve("hf");
        gguf = dir.resolve("gpt2.gguf");
        RandomGpt2Model.writeHf(hf, S, DType.F32, 21, s -> {});
        RandomGpt2Model.writeGguf(gguf, S, DType.F32, 21, s -> {});
        ref = new Gpt2Reference(hf, S.dim(), S.layers(), S.heads(), S.ffn(), S.vocab(), 1e-5);
        emu = Transfuse.load(gguf, LoadOptions.defaults().withDevice(Device.CUDA_EMU));
    }

    @AfterAll
    static void close() {
        if (emu != null) emu.close();
    }

    @Test
    void teacherForcedLogitsMatchTheReference() {
        int[] t = new int[20];
        for (int i = 0; i < t.length; i++) t[i] = (i * 53 + 7) % S.vocab();
        double[][] expected = ref.logits(t);
        double worst = 0;
        try (Session s = emu.newSession()) {
            float[] logits = new float[emu.vocabSize()];
            s.feed(t, 0, 9, logits);
            worst = Math.max(worst, maxDiff(expected[8], logits));
            for (int i = 9; i < t.length; i++) {
                s.feed(t, i, 1, logits);
                worst = Math.max(worst, maxDiff(expected[i], logits));
            }
        }
        System.out.printf("gpt2 cuda-emu vs reference, prefill 9 + 11 decode steps: max |logit diff| = %.5f%n", worst);
        assertTrue(worst <= TOLERANCE, "max logit difference " + worst + " > " + TOLERANCE);
    }

    @Test
    void greedyGenerationPicksTheReferenceArgmax() {
        GenerationResult r = emu.generate("the weather in the north", new GenerateOptions(16, SamplingOptions.greedy()), s -> {});
        int[] all = r.tokens();
        assertTrue(r.generatedTokens() > 0, "nothing generated: " + r.stopReason());
        double[][] logits = ref.logits(all);
        for (int i = r.promptTokens(); i < all.length; i++) {
            double[] row = logits[i - 1];
            double best = Arrays.stream(row).max().orElseThrow();
            assertTrue(best - row[all[i]] <= TOLERANCE, "token " + (i - r.promptTokens()) + " (" + all[i] + ") has reference logit "
                    + row[all[i]] + ", the best is " + best);
        }
    }

    @Test
    void mixedBatchMatchesEachSequenceAlone() {
        MixedBatch.Result r = MixedBatch.run(Internals.decoder(emu), emu.vocabSize(), 13);
        System.out.printf("gpt2 cuda-emu mixed batch: batched vs alone %.5f%n", r.maxDiff());
        assertTrue(r.maxDiff() <= TOLERANCE, "batched vs alone: " + r.maxDiff());
    }

    static double maxDiff(double[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }
}
