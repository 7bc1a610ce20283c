package io.transfuse.model.gpt2;

import io.transfuse.Device;
import io.transfuse.GenerateOptions;
import io.transfuse.GenerationResult;
import io.transfuse.LanguageModel;
import io.transfuse.LoadOptions;
import io.transfuse.Session;
import io.transfuse.Transfuse;
import io.transfuse.loader.RandomGpt2Model;
import io.transfuse.loader.RandomGpt2Model.Shape;
import io.transfuse.SamplingOptions;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * GPT-2 on the CPU against {@link Gpt2Reference}, a plain double-precision implementation that reads the
 * Hugging Face checkpoint as it is: a random-weight model written both as a Hugging Face directory
 * (Conv1D weights) and as GGUF (llama.cpp's layout), teacher-forced logits and greedy generation.
 *
 * <p>Tolerance: the CPU path computes in F32 (matmuls of 64 and 256 terms, LayerNorm, softmax), relative
 * error ~1e-6 per op over 2 layers, but keeps its KV cache in F16 (the default): every cached key and value
 * is rounded to f16, a relative error of up to 2^-11 (4.9e-4), which each attention output inherits (a
 * weighted mean of rounded values; scores shift by 2^-11 |q k| scale at most) and passes on through the
 * remaining layers roughly in proportion. So 2^-11 x the largest logit (logits reach about 17 here; measured
 * 1.1e-4 x it): still far below what any real mistake moves (a wrong head split, a missing bias or a
 * transposed Conv1D change logits by whole units). (With -Dtransfuse.cpu.kvCache=f32 1e-4 x would hold.)
 */
class Gpt2ModelTest {
    @TempDir
    static Path dir;
    static Path hf, gguf;
    static Gpt2Reference ref;
    static final Shape S = Shape.TINY;

    @BeforeAll
    static void write() {
        hf = dir.resolve("gpt2-hf");
        gguf = dir.resolve("gpt2.gguf");
        RandomGpt2Model.writeHf(hf, S, DType.F32, 7, s -> {});
        RandomGpt2Model.writeGguf(gguf, S, DType.F32, 7, s -> {});
        ref = new Gpt2Reference(hf, S.dim(), S.layers(), S.heads(), S.ffn(), S.vocab(), 1e-5);
    }

    static int[] tokens(int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = (i * 37 + 11) % S.vocab();
        return t;
    }

    /** Prefill of the first half, then one token at a time: every step's logits against the reference's. */
    static void teacherForced(Path model, LoadOptions options) {
        int[] t = tokens(24);
        double[][] expected = ref.logits(t);
        double scale = Arrays.stream(expected).flatMapToDouble(Arrays::stream).map(Math::abs).max().orElseThrow();
        double tol = Math.scalb(scale, -11); // the F16 KV cache's rounding (class comment)
        try (LanguageModel lm = Transfuse.load(model, options); Session s = lm.newSession()) {
            float[] logits = new float[lm.vocabSize()];
            s.feed(t, 0, 12, logits);
            assertClose(expected[11], logits, tol, model + " after the 12-token prefill");
            for (int i = 12; i < t.length; i++) {
                s.feed(t, i, 1, logits);
                assertClose(expected[i], logits, tol, model + " decode step at position " + i);
            }
        }
    }

    static void assertClose(double[] expected, float[] actual, double tol, String where) {
        assertEquals(expected.length, actual.length, where + ": vocabulary");
        for (int i = 0; i < expected.length; i++) {
            double d = Math.abs(expected[i] - actual[i]);
            assertTrue(d <= tol, where + ": logit " + i + " is " + actual[i] + ", the reference " + expected[i] + " (|diff| " + d + " > " + tol + ")");
        }
    }

    @Test
    void huggingFaceDirectoryMatchesTheReference() {
        teacherForced(hf, LoadOptions.defaults().withDevice(Device.CPU));
    }

    @Test
    void ggufMatchesTheReference() {
        teacherForced(gguf, LoadOptions.defaults().withDevice(Device.CPU));
    }

    @Test
    void greedyGenerationFollowsTheReferenceArgmax() {
        try (LanguageModel lm = Transfuse.load(hf, LoadOptions.defaults().withDevice(Device.CPU))) {
            GenerationResult r = lm.generate("the weather in the north", new GenerateOptions(16, SamplingOptions.greedy()), s -> {});
            int[] all = r.tokens();
            assertTrue(r.generatedTokens() > 0, "nothing generated: " + r.stopReason());
            double[][] logits = ref.logits(all);
            int[] expected = new int[r.generatedTokens()];
            for (int i = 0; i < expected.length; i++) expected[i] = argmax(logits[r.promptTokens() - 1 + i]);
            assertArrayEquals(expected, Arrays.copyOfRange(all, r.promptTokens(), all.length));
            if (r.stopReason() == GenerationResult.StopReason.END_OF_SEQUENCE) {
                assertEquals(lm.tokenizer().eos(), argmax(logits[all.length - 1]), "stopped at end-of-text the reference does not predict");
            }
        }
    }

    static int argmax(double[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
