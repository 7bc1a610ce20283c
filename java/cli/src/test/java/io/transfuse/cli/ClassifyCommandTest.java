package io.transfuse.cli;

import io.transfuse.Device;
import io.transfuse.ImageClassifier;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.cuda.jcuda.GpuProbe;
import io.transfuse.loader.RandomVitModel;
import io.transfuse.model.swin.SwinFixture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import static io.transfuse.cli.MainTest.assertOneLineError;
import static io.transfuse.cli.MainTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/** `transfuse classify` prints, per image, the API's top-k labels and probabilities (on cpu and cuda-emu); errors are one line. */
class ClassifyCommandTest {
    @TempDir Path tmp;

    @Test
    void printsTopLabelsOfEachImage() throws Exception {
        Path model = RandomVitModel.tiny().write(tmp.resolve("vit"));
        Path a = tmp.resolve("a.png"), b = tmp.resolve("b.png");
        ImageIO.write(image(40, 30, 0x336699), "png", a.toFile());
        ImageIO.write(image(20, 50, 0xCC2211), "png", b.toFile());
        MainTest.Run r = run("classify", "--model", model.toString(), "--top", "3", a.toString(), b.toString());
        assertEquals(0, r.code(), r.err());
        StringBuilder want = new StringBuilder();
        try (ImageClassifier clf = Transfuse.loadClassifier(model, LoadOptions.defaults())) {
            for (Path p : List.of(a, b)) {
                want.append(p).append('\n');
                for (ImageClassifier.Prediction x : clf.classify(p, 3)) {
                    want.append(String.format(Locale.ROOT, "  %6.2f%%  %s%n", 100 * x.probability(), x.label()));
                }
            }
        }
        assertEquals(want.toString(), r.out());
    }

    /** A Swin and a Swin-V2 directory (core's torchvision fixtures): torchvision's top-3, in order, for the test image. */
    @Test
    void classifiesWithSwinAndSwinV2() {
        Path image = SwinFixture.image();
        for (String name : new String[] {"swin-tiny", "swinv2-tiny"}) {
            Path model = SwinFixture.copyModel(name, tmp.resolve(name));
            MainTest.Run r = run("classify", "--model", model.toString(), "--top", "3", image.toString());
            assertEquals(0, r.code(), r.err());
            int[] top = SwinFixture.top5(name);
            String[] lines = r.out().split("\n");
            assertEquals(image.toString(), lines[0]);
            for (int k = 0; k < 3; k++) assertTrue(lines[k + 1].endsWith("  class " + top[k]), name + " rank " + k + ": " + lines[k + 1]);
        }
    }

    @Test
    void swinWithInconsistentConfigIsOneLine() throws Exception {
        Path model = SwinFixture.copyModel("swin-tiny", tmp.resolve("broken"));
        Path config = model.resolve("config.json");
        java.nio.file.Files.writeString(config, java.nio.file.Files.readString(config).replaceFirst("\"num_heads\": \\[\\s*1,", "\"num_heads\": ["));
        MainTest.Run r = run("classify", "--model", model.toString(), SwinFixture.image().toString());
        assertOneLineError(r, 1, "'depths' has 3 stages [2, 2, 2] but 'num_heads' has 2 [2, 4]");
    }

    @Test
    void cudaEmuPrintsTheDeviceGraphsLabelsWithTheCpuTopLabel() throws Exception {
        Path model = RandomVitModel.tiny().write(tmp.resolve("vit"));
        Path a = tmp.resolve("a.png");
        ImageIO.write(image(40, 30, 0x336699), "png", a.toFile());
        MainTest.Run r = run("classify", "--model", model.toString(), "--device", "cuda-emu", "--top", "3", a.toString());
        assertEquals(0, r.code(), r.err());
        StringBuilder want = new StringBuilder(a + "\n");
        try (ImageClassifier emu = Transfuse.loadClassifier(model, LoadOptions.defaults().withDevice(Device.CUDA_EMU));
             ImageClassifier cpu = Transfuse.loadClassifier(model, LoadOptions.defaults().withDevice(Device.CPU))) {
            List<ImageClassifier.Prediction> top = emu.classify(a, 3);
            for (ImageClassifier.Prediction x : top) want.append(String.format(Locale.ROOT, "  %6.2f%%  %s%n", 100 * x.probability(), x.label()));
            ImageClassifier.Prediction best = cpu.classify(a, 1).getFirst();
            assertEquals(best.label(), top.getFirst().label(), "cuda-emu's top label is the CPU's");
            assertEquals(best.probability(), top.getFirst().probability(), 5e-3);
        }
        assertEquals(want.toString(), r.out());
    }

    @Test
    void cudaWithoutGpuFailsWithOneLine() throws Exception {
        assumeFalse(GpuProbe.present(), "a GPU is present");
        Path model = RandomVitModel.tiny().write(tmp.resolve("vit"));
        assertOneLineError(run("classify", "--model", model.toString(), "--device", "cuda", "x.png"), 1, "no CUDA device/driver was found");
    }

    @Test
    void makeModelWritesAClassifierTheCommandRuns() throws Exception {
        Path model = tmp.resolve("vit-tiny");
        MainTest.Run made = run("make-model", "--preset", "vit-tiny", model.toString());
        assertEquals(0, made.code(), made.err());
        Path img = tmp.resolve("c.png");
        ImageIO.write(image(32, 32, 0x10E020), "png", img.toFile());
        MainTest.Run r = run("classify", "--model", model.toString(), "--top", "2", img.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals(3, r.out().lines().count(), r.out());
    }

    @Test
    void errorsAreOneLine() throws Exception {
        Path model = RandomVitModel.tiny().write(tmp.resolve("vit"));
        assertOneLineError(run("classify", "--model", model.toString(), tmp.resolve("missing.png").toString()), 1, "missing.png");
        assertOneLineError(run("classify", "--model", tmp.resolve("nowhere").toString(), "x.png"), 1, "nowhere");
        assertOneLineError(run("classify", "--model", model.toString(), "--top", "0", "x.png"), 2, "--top");
        assertOneLineError(run("classify", "--model", model.toString()), 2, "INPUT");
    }

    private static BufferedImage image(int w, int h, int rgb) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img.setRGB(x, y, rgb ^ (x * 2654435761L > 0 ? x * 7 + y * 13 : 0));
        return img;
    }
}
