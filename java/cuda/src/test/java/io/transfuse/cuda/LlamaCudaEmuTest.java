package io.transfuse.cuda;

import io.transfuse.internal.Internals;
import io.transfuse.Device;
import io.transfuse.GenerateOptions;
import io.transfuse.LanguageModel;
import io.transfuse.LoadOptions;
import io.transfuse.Session;
import io.transfuse.Transfuse;
import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.model.DecoderGraph;
import io.transfuse.model.MixedBatch;
import io.transfuse.tensor.DType;
import io.transfuse.SamplingOptions;
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
        System.setProperty(CudaBackendProvider.DTYPE_PROPERTY, "bf16");
        LanguageModel bf16;
        try {
            bf16 = Transfuse.load(TestModel.stories260K(), LoadOptions.defaults().withDevice(Device.CUDA_EMU));
        } finally {
            System.clearProperty(CudaBackendProvider.DTYPE_PROPERTY);
        }
        int[] prompt = cpu.tokenizer().encode("Once upon a time", true);
        float[] ref = new float[cpu.vocabSize()], got = new float[cpu.vocabSize()];
        try (bf16; Session c = cpu.newSession(); Session g = bf16.newSession()) {
            assertEquals(DType.BF16, backend(bf16).activationType());
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

    static CudaBackend backend(LanguageModel m) {
        return (CudaBackend) ((DecoderGraph) Internals.decoder(m)).backend();
    }

    @Test
    void decodeStepIsRecordedOnceAndReplayed() {
        CudaBackend backend = backend(emu);
        try (Session g = emu.newSession()) {
            float[] logits = new float[emu.vocabSize()];
            g.feed(new int[] {1, 400}, logits);
            for (int i = 0; i < 2; i++) g.feed(new int[] {argmax(logits)}, logits); // run once, then recorded
            int graphs = backend.recordedGraphs();
            for (int i = 0; i < 5; i++) g.feed(new int[] {argmax(logits)}, logits);
            assertEquals(graphs, backend.recordedGraphs(), "later tokens replay the recorded graph");
            assertTrue(graphs >= 1);
        }
    }

    /**
     * Many sequences per forward pass on cuda-emu: prefill from 0 (the prefill kernel), continued prefill
     * mixed with decode steps (flash-decoding over the pages, one query per token) and recorded decode steps.
     * Batched against alone on the emulator, and against the CPU alone. Tolerance as for the single sequence:
     * batched and alone may take different kernels (prefill vs decode), both fp16 with fp32 accumulation.
     */
    @Test
    void mixedBatchMatchesEachSequenceAloneAndTheCpu() {
        MixedBatch.Result onEmu = MixedBatch.run(Internals.decoder(emu), emu.vocabSize(), 5);
        MixedBatch.Result onCpu = MixedBatch.run(Internals.decoder(cpu), cpu.vocabSize(), 5);
        System.out.printf("cuda-emu mixed batch: batched vs alone %.5f, vs cpu %.5f%n", onEmu.maxDiff(),
                new MixedBatch.Result(onEmu.batched(), onCpu.alone()).maxDiff());
        assertTrue(onEmu.maxDiff() <= TOLERANCE, "batched vs alone on cuda-emu: " + onEmu.maxDiff());
        assertTrue(new MixedBatch.Result(onEmu.batched(), onCpu.alone()).maxDiff() <= TOLERANCE, "batched cuda-emu vs cpu alone");
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
