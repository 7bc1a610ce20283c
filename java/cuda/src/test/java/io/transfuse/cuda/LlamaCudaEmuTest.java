package io.transfuse.cuda;

import io.transfuse.Device;
import io.transfuse.GenerateOptions;
import io.transfuse.LanguageModel;
import io.transfuse.LoadOptions;
import io.transfuse.Session;
import io.transfuse.Transfuse;
import io.transfuse.cuda.llama.CudaLlamaModel;
import io.transfuse.cuda.llama.CudaOptions;
import io.transfuse.cuda.runtime.ElemType;
import io.transfuse.cuda.llama.CudaSequence;
import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.sampling.SamplingOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The whole Llama forward on cuda-emu (the real kernels on the host emulator, fp16) against the CPU
 * backend (fp32) on stories260K.
 *
 * <p>Tolerance: the GPU graph rounds every activation (and the residual stream) to fp16, relative
 * error 2^-11 = 4.9e-4 per rounding, about a dozen roundings per layer over 5 layers, and the weights
 * themselves are rounded to fp16; the logits of this model reach about 15 in magnitude. Measured:
 * max |diff| about 0.02. The budget of 0.05 absolute (about 0.3% of the largest logit, 2.5x the
 * measurement) covers that accumulation while failing on any real mistake: a wrong softmax scale
 * alone moves logits by about 3, a wrong head, position or mask by whole units. bf16 keeps 8 bits of
 * mantissa instead of 11 (8x the rounding error): its budget is 8 x 0.05 = 0.4.
 */
class LlamaCudaEmuTest {
    static final float TOLERANCE = 0.05f;
    static final float BF16_TOLERANCE = 0.4f;
    static LanguageModel cpu, emu;

    @BeforeAll
    static void load() {
        cpu = Transfuse.load(TestModel.stories260K(), LoadOptions.defaults().withDevice(Device.CPU));
        emu = Transfuse.load(TestModel.stories260K(), LoadOptions.defaults().withDevice(Device.CUDA_EMU));
    }

    @AfterAll
    static void close() {
        if (cpu != null) cpu.close();
        if (emu != null) emu.close();
    }

    static float maxDiff(float[] a, float[] b) {
        float m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }

    static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    @Test
    void prefillAndDecodeStepsMatchCpu() {
        int[] prompt = cpu.tokenizer().encode("Once upon a time", true);
        int vocab = cpu.vocabSize();
        float[] ref = new float[vocab], got = new float[vocab];
        try (Session c = cpu.newSession(); Session g = emu.newSession()) {
            c.feed(prompt, ref);
            g.feed(prompt, got);
            float worst = maxDiff(ref, got);
            for (int step = 0; step < 6; step++) {
                int next = argmax(ref);
                c.feed(new int[] {next}, ref);
                g.feed(new int[] {next}, got);
                worst = Math.max(worst, maxDiff(ref, got));
            }
            System.out.printf("cuda-emu vs cpu, prefill + 6 decode steps: max |logit diff| = %.5f%n", worst);
            assertTrue(worst <= TOLERANCE, "max logit difference " + worst + " > " + TOLERANCE);
        }
    }

    @Test
    void bf16PrefillAndDecodeMatchCpu() {
        System.setProperty(CudaOptions.DTYPE_PROPERTY, "bf16");
        LanguageModel bf16;
        try {
            bf16 = Transfuse.load(TestModel.stories260K(), LoadOptions.defaults().withDevice(Device.CUDA_EMU));
        } finally {
            System.clearProperty(CudaOptions.DTYPE_PROPERTY);
        }
        int[] prompt = cpu.tokenizer().encode("Once upon a time", true);
        float[] ref = new float[cpu.vocabSize()], got = new float[cpu.vocabSize()];
        try (bf16; Session c = cpu.newSession(); Session g = bf16.newSession()) {
            assertEquals(ElemType.BF16, ((CudaLlamaModel) bf16.decoder()).dtype());
            c.feed(prompt, ref);
            g.feed(prompt, got);
            float worst = maxDiff(ref, got);
            for (int step = 0; step < 4; step++) {
                int next = argmax(ref);
                c.feed(new int[] {next}, ref);
                g.feed(new int[] {next}, got);
                worst = Math.max(worst, maxDiff(ref, got));
            }
            System.out.printf("cuda-emu bf16 vs cpu, prefill + 4 decode steps: max |logit diff| = %.5f%n", worst);
            assertTrue(worst <= BF16_TOLERANCE, "max logit difference " + worst + " > " + BF16_TOLERANCE);
        }
    }

