package io.transfuse.cuda.gpu;

import io.transfuse.Device;
import io.transfuse.cuda.jcuda.GpuProbe;
import io.transfuse.cuda.jcuda.JCudaRuntime;
import io.transfuse.cuda.runtime.EmulatedRuntime;
import io.transfuse.cuda.runtime.GpuRuntime;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The device the tests tagged "gpu" run on: {@code cuda} (a real GPU; the default, skipped without one)
 * or {@code cuda-emu} with {@code -Dtransfuse.gpu.test.device=cuda-emu}, which is how
 * {@code ci/gpu-test.sh --dry-run} runs the very same tests through the GPU kit without a GPU.
 */
public final class GpuTestDevice {
    public static final String PROPERTY = "transfuse.gpu.test.device";
    public static final Device DEVICE = Device.parse(System.getProperty(PROPERTY, "cuda"));

    private GpuTestDevice() {}

    /** Skips the calling test (JUnit assumption) when the device is cuda and no GPU is present. */
    public static void assumeAvailable() {
        if (DEVICE == Device.CUDA) assumeTrue(GpuProbe.present(), "no GPU: " + GpuProbe.absenceReason());
        else assumeTrue(DEVICE == Device.CUDA_EMU, "-D" + PROPERTY + " must be cuda or cuda-emu, got " + DEVICE.cliName());
    }

    /** A fresh runtime of the device. */
    public static GpuRuntime runtime() {
        return DEVICE == Device.CUDA ? new JCudaRuntime(0) : new EmulatedRuntime();
    }

    public static String name() {
        return DEVICE.cliName();
    }
}
