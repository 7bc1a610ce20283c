package io.transfuse.cuda;

import io.transfuse.ChatMessage;
import io.transfuse.Device;
import io.transfuse.GenerateOptions;
import io.transfuse.GenerationResult;
import io.transfuse.chat.ChatTemplate;
import io.transfuse.LanguageModel;
import io.transfuse.LoadOptions;
import io.transfuse.Session;
import io.transfuse.Transfuse;
import io.transfuse.backend.cpu.CpuBackend;
import io.transfuse.loader.RandomLlamaModel;
import io.transfuse.loader.RandomVariantModel;
import io.transfuse.loader.RandomLlamaModel.Shape;
import io.transfuse.quantize.QuantPreset;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The cuda-emu graph on random-weight models that stories260K does not cover: a Q8_0 and a Q4_K_M GGUF
 * file (weights dequantised and rounded to fp16 at upload; the CPU reads the blocks in place), head dim 64 with no padding and grouped-query
 * attention, and a Hugging Face F16 directory (half-split RoPE layout, head dim 128). Compared with
 * the CPU backend (with an F32 KV cache, so that the reference side stays f32 throughout) over a 9-token
 * prefill and 3 decode steps.
 *
 * <p>Tolerance: relative to the largest reference logit, 1% (fp16 keeps 11 bits, relative 4.9e-4
 * per rounding; a couple of dozen roundings in these 1-2 layer models stay well under 1%), plus 1e-4
 * absolute for logits near zero. Measured: 0.9% (Q8_0) and 0.05% (F16). The Q4_K_M file gets 2.5%: the
 * CPU quantises x to int8 per 256 elements for K-quant weights (a step of max|x|/127 over 256 values,
 * coarser than Q8_0's per 32), the GPU multiplies fp16 activations; measured 1.3%. Applying the wrong
 * RoPE layout to the HF model alone gives 7%.
 */
class RandomModelsCudaEmuTest {
    static final int[] TOKENS = {1, 17, 99, 4, 250, 3, 77, 12, 200};

    @Test
    void q8GgufWithHeadDim64AndGroupedQueries(@TempDir Path dir) {
        Path file = dir.resolve("q8.gguf");
        RandomLlamaModel.writeGguf(file, new Shape(128, 2, 2, 1, 256, 512, 64), DType.Q8_0, 5, s -> {});
        compare(file, "Q8_0 GGUF, head dim 64, 2 heads / 1 KV head", 0.01f);
    }

    @Test
    void q4KmGgufDequantisedAtUpload(@TempDir Path dir) {
        // rows of 256 (K-quant super-blocks); Q4_K_M: Q4_K, Q6_K for the head and attn_v/ffn_down of layer 0
        Shape shape = new Shape(256, 1, 2, 1, 256, 512, 64);
        var plan = QuantPreset.Q4_K_M.plan(RandomLlamaModel.tensorSpecs(shape));
        Path file = dir.resolve("q4km.gguf");
        RandomLlamaModel.writeGguf(file, shape, t -> plan.get(t.name()), 8, s -> {});
        compare(file, "Q4_K_M GGUF (Q4_K and Q6_K), head dim 128", 0.025f);
    }

    @Test
    void f16HuggingFaceWithHeadDim128(@TempDir Path dir) {
        RandomLlamaModel.writeHf(dir, new Shape(256, 1, 2, 2, 256, 512, 64), DType.F16, 6, s -> {});
        compare(dir, "F16 safetensors (half-split RoPE), head dim 128", 0.01f);
    }

    /**
     * Every Llama-family architecture (the tiny presets llama.cpp checks on the CPU, LlamaVariantsLlamaCppTest) on
     * cuda-emu: 12 positions cross the presets' 8-token sliding window, Gemma's head dim 256 runs unpadded.
     */
    @ParameterizedTest
    @ValueSource(strings = {"llama3-tiny", "mistral-tiny", "qwen2-tiny", "qwen3-tiny", "gemma-tiny", "gemma2-tiny", "gemma3-tiny", "phi3-tiny"})
    void llamaFamilyArchitectures(String preset, @TempDir Path dir) {
        Path file = dir.resolve(preset + ".gguf");
        RandomVariantModel.writeGguf(file, RandomVariantModel.preset(preset), DType.F32, 1, s -> {});
        compare(file, preset + " (F32 GGUF)", 0.01f);
    }

    /** A ChatML template (Qwen's form), for chat on the tiny presets, whose files carry none. */
    static final ChatTemplate CHATML = new ChatTemplate("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
            + "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}", "test ChatML template", "", "<|im_end|>");

    /** chat() on every architecture gives the same greedy reply on cuda-emu as on the CPU (prompt longer than the window). */
    @ParameterizedTest
    @ValueSource(strings = {"llama3-tiny", "mistral-tiny", "qwen2-tiny", "qwen3-tiny", "gemma-tiny", "gemma2-tiny", "gemma3-tiny", "phi3-tiny"})
    void chatIsTheSameOnCpuAndCudaEmu(String preset, @TempDir Path dir) {
        Path file = dir.resolve(preset + ".gguf");
        RandomVariantModel.writeGguf(file, RandomVariantModel.preset(preset), DType.F32, 1, s -> {});
        List<ChatMessage> messages = List.of(ChatMessage.system("You are brief."), ChatMessage.user("Tell me about the big red dog."));
        GenerateOptions options = GenerateOptions.defaults().withMaxTokens(8);
        try (LanguageModel cpu = Transfuse.load(file, LoadOptions.defaults().withDevice(Device.CPU));
             LanguageModel emu = Transfuse.load(file, LoadOptions.defaults().withDevice(Device.CUDA_EMU))) {
            GenerationResult a = cpu.chat(CHATML, messages, options, t -> { }), b = emu.chat(CHATML, messages, options, t -> { });
            assertTrue(a.promptTokens() > RandomVariantModel.WINDOW, preset + ": the chat prompt should cross the sliding window");
            assertArrayEquals(a.tokens(), b.tokens(), preset + ": chat reply differs between cpu and cuda-emu");
        }
    }

    /** The CPU reference with an exact F32 KV cache (its default F16 cache would add its own roundings to the comparison). */
    private static LanguageModel cpuWithF32Cache(Path model) {
        System.setProperty(CpuBackend.KV_CACHE_PROPERTY, "f32");
        try {
            return Transfuse.load(model, LoadOptions.defaults().withDevice(Device.CPU));
        } finally {
            System.clearProperty(CpuBackend.KV_CACHE_PROPERTY);
        }
    }

    private static void compare(Path model, String what, float relTol) {
        try (LanguageModel cpu = cpuWithF32Cache(model);
             LanguageModel emu = Transfuse.load(model, LoadOptions.defaults().withDevice(Device.CUDA_EMU));
             Session c = cpu.newSession(); Session g = emu.newSession()) {
            float[] ref = new float[cpu.vocabSize()], got = new float[cpu.vocabSize()];
            c.feed(TOKENS, ref);
            g.feed(TOKENS, got);
            float worst = 0, scale = 0;
            for (int step = 0; ; step++) {
                for (int i = 0; i < ref.length; i++) {
                    worst = Math.max(worst, Math.abs(ref[i] - got[i]));
                    scale = Math.max(scale, Math.abs(ref[i]));
                }
                if (step == 3) break;
                int next = LlamaCudaEmuTest.argmax(ref);
                c.feed(new int[] {next}, ref);
                g.feed(new int[] {next}, got);
            }
            float tol = relTol * scale + 1e-4f;
            System.out.printf("cuda-emu vs cpu, %s: max |logit diff| = %.6f (largest logit %.4f)%n", what, worst, scale);
            assertTrue(worst <= tol, what + ": max logit difference " + worst + " > " + tol);
        }
    }
}