    @Test
    void decodeStepIsRecordedOnceAndReplayed() {
        CudaLlamaModel model = (CudaLlamaModel) emu.decoder();
        try (Session g = emu.newSession()) {
            float[] logits = new float[emu.vocabSize()];
            g.feed(new int[] {1, 400}, logits);
            int graphs = model.recordedGraphs();
            for (int i = 0; i < 5; i++) g.feed(new int[] {argmax(logits)}, logits);
            assertEquals(graphs, model.recordedGraphs(), "later tokens replay the recorded graph");
            assertTrue(graphs >= 1);
        }
    }

    @Test
    void batchOfTwoPromptsOfDifferentLengthsMatchesCpu() {
        CudaLlamaModel model = (CudaLlamaModel) emu.decoder();
        int vocab = cpu.vocabSize();
        int[][] prompts = {cpu.tokenizer().encode("Once upon a time", true), cpu.tokenizer().encode("The little dog ran to the park and", true)};
        assertTrue(prompts[0].length != prompts[1].length);
        float[][] ref = new float[2][vocab], got = new float[2][vocab];
        Session[] cpuSessions = {cpu.newSession(), cpu.newSession()};
        CudaSequence[] seqs = {model.newSequence(64), model.newSequence(64)};
        try {
            for (int b = 0; b < 2; b++) cpuSessions[b].feed(prompts[b], ref[b]);
            model.prefill(seqs, prompts, got);
            float worst = Math.max(maxDiff(ref[0], got[0]), maxDiff(ref[1], got[1]));
            int[] pos = {prompts[0].length, prompts[1].length};
            for (int step = 0; step < 5; step++) {
                int[] next = {argmax(ref[0]), argmax(ref[1])};
                for (int b = 0; b < 2; b++) cpuSessions[b].feed(new int[] {next[b]}, ref[b]);
                model.decode(seqs, next, pos, got);
                pos[0]++;
                pos[1]++;
                worst = Math.max(worst, Math.max(maxDiff(ref[0], got[0]), maxDiff(ref[1], got[1])));
            }
            System.out.printf("cuda-emu batch of 2 (lengths %d, %d), prefill + 5 decode steps: max |logit diff| = %.5f%n",
                    prompts[0].length, prompts[1].length, worst);
            assertTrue(worst <= TOLERANCE, "max logit difference " + worst + " > " + TOLERANCE);
        } finally {
            for (Session s : cpuSessions) s.close();
            for (CudaSequence s : seqs) s.close();
        }
    }

    @Test
    void greedyGenerationEqualsCpu() {
        GenerateOptions greedy = new GenerateOptions(60, new SamplingOptions(0f, 0, 1f, 1));
        String a = cpu.generate("Once upon a time", greedy, s -> {}).text();
        String b = emu.generate("Once upon a time", greedy, s -> {}).text();
        System.out.println("greedy 60 tokens (cpu = cuda-emu): " + a.replace('\n', ' '));
        assertEquals(a, b);
    }

    @Test
    void deviceMemoryReturnsToZeroAfterClose() {
        long before = DeviceArena.bytesInUse();
        LanguageModel m = Transfuse.load(TestModel.stories260K(), LoadOptions.defaults().withDevice(Device.CUDA_EMU));
        assertTrue(DeviceArena.bytesInUse() > before);
        try (Session s = m.newSession()) {
            s.feed(new int[] {1, 2, 3}, new float[m.vocabSize()]);
        }
        m.close();
        assertEquals(before, DeviceArena.bytesInUse());
    }
}
