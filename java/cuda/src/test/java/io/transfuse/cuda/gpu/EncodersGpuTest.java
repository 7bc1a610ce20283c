package io.transfuse.cuda.gpu;

import io.transfuse.Device;
import io.transfuse.EmbeddingModel;
import io.transfuse.EncoderOptions;
import io.transfuse.ImageClassifier;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.loader.RandomVitModel;
import io.transfuse.model.bert.RandomEncoder;
import io.transfuse.model.swin.SwinFixture;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * GPU-only: the BERT, ViT and Swin (V1, V2: the window-attention kernel on tensor cores) encoders on the device ({@link GpuTestDevice}) against the CPU graph, with the budgets
 * of BertCudaEmuTest (cosine >= 0.9999: fp16 activations) and ViTCudaEmuTest (max |logit difference| <= 0.01), and
 * device memory back where it started after close. Random-weight models made on the spot (no files travel).
 */
@Tag("gpu")
class EncodersGpuTest {
    static final List<String> TEXTS = List.of("Hello world", "The quick brown fox jumps over the lazy dog.",
            "a", "Café naïve résumé", "one two three four five six seven eight nine ten eleven twelve");

    @TempDir Path tmp;

    @BeforeEach
    void needsDevice() {
        GpuTestDevice.assumeAvailable();
    }

    @Test
    void bertEmbeddingsMatchTheCpu() {
        RandomEncoder m = RandomEncoder.bert(64, 2, 2, 128, 40);
        Path dir = m.write(tmp.resolve("bert"), 3, DType.F32);
        EncoderOptions options = EncoderOptions.defaults().withBatchSize(4);
        long before = DeviceArena.bytesInUse();
        float[][] cpu, got;
        try (EmbeddingModel model = Transfuse.loadEncoder(dir, LoadOptions.defaults().withDevice(Device.CPU), options)) {
            cpu = model.embed(TEXTS);
        }
        try (EmbeddingModel model = Transfuse.loadEncoder(dir, LoadOptions.defaults().withDevice(GpuTestDevice.DEVICE), options)) {
            got = model.embed(TEXTS);
        }
        for (int i = 0; i < TEXTS.size(); i++) {
            double dot = 0, nc = 0, ng = 0;
            for (int d = 0; d < cpu[i].length; d++) {
                dot += (double) cpu[i][d] * got[i][d];
                nc += (double) cpu[i][d] * cpu[i][d];
                ng += (double) got[i][d] * got[i][d];
            }
            double cos = dot / Math.sqrt(nc * ng);
            System.out.printf("bert on %s, text %d: cosine to the CPU 1 - %.2e%n", GpuTestDevice.name(), i, 1 - cos);
            assertTrue(cos >= 0.9999, "text " + i + ": cosine to the CPU graph " + cos);
        }
        assertEquals(before, DeviceArena.bytesInUse(), "device memory back after close");
    }

    @Test
    void vitLogitsMatchTheCpu() {
        Path dir = RandomVitModel.tiny().write(tmp.resolve("vit"));
        BufferedImage image = randomImage(40, 36, 7);
        long before = DeviceArena.bytesInUse();
        float[] cpu = logits(dir, Device.CPU, image), got = logits(dir, GpuTestDevice.DEVICE, image);
        double worst = 0;
        for (int i = 0; i < cpu.length; i++) worst = Math.max(worst, Math.abs(cpu[i] - got[i]));
        System.out.printf("vit on %s: max |logit difference| to the CPU %.2e%n", GpuTestDevice.name(), worst);
        assertTrue(worst <= 0.01, "worst logit difference to the CPU graph " + worst);
        assertEquals(before, DeviceArena.bytesInUse(), "device memory back after close");
    }

    /** Swin and Swin-V2 (core's torchvision fixtures, copied out of the test jar) against the CPU graph, as SwinCudaEmuTest. */
    @Test
    void swinLogitsMatchTheCpu() {
        BufferedImage image = randomImage(64, 48, 9);
        for (String name : new String[] {"swin-tiny", "swinv2-tiny"}) {
            Path dir = SwinFixture.copyModel(name, tmp.resolve(name));
            long before = DeviceArena.bytesInUse();
            float[] cpu = logits(dir, Device.CPU, image), got = logits(dir, GpuTestDevice.DEVICE, image);
            double worst = 0;
            for (int i = 0; i < cpu.length; i++) worst = Math.max(worst, Math.abs(cpu[i] - got[i]));
            System.out.printf("%s on %s: max |logit difference| to the CPU %.2e%n", name, GpuTestDevice.name(), worst);
            assertTrue(worst <= 0.01, name + ": worst logit difference to the CPU graph " + worst);
            assertEquals(before, DeviceArena.bytesInUse(), "device memory back after close");
        }
    }

    private static float[] logits(Path dir, Device device, BufferedImage image) {
        try (ImageClassifier clf = Transfuse.loadClassifier(dir, LoadOptions.defaults().withDevice(device))) {
            return clf.logits(image);
        }
    }

    private static BufferedImage randomImage(int w, int h, long seed) {
        Random r = new Random(seed);
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img.setRGB(x, y, r.nextInt(1 << 24));
        return img;
    }
}
