package io.transfuse.cuda;

import io.transfuse.Device;
import io.transfuse.ImageClassifier;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.loader.RandomVitModel;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.vit.ImagePreprocessor;
import io.transfuse.model.vit.ViTReference;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Random-weight ViT and DeiT classifiers through {@code Transfuse.loadClassifier(..., cuda-emu)} (the
 * pre-LN blocks on the CUDA encoder over the host emulator, fp16; patch embedding and head on the CPU)
 * against core's plain double-precision {@link ViTReference} and the CPU graph.
 *
 * <p>Tolerance. The tiny models' logits are O(1); the device rounds weights and activations to fp16
 * (2^-11) through the blocks, about 3e-3 absolute after two pre-LN layers, and the
 * final LayerNorm and head (on the CPU, fp32) carry it into the logits. Budget: max |logit error|
 * <= 0.01 against the reference (measured at most 2.5e-3: DeiT), the same top-1 class as the reference, and
 * probabilities within 5e-3. A wrong LayerNorm convention (post- instead of pre-LN), a missing
 * distillation token, or positions not interpolated change logits by O(1).
 */
class ViTCudaEmuTest {
    static final double LOGIT_TOLERANCE = 0.01;

    @TempDir Path tmp;

    private void check(RandomVitModel spec, BufferedImage image, String what) {
        Path dir = spec.write(tmp.resolve(what));
        ImagePreprocessor.Pixels px = ImagePreprocessor.forModel(dir, spec.imageSize()).apply(ImagePreprocessor.Rgb.of(image));
        double[] want = new ViTReference(dir).logits(px);
        float[] cpu;
        try (ImageClassifier clf = Transfuse.loadClassifier(dir, LoadOptions.defaults().withDevice(Device.CPU))) {
            cpu = clf.logits(image);
        }
        long device = DeviceArena.bytesInUse(), host = TrackedArena.bytesInUse();
        try (ImageClassifier clf = Transfuse.loadClassifier(dir, LoadOptions.defaults().withDevice(Device.CUDA_EMU))) {
            assertTrue(DeviceArena.bytesInUse() > device, "the blocks live on the device");
            float[] got = clf.logits(image);
            assertEquals(want.length, got.length);
            double worst = 0, worstCpu = 0;
            int best = 0, bestGot = 0;
            for (int i = 0; i < got.length; i++) {
                worst = Math.max(worst, Math.abs(got[i] - want[i]));
                worstCpu = Math.max(worstCpu, Math.abs(got[i] - cpu[i]));
                if (want[i] > want[best]) best = i;
                if (got[i] > got[bestGot]) bestGot = i;
            }
            System.out.printf("%s on cuda-emu: max logit difference %.2e to the reference, %.2e to the CPU graph%n", what, worst, worstCpu);
            assertTrue(worst <= LOGIT_TOLERANCE, what + ": worst logit difference " + worst);
            assertTrue(worstCpu <= LOGIT_TOLERANCE, what + ": worst logit difference to the CPU graph " + worstCpu);
            assertEquals(best, bestGot, what + ": top-1 class");
            List<ImageClassifier.Prediction> top = clf.classify(image, 3);
            assertEquals(best, top.getFirst().index(), what + ": classify's top-1");
            double max = want[best], sum = 0;
            for (double v : want) sum += Math.exp(v - max);
            assertEquals(1 / sum, top.getFirst().probability(), 5e-3, what + ": top-1 probability");
            // a second image through the same workspace
            float[] again = clf.logits(image);
            for (int i = 0; i < got.length; i++) assertEquals(got[i], again[i], 1e-6, what + ": repeated call");
        }
        assertEquals(device, DeviceArena.bytesInUse(), "device memory returns after close");
        assertEquals(host, TrackedArena.bytesInUse(), "native memory returns after close");
    }

    @Test
    void vitMatchesReference() {
        check(RandomVitModel.tiny(), randomImage(45, 37, 1), "vit");
    }

    @Test
    void f16WeightsMatchReference() {
        check(RandomVitModel.tiny().withWeightType(DType.F16), randomImage(32, 32, 2), "f16");
    }

    @Test
    void deitWithDistillationTokenMatchesReference() {
        check(RandomVitModel.tiny().withDeit(true).withPreprocessor("""
                {"do_resize": true, "size": {"shortest_edge": 36}, "resample": 3, "do_center_crop": true,
                 "crop_size": {"height": 32, "width": 32}, "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}
                """), randomImage(50, 40, 3), "deit");
    }

    @Test
    void smallerImageInterpolatesPositionsOnTheCpuSide() {
        // 24x16 pixels: fewer tokens than the config's 32x32, positions interpolated by the CPU-side embedding
        check(RandomVitModel.tiny().withPreprocessor("""
                {"size": {"height": 24, "width": 16}, "resample": 2}
                """), randomImage(60, 60, 4), "interpolated");
    }

    @Test
    void withoutQkvBiasMatchesTheCpuGraph() throws Exception {
        // qkv_bias = false: both graphs ignore the bias tensors (the device layer gets zeros); the CPU graph is checked against the reference in core
        Path dir = RandomVitModel.tiny().write(tmp.resolve("nobias"));
        Path config = dir.resolve("config.json");
        java.nio.file.Files.writeString(config, java.nio.file.Files.readString(config).replace("\"qkv_bias\": true", "\"qkv_bias\": false"));
        BufferedImage image = randomImage(32, 32, 6);
        float[] cpu = logits(dir, Device.CPU, image);
        double worst = maxDifference(cpu, logits(dir, Device.CUDA_EMU, image));
        assertTrue(worst <= LOGIT_TOLERANCE, "without Q/K/V biases: worst logit difference to the CPU graph " + worst);
        double moved = maxDifference(cpu, logits(RandomVitModel.tiny().write(tmp.resolve("biased")), Device.CPU, image));
        assertTrue(moved > 10 * LOGIT_TOLERANCE, "the biases matter in this model (else the test could not fail): " + moved);
    }

    /** A preprocessor larger than the config's image_size: the workspace is planned for it and positions are interpolated, as on the CPU. */
    @Test
    void preprocessorLargerThanTheConfigMatchesTheCpu() {
        Path dir = RandomVitModel.tiny().withPreprocessor("""
                {"size": {"height": 48, "width": 40}, "resample": 2}
                """).write(tmp.resolve("larger"));
        BufferedImage image = randomImage(60, 60, 5);
        double worst = maxDifference(logits(dir, Device.CPU, image), logits(dir, Device.CUDA_EMU, image));
        assertTrue(worst <= LOGIT_TOLERANCE, "48x40 images: worst logit difference to the CPU graph " + worst);
    }

    private static float[] logits(Path dir, Device device, BufferedImage image) {
        try (ImageClassifier clf = Transfuse.loadClassifier(dir, LoadOptions.defaults().withDevice(device))) {
            return clf.logits(image);
        }
    }

    private static double maxDifference(float[] a, float[] b) {
        double worst = 0;
        for (int i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
        return worst;
    }

    static BufferedImage randomImage(int w, int h, long seed) {
        Random r = new Random(seed);
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img.setRGB(x, y, r.nextInt(1 << 24));
        return img;
    }
}
