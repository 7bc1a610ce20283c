package io.transfuse.cuda;

import io.transfuse.Device;
import io.transfuse.LoadOptions;
import io.transfuse.ObjectDetector;
import io.transfuse.Transfuse;
import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.detr.DetrFixture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The DETR graph on cuda-emu (the implicit-GEMM convolution, max-pool and attention kernels of the CUDA backend over
 * the host emulator, fp16 activations) against torchvision's ResNet-50 + torch.nn DETR in float64 ({@link DetrFixture}).
 *
 * <p>Tolerance. fp16 activations (2^-11 relative per rounding) through 53 convolutions whose folded batch norms scale
 * channels by up to ~1.5, 4 attention layers and the heads: logits O(1-5) can be off by ~1e-2 (measured: printed by
 * the test). Budget: logits within 0.05, boxes within 5e-3 (0..1), detection scores within 0.01; the detections are
 * compared where the reference score is more than 0.02 from the threshold (one of the fixture's is 0.016 above it).
 * A wrong kernel moves logits by O(0.1-1).
 */
class DetrCudaEmuTest {
    static final double LOGIT_TOL = 0.05, BOX_TOL = 5e-3;

    @TempDir
    Path dir;

    @Test
    void cudaEmuMatchesTorchvision() throws IOException {
        Path model = DetrFixture.writeModel(dir.resolve("detr"), false);
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(DetrFixture.imageBytes()));
        double threshold = DetrFixture.json().path("threshold").asDouble();
        long device = DeviceArena.bytesInUse(), host = TrackedArena.bytesInUse();
        try (ObjectDetector det = Transfuse.loadDetector(model, LoadOptions.defaults().withDevice(Device.CUDA_EMU))) {
            assertTrue(DeviceArena.bytesInUse() > device, "the model lives on the device");
            ObjectDetector.Outputs o = det.outputs(img);
            double[][] wantLogits = DetrFixture.logits(), wantBoxes = DetrFixture.boxes();
            double worstLogit = 0, worstBox = 0;
            for (int q = 0; q < o.queries(); q++) {
                for (int c = 0; c < o.classes(); c++) worstLogit = Math.max(worstLogit, Math.abs(o.logits()[q * o.classes() + c] - wantLogits[q][c]));
                for (int j = 0; j < 4; j++) worstBox = Math.max(worstBox, Math.abs(o.boxes()[q * 4 + j] - wantBoxes[q][j]));
            }
            System.out.printf("DETR on cuda-emu: max |logit error| %.2e, max |box error| %.2e%n", worstLogit, worstBox);
            assertTrue(worstLogit <= LOGIT_TOL, "logits off by " + worstLogit);
            assertTrue(worstBox <= BOX_TOL, "boxes off by " + worstBox);
            List<ObjectDetector.Detection> got = det.detect(img, threshold + 0.02);
            int want = 0;
            for (var d : DetrFixture.json().path("detections")) if (d.path("score").asDouble() > threshold + 0.02) want++;
            assertEquals(want, got.size(), "confident detections: " + got);
            for (ObjectDetector.Detection d : det.detect(img, threshold)) {
                boolean matched = false;
                for (var w : DetrFixture.json().path("detections")) {
                    matched |= Math.abs(w.path("score").asDouble() - d.score()) <= 0.01 && w.path("label").asText().equals(d.label());
                }
                assertTrue(matched, "detection " + d + " is not in the reference");
            }
        }
        assertEquals(device, DeviceArena.bytesInUse(), "device memory returns after close");
        assertEquals(host, TrackedArena.bytesInUse(), "native memory returns after close");
    }
}
