package io.transfuse.cuda;

import io.transfuse.Device;
import io.transfuse.ImageClassifier;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.swin.SwinFixture;
import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Swin and Swin-V2 graphs on cuda-emu (the window-attention kernel, cuBLAS-semantics GEMMs, norms and gathers of the CUDA
 * backend over the host emulator, fp16 activations) against torchvision's Swin ({@link SwinFixture}) and the CPU graph.
 *
 * <p>Tolerance. Logits are O(1) (up to 2.3); fp16 rounding (2^-11) of weights' products and activations through
 * 6 blocks and 2 mergings, with P rounded to fp16 in the attention, could reach ~1e-2; measured 3.4e-4 for V1 and
 * 4.8e-3 for V2, whose cosine attention multiplies the fp16 error of q . k by logit scales up to 100 (printed by
 * the test). Budget: max |logit error| <= 0.01 against torchvision and the CPU graph, the same top-1 and top-2 classes,
 * and the top-1 probability within 0.005. A wrong shift, mask, bias index or merge order moves logits by
 * O(0.1-1).
 */
class SwinCudaEmuTest {
    static final double LOGIT_TOLERANCE = 0.01;

    @Test
    void cudaEmuMatchesTorchvisionAndCpu() throws IOException { check("swin-tiny"); }

    @Test
    void v2CudaEmuMatchesTorchvisionAndCpu() throws IOException { check("swinv2-tiny"); }

    private void check(String name) throws IOException {
        BufferedImage image = ImageIO.read(SwinFixture.image().toFile());
        double[] want = SwinFixture.logits(name);
        int[] top5 = SwinFixture.top5(name);
        float[] cpu;
        try (ImageClassifier clf = Transfuse.loadClassifier(SwinFixture.model(name), LoadOptions.defaults().withDevice(Device.CPU))) {
            cpu = clf.logits(image);
        }
        long device = DeviceArena.bytesInUse(), host = TrackedArena.bytesInUse();
        try (ImageClassifier clf = Transfuse.loadClassifier(SwinFixture.model(name), LoadOptions.defaults().withDevice(Device.CUDA_EMU))) {
            assertTrue(DeviceArena.bytesInUse() > device, "the model lives on the device");
            float[] got = clf.logits(image);
            assertEquals(want.length, got.length);
            double worst = 0, worstCpu = 0;
            for (int i = 0; i < got.length; i++) {
                worst = Math.max(worst, Math.abs(got[i] - want[i]));
                worstCpu = Math.max(worstCpu, Math.abs(got[i] - cpu[i]));
            }
            System.out.printf("%s on cuda-emu: max logit difference %.2e to torchvision, %.2e to the CPU graph%n", name, worst, worstCpu);
            assertTrue(worst <= LOGIT_TOLERANCE, "worst logit difference " + worst);
            assertTrue(worstCpu <= LOGIT_TOLERANCE, "worst logit difference to the CPU graph " + worstCpu);
            List<ImageClassifier.Prediction> top = clf.classify(image, 2);
            assertEquals(top5[0], top.get(0).index(), "top-1 class");
            assertEquals(top5[1], top.get(1).index(), "top-2 class");
            double sum = 0;
            for (double v : want) sum += Math.exp(v - want[top5[0]]);
            assertEquals(1 / sum, top.get(0).probability(), 0.005, "top-1 probability");
            float[] again = clf.logits(image); // the same workspace again
            for (int i = 0; i < got.length; i++) assertEquals(got[i], again[i], 1e-6, "repeated call");
        }
        assertEquals(device, DeviceArena.bytesInUse(), "device memory returns after close");
        assertEquals(host, TrackedArena.bytesInUse(), "native memory returns after close");
    }
}
