package io.transfuse.model.llama;

import io.transfuse.internal.Internals;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.transfuse.Device;
import io.transfuse.LanguageModel;
import io.transfuse.LoadOptions;
import io.transfuse.Session;
import io.transfuse.Transfuse;
import io.transfuse.backend.cpu.CpuBackend;
import io.transfuse.loader.RandomVariantModel;
import io.transfuse.quantize.ModelQuantizer;
import io.transfuse.quantize.QuantPreset;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every Llama-family architecture against llama.cpp: a random-weight tiny model of each ({@code make-model
 * --preset NAME-tiny}, seed 1), llama.cpp's logits at every position of a teacher-forced 24-token prompt and its
 * 8 greedy tokens after it (fixtures from {@code ci/llama-fixtures.sh}, resources/llamacpp/variants), and Transfuse on
 * the same file: the prompt's first 16 tokens as one prefill, then one token at a time.
 *
 * <p>Measure: the largest |difference| of a logit over all positions and the vocabulary, against the spread of
 * the reference logits (their standard deviation, about 4 here). Tolerance 1% of that for F32 weights: both
 * engines compute in f32, but llama.cpp keeps its KV cache in f16 (3 decimal digits). Q8_0 adds llama.cpp's 8-bit
 * activations in its dot products (one step of max|x|/127 per 32 values): at the head alone, a logit's error is about
 * sqrt(256) * (3/127/sqrt(12)) * 0.25 = 0.027 units, 4.3 standard deviations of that over 12k logits is 0.12, 3% of
 * the spread, and each layer adds its own (every matmul of both layers, and the attention scores): measured up to 9%,
 * tolerance 15% (for scale: llama.cpp's own Q8_0 and F32 logits of these files differ by 4-16%).
 * K-quants (Q4_K_M, Q5_K_M and Q6_K; our quantizer's blocks with
 * llama.cpp's per-tensor rules, so llama.cpp reads our files): llama.cpp quantises activations per 256 values for
 * the K-quant dot products, as Transfuse does; one step is max|x|/127 over 256 values instead of 32 (the maximum of
 * 256 normal values is about 1.4x that of 32), so each rounding that the two engines' slightly different activations
 * make differently costs 1.4x more: tolerance 1.4 x 15% = 20% ({@link #KQUANT_TOLERANCE}). Measured 0.03 (Gemma) to
 * 0.155 (phi3-tiny Q5_K_M, whose fused attn_qkv is Q5_K in layer 0 as llama.cpp chooses it).
 * Greedy tokens: the presets' head (N(0, 0.25^2) over a 256-wide normed state) makes top-1/top-2 gaps of about a
 * unit; a step is compared while llama.cpp's gap there exceeds twice the tolerance, and at least 4 steps (F32) or
 * none (Q8_0: its tolerance is wide) must qualify, so a flat model fails loudly instead of passing by luck.
 */
class LlamaVariantsLlamaCppTest {
    static final double F32_TOLERANCE = 0.01, Q8_0_TOLERANCE = 0.15, KQUANT_TOLERANCE = 0.2;
    static final int[] PROMPT = {1, 45, 300, 77, 12, 400, 263, 5, 99, 310, 150, 61, 222, 480, 33, 270, 19, 350, 90, 130, 444, 8, 201, 377};
    static final int PREFILL = 16;

    @TempDir
    static Path dir;

    static JsonNode fixture(String name) {
        try (InputStream in = LlamaVariantsLlamaCppTest.class.getResourceAsStream("/llamacpp/variants/" + name + ".json.gz")) {
            if (in == null) throw new IllegalStateException("fixture llamacpp/variants/" + name + ".json.gz is missing; run ci/llama-fixtures.sh");
            return new ObjectMapper().readTree(new GZIPInputStream(in));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Transfuse's logits after every prompt position, and its greedy continuation. */
    record Run(float[][] logits, int[] greedy) {}

    static Run run(Path model, Device device, int greedySteps, double tolerance) {
        return run(model, device, PROMPT, PREFILL, greedySteps, tolerance);
    }

    /** Transfuse on {@code prompt}, token by token, and its first {@code prefill} tokens as one prefill pass. */
    static Run run(Path model, Device device, int[] prompt, int prefill, int greedySteps, double tolerance) {
        try (LanguageModel lm = Transfuse.load(model, LoadOptions.defaults().withDevice(device).withContextLength(256))) {
            int vocab = Internals.decoder(lm).vocabSize();
            float[][] logits = new float[prompt.length][vocab];
            try (Session one = lm.newSession(); Session whole = lm.newSession()) {
                for (int i = 0; i < prompt.length; i++) one.feed(new int[] {prompt[i]}, logits[i]);
                // the same positions through one prefill pass, then decode steps: they must agree with the above
                float[] p = new float[vocab];
                whole.feed(Arrays.copyOf(prompt, prefill), p);
                // (prefill and decode kernels quantise activations differently for 8-bit weights: the same tolerance)
                assertTrue(maxDiff(p, logits[prefill - 1]) <= tolerance * spread(p), "prefill and token-by-token logits differ at position " + (prefill - 1));
                int[] greedy = new int[greedySteps];
                float[] next = logits[prompt.length - 1].clone();
                Session s = one;
                for (int g = 0; g < greedySteps; g++) {
                    greedy[g] = argmax(next);
                    s.feed(new int[] {greedy[g]}, next);
                }
                return new Run(logits, greedy);
            }
        }
    }

    static int argmax(float[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
        return best;
    }

    static double maxDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }

    static double spread(float[] a) {
        double mean = 0, sq = 0;
        for (float v : a) mean += v;
        mean /= a.length;
        for (float v : a) sq += (v - mean) * (v - mean);
        return Math.sqrt(sq / a.length);
    }

    static float[] row(JsonNode r) {
        float[] f = new float[r.size()];
        for (int i = 0; i < f.length; i++) f[i] = (float) r.get(i).asDouble();
        return f;
    }

    /** Compares a run against the fixture; returns the measured max |diff| / spread for the report. */
    static double compare(String name, Run ours, JsonNode ref, double tolerance, int minGreedy) {
        JsonNode logits = ref.get("logits");
        int positions = ours.logits.length;
        assertEquals(positions, logits.size(), name + ": the fixture's prompt has another length");
        double worst = 0, spread = 0;
        for (int i = 0; i < positions; i++) spread += spread(row(logits.get(i))) / positions;
        for (int i = 0; i < positions; i++) {
            float[] expected = row(logits.get(i));
            double d = maxDiff(expected, ours.logits[i]) / spread;
            worst = Math.max(worst, d);
            assertTrue(d <= tolerance, String.format(Locale.ROOT, "%s: position %d: max |logit diff| %.4f spreads (tolerance %.3f)",
                    name, i, d, tolerance));
        }
        // Greedy tokens are compared while llama.cpp's own top-1/top-2 gap at the step exceeds twice the tolerance
        // (after a closer call the two engines may rightly part ways, and every later token depends on it).
        JsonNode greedy = ref.get("greedy"), gaps = ref.get("greedy_gaps");
        int compared = 0;
        while (compared < greedy.size() && gaps.get(compared).asDouble() / spread > 2 * tolerance) {
            assertEquals(greedy.get(compared).asInt(), ours.greedy[compared], name + ": greedy token " + compared + " differs from llama.cpp's");
            compared++;
        }
        assertTrue(compared >= minGreedy, name + ": only " + compared + " greedy steps had a top-1/top-2 gap above "
                + 2 * tolerance + " spreads; the fixture does not discriminate");
        System.out.printf(Locale.ROOT, "%s: max |logit diff| = %.5f of the logits' spread (%.2f)%n", name, worst, spread);
        return worst;
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama3-tiny", "mistral-tiny", "qwen2-tiny", "qwen3-tiny", "gemma-tiny", "gemma2-tiny", "gemma3-tiny", "phi3-tiny"})
    void cpuAgreesWithLlamaCpp(String preset) {
        List<String> types = List.of("f32", "q8_0", "q4_k_m", "q5_k_m", "q6_k");
        Path f32 = dir.resolve(preset + "-f32.gguf");
        RandomVariantModel.writeGguf(f32, RandomVariantModel.preset(preset), DType.F32, 1, msg -> { });
        for (String type : types) {
            String name = preset + "-" + type;
            Path file = dir.resolve(name + ".gguf");
            switch (type) {
                case "f32" -> { }
                case "q8_0" -> RandomVariantModel.writeGguf(file, RandomVariantModel.preset(preset), DType.Q8_0, 1, msg -> { });
                default -> ModelQuantizer.quantize(f32, file, QuantPreset.parse(type), msg -> { });
            }
            double tolerance = switch (type) {
                case "f32" -> F32_TOLERANCE;
                case "q8_0" -> Q8_0_TOLERANCE;
                default -> KQUANT_TOLERANCE;
            };
            compare(name, run(type.equals("f32") ? f32 : file, Device.CPU, 8, tolerance), fixture(name), tolerance, type.equals("f32") ? 4 : 0);
        }
    }

    /**
     * The Hugging Face form of each preset (its config.json keys, unfused names, Gemma's w instead of 1 + w, half-split
     * Q/K rows) computes what the GGUF form computes. Mistral's HF config has a sliding window that llama.cpp's "llama"
     * GGUF does not: the two agree up to the window and must differ after it.
     */
    @ParameterizedTest
    @ValueSource(strings = {"llama3-tiny", "mistral-tiny", "qwen2-tiny", "qwen3-tiny", "gemma-tiny", "gemma2-tiny", "gemma3-tiny", "phi3-tiny"})
    void huggingFaceFormMatchesGguf(String preset) {
        RandomVariantModel.Preset p = RandomVariantModel.preset(preset);
        Path gguf = dir.resolve(preset + "-hfcheck.gguf"), hf = dir.resolve(preset + "-hf");
        RandomVariantModel.writeGguf(gguf, p, DType.F32, 1, msg -> { });
        RandomVariantModel.writeHf(hf, p, DType.F32, 1, msg -> { });
        // F32 KV caches: these compare two forms of one computation at 1e-4 (also prefill against token by token
        // inside run); with the default F16 cache, a key that prefill and decode (or the two forms) compute within
        // f32 rounding can round to neighbouring halves, a 2^-10 step that this tiny model amplifies past 1e-4
        Run a, b;
        System.setProperty(CpuBackend.KV_CACHE_PROPERTY, "f32");
        try {
            a = run(gguf, Device.CPU, 0, 1e-4);
            b = run(hf, Device.CPU, 0, 1e-4);
        } finally {
            System.clearProperty(CpuBackend.KV_CACHE_PROPERTY);
        }
        int agree = preset.equals("mistral-tiny") ? RandomVariantModel.WINDOW : PROMPT.length;
        for (int i = 0; i < PROMPT.length; i++) {
            double d = maxDiff(a.logits[i], b.logits[i]) / spread(a.logits[i]);
            if (i < agree) assertTrue(d < 1e-4, preset + ": position " + i + ": HF and GGUF logits differ by " + d + " spreads");
            else assertTrue(d > 1e-3, preset + ": position " + i + ": the HF sliding window changed nothing");
        }
    }
}
