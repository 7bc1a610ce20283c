package io.transfuse.cuda;

import io.transfuse.internal.Internals;
import io.transfuse.Device;
import io.transfuse.LanguageModel;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.TransfuseException;
import io.transfuse.backend.NativeLibrary;
import io.transfuse.cuda.jcuda.GpuProbe;
import io.transfuse.cuda.kernels.KernelLibrary;
import io.transfuse.cuda.runtime.EmulatedRuntime;
import io.transfuse.cuda.jcuda.JCudaRuntime;
import io.transfuse.model.llama.LlamaModel;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Without a GPU: cuda fails in one clear line (no JCuda class is touched), auto falls back to the CPU,
 * and the packaged GPU library still loads and binds (it links the CUDA runtime statically and only
 * needs the driver at the first launch).
 */
class NoGpuTest {
    @BeforeEach
    void onlyWithoutGpu() {
        assumeFalse(GpuProbe.present(), "a GPU is present");
    }

    @Test
    void cudaDeviceFailsWithOneClearLine() {
        TransfuseException e = assertThrows(TransfuseException.class,
                () -> Transfuse.load(TestModel.stories260K(), LoadOptions.defaults().withDevice(Device.CUDA)));
        assertTrue(e.getMessage().startsWith("no CUDA device/driver was found") && !e.getMessage().contains("\n"), e.getMessage());
        assertThrows(TransfuseException.class, () -> new JCudaRuntime(0));
    }

    @Test
    void gpuLibraryLoadsAndBindsEveryLauncherWithoutADriver() {
        assumeTrue(NoGpuTest.class.getResource("/native/" + NativeLibrary.platform() + "/libtransfuse_cuda.so") != null,
                "libtransfuse_cuda not built (no nvcc)");
        EmulatedRuntime emu = new EmulatedRuntime();
        KernelLibrary gpu = new KernelLibrary(NativeLibrary.load("transfuse_cuda"), "libtransfuse_cuda", emu);
        // Host-side helpers of the GPU build agree with the emulated build's.
        assertEquals(emu.kernels().decodeWorkspaceBytes(4, 32, 128, 4096, 512), gpu.decodeWorkspaceBytes(4, 32, 128, 4096, 512));
        assertEquals(emu.kernels().decodeDefaultSplitLen(1, 32, 8, 4096, 132), gpu.decodeDefaultSplitLen(1, 32, 8, 4096, 132));
    }

    @Test
    void autoPicksTheCpu() {
        try (LanguageModel m = Transfuse.load(TestModel.stories260K(), LoadOptions.defaults())) {
            assertInstanceOf(LlamaModel.class, Internals.decoder(m));
        }
    }
}
