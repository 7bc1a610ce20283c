package io.transfuse.cuda.gpu;

import io.transfuse.internal.Internals;
import io.transfuse.Device;
import io.transfuse.GenerateOptions;
import io.transfuse.LanguageModel;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.cuda.MambaCudaEmuTest;
import io.transfuse.backend.OpConformance;
import io.transfuse.cuda.CudaBackend;
import io.transfuse.model.MixedBatch;
import io.transfuse.cuda.runtime.GpuRuntime;
import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.cuda.memory.DeviceBuffer;
import io.transfuse.cuda.runtime.GemmTest;
import io.transfuse.cuda.runtime.GpuOutOfMemoryException;
import io.transfuse.loader.RandomMambaModel;
import io.transfuse.SamplingOptions;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * GPU-only: the JCuda runtime with cuBLAS, the op set and the Llama and Mamba graphs on a real device. Skipped (JUnit
 * assumption) where no GPU is present; ci/gpu-test.sh runs it through the GPU kit, and its dry run on cuda-emu
 * ({@link GpuTestDevice}).
 */
@Tag("gpu")
class JCudaGpuTest {
    @BeforeEach
    void needsGpu() {
        GpuTestDevice.assumeAvailable();
    }

    @Test
    void memoryCopiesAndOutOfMemory() {
        try (GpuRuntime rt = GpuTestDevice.runtime(); DeviceArena arena = new DeviceArena(rt, "gpu test"); Arena host = Arena.ofConfined()) {
            DeviceBuffer a = arena.allocate("a", 4096), b = arena.allocate("b", 4096);
            MemorySegment src = host.allocate(4096), dst = arena.allocatePinned(4096);
            for (int i = 0; i < 1024; i++) src.setAtIndex(ValueLayout.JAVA_INT, i, i * 31);
            rt.copyHostToDevice(rt.defaultStream(), src, a.address(), 4096);
            rt.copyDeviceToDevice(rt.defaultStream(), a.address(), b.address(), 4096);
            rt.copyDeviceToHost(rt.defaultStream(), b.address(), dst, 4096);
            for (int i = 0; i < 1024; i++) assertEquals(i * 31, dst.getAtIndex(ValueLayout.JAVA_INT, i));
            long tooMuch = rt.properties().totalBytes() * 2;
            GpuOutOfMemoryException e = assertThrows(GpuOutOfMemoryException.class, () -> arena.allocate("huge", tooMuch));
            assertEquals(tooMuch, e.requested());
        }
    }

    @Test
    void cublasGemmMatchesTheReference() {
        try (GpuRuntime rt = GpuTestDevice.runtime()) {
            GemmTest.allCases(rt);
        }
    }

    /** Every op of the op set on the device against the double-precision reference (as CudaBackendConformanceTest on cuda-emu). */
    @Test
    void everyOpMatchesTheReference() {
        try (CudaBackend b = new CudaBackend(GpuTestDevice.name(), GpuTestDevice.runtime(), DType.F16)) {
            OpConformance.check(b, 1e-2);
        }
        try (CudaBackend b = new CudaBackend(GpuTestDevice.name(), GpuTestDevice.runtime(), DType.BF16)) {
            OpConformance.check(b, 8e-2);
        }
    }

    /** Many sequences per pass on the device: batched equals alone (stories260K, fp16 budget of LlamaCudaEmuTest). */
    @Test
    void mixedBatchMatchesEachSequenceAlone() {
        Path model = Path.of(System.getProperty("transfuse.root", "../..")).resolve("models/stories260K");
        try (LanguageModel gpu = Transfuse.load(model, LoadOptions.defaults().withDevice(GpuTestDevice.DEVICE))) {
            MixedBatch.Result r = MixedBatch.run(Internals.decoder(gpu), gpu.vocabSize(), 5);
            assertTrue(r.maxDiff() <= 0.05, "batched vs alone on the GPU: " + r.maxDiff());
        }
    }

    @Test
    void greedyTextOnTheGpuEqualsCpu() {
        Path model = Path.of(System.getProperty("transfuse.root", "../..")).resolve("models/stories260K");
        GenerateOptions greedy = new GenerateOptions(60, new SamplingOptions(0f, 0, 1f, 1));
        try (LanguageModel cpu = Transfuse.load(model, LoadOptions.defaults().withDevice(Device.CPU));
             LanguageModel gpu = Transfuse.load(model, LoadOptions.defaults().withDevice(GpuTestDevice.DEVICE))) {
            assertEquals(cpu.generate("Once upon a time", greedy, s -> {}).text(),
                    gpu.generate("Once upon a time", greedy, s -> {}).text());
        }
        assertTrue(DeviceArena.bytesInUse() == 0, "device bytes in use after close: " + DeviceArena.bytesInUse());
    }

    /** The Mamba graph on the device: logits within the cuda-emu budget of the CPU's, same greedy tokens (untied random model). */
    @Test
    void mambaOnTheGpuMatchesCpu(@TempDir Path dir) {
        RandomMambaModel.write(dir, new RandomMambaModel.Shape(64, 2, 16, 4, 2, 0, false, false, true), DType.F32, 5, msg -> { });
        GenerateOptions greedy = new GenerateOptions(24, new SamplingOptions(0f, 0, 1f, 1));
        try (LanguageModel cpu = Transfuse.load(dir, LoadOptions.defaults().withDevice(Device.CPU));
             LanguageModel gpu = Transfuse.load(dir, LoadOptions.defaults().withDevice(GpuTestDevice.DEVICE))) {
            int[] prompt = cpu.tokenizer().encode("the weather in the south", false);
            float worst = MambaCudaEmuTest.compare(cpu, gpu, prompt, 8);
            assertTrue(worst <= MambaCudaEmuTest.UNTIED_TOLERANCE, "max logit difference " + worst);
            assertArrayEquals(cpu.generate("the weather in the south", greedy, s -> {}).tokens(),
                    gpu.generate("the weather in the south", greedy, s -> {}).tokens());
        }
        assertTrue(DeviceArena.bytesInUse() == 0, "device bytes in use after close: " + DeviceArena.bytesInUse());
    }
}
