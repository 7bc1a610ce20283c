package io.transfuse.cuda.gpu;

import io.transfuse.Device;
import io.transfuse.backend.Conv2d;
import io.transfuse.backend.cpu.CpuBackend;
import io.transfuse.cuda.CudaBackend;
import io.transfuse.cuda.cudnn.CudnnConv2d;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * GPU-only (ci/gpu-test.sh step e6): conv2d through cuDNN 9 (the cuda backend with {@code -Dtransfuse.cudnn=on})
 * against the CUDA-dialect kernel (a second cuda backend, cuDNN off) and both against the CPU backend (F32), over
 * ResNet-50's shapes and the odd ones (stride 2, dilation, depthwise), bias and ReLU on and off. On cuda the first
 * backend must really have run cuDNN ({@link CudaBackend#convolutionEngine()}), so a missing library fails here
 * with its one-line message. Under {@code --dry-run} (cuda-emu) the kernel alone runs against the CPU.
 *
 * <p>Tolerance: F16 activations. Both GPU paths see the same f16 inputs and sum in fp32, then round once to f16
 * (2^-11 relative): they agree within 4e-3 x (1 + max |y|). Against the CPU, which also reads unrounded inputs,
 * each of K products carries up to 2 x 2^-11 relative input rounding: 2e-2 x (1 + max |y|) at these sizes, while
 * a wrong stride, padding, group or layout moves outputs by O(1).
 */
@Tag("gpu")
@Tag("cudnn")
class CudnnConvGpuTest {
    private static final List<Conv2d> SHAPES = List.of(
            Conv2d.square(1, 56, 56, 256, 256, 3, 1, 1, 1, 1),   // ResNet-50 layer1-sized 3x3
            Conv2d.square(2, 64, 64, 3, 64, 7, 2, 3, 1, 1),      // the stem, batch 2
            Conv2d.square(1, 28, 28, 512, 256, 1, 1, 0, 1, 1),   // 1x1 reduce
            Conv2d.square(1, 56, 56, 256, 512, 1, 2, 0, 1, 1),   // 1x1 stride-2 downsample
            Conv2d.square(1, 17, 15, 32, 48, 3, 1, 2, 2, 1),     // dilation 2, odd sizes
            Conv2d.square(1, 20, 20, 64, 64, 3, 2, 1, 1, 64));   // depthwise stride 2

    private String before;

    @BeforeEach
    void needsDevice() {
        GpuTestDevice.assumeAvailable();
        before = System.getProperty(CudnnConv2d.ENABLE_PROPERTY);
    }

    @AfterEach
    void restore() {
        if (before == null) System.clearProperty(CudnnConv2d.ENABLE_PROPERTY);
        else System.setProperty(CudnnConv2d.ENABLE_PROPERTY, before);
    }

    @Test
    void cudnnMatchesTheKernelAndTheCpu() {
        boolean real = GpuTestDevice.DEVICE == Device.CUDA;
        SplittableRandom rnd = new SplittableRandom(5);
        try (TrackedArena host = new TrackedArena("conv gpu test inputs"); CpuBackend cpu = CpuBackend.create(0)) {
            System.setProperty(CudnnConv2d.ENABLE_PROPERTY, "on");
            try (CudaBackend dnn = new CudaBackend(GpuTestDevice.name(), GpuTestDevice.runtime(), DType.F16)) {
                System.setProperty(CudnnConv2d.ENABLE_PROPERTY, "off");
                try (CudaBackend kernel = new CudaBackend(GpuTestDevice.name(), GpuTestDevice.runtime(), DType.F16)) {
                    for (Conv2d c : SHAPES) {
                        if (!real && c.flops() > 1e8) continue; // the emulator runs the small ones (seconds, not minutes)
                        Tensor x = random(host, rnd, 1, c.inPixels(), c.inChannels());
                        Tensor w = random(host, rnd, 1 / Math.sqrt(c.patch()), c.outChannels(), c.patch());
                        Tensor b = random(host, rnd, 0.5, c.outChannels());
                        for (int flags = 0; flags < 4; flags++) {
                            boolean bias = (flags & 1) != 0, relu = (flags & 2) != 0;
                            float[] want = run(cpu, DType.F32, c, x, w, bias ? b : null, relu);
                            float[] viaKernel = run(kernel, DType.F16, c, x, w, bias ? b : null, relu);
                            float[] viaDnn = run(dnn, DType.F16, c, x, w, bias ? b : null, relu);
                            String what = c + " bias=" + bias + " relu=" + relu;
                            close(what + ": kernel vs cpu", viaKernel, want, 2e-2);
                            close(what + ": " + dnn.convolutionEngine() + " vs kernel", viaDnn, viaKernel, 4e-3);
                            if (real) {
                                assertNotNull(dnn.convolutionEngine());
                                assertTrue(dnn.convolutionEngine().startsWith("cuDNN"), what + " ran on " + dnn.convolutionEngine());
                            }
                        }
                    }
                    System.out.println("conv2d engines: " + dnn.convolutionEngine() + " vs " + kernel.convolutionEngine());
                    if (real) timing(dnn, kernel, host, rnd);
                }
            }
        }
    }

    /** ResNet-50's 3x3 256 -> 256 at 56x56, batch 8, both engines: ms per conv and TFLOP/s (information, not a check). */
    private static void timing(CudaBackend dnn, CudaBackend kernel, TrackedArena host, SplittableRandom rnd) {
        Conv2d c = Conv2d.square(8, 56, 56, 256, 256, 3, 1, 1, 1, 1);
        Tensor x = random(host, rnd, 1, c.inPixels(), c.inChannels());
        Tensor w = random(host, rnd, 0.02, c.outChannels(), c.patch());
        Tensor b = random(host, rnd, 0.5, c.outChannels());
        for (CudaBackend be : List.of(dnn, kernel)) {
            Tensor dx = be.upload(x, DType.F16), dw = be.upload(w, DType.F16), db = be.upload(b, DType.F16);
            Tensor out = be.allocate("y", DType.F16, c.outPixels(), c.outChannels());
            float[] one = new float[1];
            be.conv2d(out, dx, dw, db, c, true);
            be.read(out, one, 0, 1); // waits for the device
            int reps = 20;
            long t0 = System.nanoTime();
            for (int i = 0; i < reps; i++) be.conv2d(out, dx, dw, db, c, true);
            be.read(out, one, 0, 1);
            double ms = (System.nanoTime() - t0) / 1e6 / reps;
            System.out.printf("conv2d 3x3 256->256 56x56 batch 8 on %s: %.3f ms, %.1f TFLOP/s%n", be.convolutionEngine(), ms,
                    c.flops() / ms * 1e-9);
        }
    }

    private static float[] run(io.transfuse.backend.Backend be, DType type, Conv2d c, Tensor x, Tensor w, Tensor b, boolean relu) {
        Tensor out = be.allocate("y", type, c.outPixels(), c.outChannels());
        be.conv2d(out, be.upload(x, type), be.upload(w, type), b == null ? null : be.upload(b, type), c, relu);
        int n = Math.toIntExact(out.elementCount());
        float[] r = new float[n];
        be.read(out, r, 0, n);
        return r;
    }

    private static Tensor random(TrackedArena host, SplittableRandom rnd, double scale, long... shape) {
        long n = Tensor.elementCount(shape);
        MemorySegment s = host.allocateFloats(n);
        for (long i = 0; i < n; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (scale * (2 * rnd.nextDouble() - 1)));
        return new Tensor("t", DType.F32, shape, s);
    }

    private static void close(String what, float[] got, float[] want, double tol) {
        double scale = 0, worst = 0;
        int at = 0;
        for (float v : want) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < want.length; i++) {
            double d = Math.abs(got[i] - want[i]);
            if (!(d <= worst)) {
                worst = d;
                at = i;
            }
        }
        double limit = tol * (1 + scale);
        assertTrue(worst <= limit, what + ": element " + at + " is " + got[at] + ", expected " + want[at] + " (|diff| " + worst
                + " > " + limit + ")");
    }
}
