package io.transfuse.model.llama;

import io.transfuse.Device;
import io.transfuse.quantize.LlamaCppQuantizedFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Transfuse reads GGUF files that llama.cpp quantised itself (not our quantizer's blocks): the one-layer micro
 * presets (llama3-micro: Llama 3 RoPE scaling, tied head; gemma2-micro: soft-caps, sandwich norms, sliding window),
 * F32 from make-model, quantised by llama.cpp's llama_model_quantize into Q4_K_M (Q4_K + Q6_K blocks), Q6_K and
 * Q5_K_M (Q5_K + Q6_K), and llama.cpp's logits on those very files at every position of a teacher-forced prompt
 * (fixtures: resources/llamacpp/quantized, {@code ci/llama-fixtures.sh --llama-quantized}).
 *
 * <p>Measure and tolerance as {@link LlamaVariantsLlamaCppTest} states them for K-quant files (its helpers): max
 * |logit difference| over positions and vocabulary, against the reference logits' spread, at most
 * {@link LlamaVariantsLlamaCppTest#KQUANT_TOLERANCE} (both engines quantise activations to 8 bits per 256 for the
 * K-quant dot products, llama.cpp keeps an f16 KV cache).
 * Greedy tokens are compared while llama.cpp's top-1/top-2 gap exceeds twice the tolerance, and at least 4 steps
 * must qualify (the tied heads make the gaps 5 to 10 units, so all 8 do; the continuation repeats the last prompt
 * token, a weak check beside the logits). That the tolerance discriminates: llama.cpp's own logits on the Q4_K_M and
 * the Q6_K file of the same model differ by 0.77 spreads (asserted above 2x the tolerance, fixtures only).
 * Measured (AMD EPYC Zen 5, AVX-512 VNNI): llama3-micro Q4_K_M 0.062, Q6_K 0.080, gemma2-micro Q5_K_M 0.027.
 */
class LlamaCppQuantizedFilesTest {
    /** BOS, then 23 ids below the micro presets' 260-token vocabulary (ci/llama-fixtures.sh micro_tokens). */
    static final int[] PROMPT = {1, 45, 200, 77, 12, 150, 233, 5, 99, 210, 141, 61, 222, 180, 33, 170, 19, 250, 90, 130, 244, 8, 201, 177};
    static final double TOLERANCE = LlamaVariantsLlamaCppTest.KQUANT_TOLERANCE;

    @TempDir
    static Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"llama3-micro-q4_k_m", "llama3-micro-q6_k", "gemma2-micro-q5_k_m"})
    void logitsAgreeWithLlamaCppOnItsOwnFile(String name) {
        Path file = LlamaCppQuantizedFixtures.gguf(name, dir);
        LlamaVariantsLlamaCppTest.Run ours = LlamaVariantsLlamaCppTest.run(file, Device.CPU, PROMPT, 16, 8, TOLERANCE);
        LlamaVariantsLlamaCppTest.compare(name + " (llama.cpp's file)", ours, LlamaCppQuantizedFixtures.json(name + ".json.gz"), TOLERANCE, 4);
    }

    @Test
    void toleranceSeparatesTwoQuantisationsOfOneModel() {
        var a = LlamaCppQuantizedFixtures.json("llama3-micro-q4_k_m.json.gz").get("logits");
        var b = LlamaCppQuantizedFixtures.json("llama3-micro-q6_k.json.gz").get("logits");
        double worst = 0, spread = 0;
        for (int i = 0; i < a.size(); i++) spread += LlamaVariantsLlamaCppTest.spread(LlamaVariantsLlamaCppTest.row(a.get(i))) / a.size();
        for (int i = 0; i < a.size(); i++) {
            worst = Math.max(worst, LlamaVariantsLlamaCppTest.maxDiff(LlamaVariantsLlamaCppTest.row(a.get(i)), LlamaVariantsLlamaCppTest.row(b.get(i))));
        }
        assertTrue(worst / spread > 2 * TOLERANCE,
                "llama.cpp's Q4_K_M and Q6_K logits differ by only " + worst / spread + " spreads: the tolerance would not tell them apart");
    }
}
