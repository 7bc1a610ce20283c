package io.transfuse.model.vit;

import io.transfuse.ImageClassifier;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.RandomVitModel;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The ViT graph on the CPU backend against the plain double-precision {@link ViTReference} on
 * random-weight models. F32 weights: the graph computes in F32 (unit roundoff 6e-8) through about a
 * dozen dependent matmuls of length <= 192, so logits agree to well under 1e-3 absolute (logits are
 * O(1)); F16 weights are rounded the same way for both (the reference reads the stored F16 values).
 */
class ViTModelTest {
    @TempDir Path tmp;

    static BufferedImage randomImage(int w, int h, long seed) {
        Random rnd = new Random(seed);
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img.setRGB(x, y, rnd.nextInt(1 << 24));
        return img;
    }

    private void check(RandomVitModel spec, BufferedImage image, String what) {
        Path dir = spec.write(tmp.resolve(what));
        ImagePreprocessor pre = ImagePreprocessor.forModel(dir, spec.imageSize());
        ImagePreprocessor.Pixels px = pre.apply(ImagePreprocessor.Rgb.of(image));
        double[] want = new ViTReference(dir).logits(px);
        long before = TrackedArena.bytesInUse();
        try (ImageClassifier clf = Transfuse.loadClassifier(dir, LoadOptions.defaults().withThreads(2))) {
            float[] got = clf.logits(image);
            assertEquals(want.length, got.length);
            double worst = 0;
            for (int i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
            assertTrue(worst < 1e-3, what + ": worst logit difference " + worst);
            // the top-5 are the reference's five largest, in order, with softmax probabilities
            List<ImageClassifier.Prediction> top = clf.classify(image, 5);
            assertEquals(5, top.size());
            Integer[] order = new Integer[want.length];
            for (int i = 0; i < order.length; i++) order[i] = i;
            java.util.Arrays.sort(order, (a, b) -> Double.compare(want[b], want[a]));
            double max = want[order[0]], sum = 0;
            for (double v : want) sum += Math.exp(v - max);
            for (int k = 0; k < 5; k++) {
                assertEquals(order[k], top.get(k).index(), what + ": rank " + k);
                assertEquals("class " + (char) ('a' + order[k]), top.get(k).label());
                assertEquals(Math.exp(want[order[k]] - max) / sum, top.get(k).probability(), 1e-4);
            }
        }
        assertEquals(before, TrackedArena.bytesInUse(), "native memory returns after close");
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
    void deitWithTeacherAveragesBothHeads() {
        check(RandomVitModel.tiny().withDeit(true).withPreprocessor("""
                {"do_resize": true, "size": {"shortest_edge": 36}, "resample": 3, "do_center_crop": true,
                 "crop_size": {"height": 32, "width": 32}, "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}
                """), randomImage(50, 40, 3), "deit");
    }

    @Test
    void otherImageSizeInterpolatesPositions() {
        check(RandomVitModel.tiny().withPreprocessor("""
                {"size": {"height": 48, "width": 40}, "resample": 2}
                """), randomImage(60, 60, 4), "interpolated");
    }

    @Test
    void missingTensorAndBadConfigAreNamed() throws Exception {
        Path dir = RandomVitModel.tiny().write(tmp.resolve("broken"));
        Path config = dir.resolve("config.json");
        String good = Files.readString(config);
        Files.writeString(config, good.replace("\"num_attention_heads\": 4", "\"num_attention_heads\": 5"));
        var e = assertThrows(ModelFormatException.class, () -> Transfuse.loadClassifier(dir, LoadOptions.defaults()));
        assertTrue(e.getMessage().contains("num_attention_heads 5"), e.getMessage());
        Files.writeString(config, good.replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3"));
        e = assertThrows(ModelFormatException.class, () -> Transfuse.loadClassifier(dir, LoadOptions.defaults()));
        assertTrue(e.getMessage().contains("vit.encoder.layer.2.layernorm_before.weight") && e.getMessage().contains("missing"), e.getMessage());
        Files.writeString(config, good.replace("\"intermediate_size\": 64", "\"intermediate_size\": 65"));
        e = assertThrows(ModelFormatException.class, () -> Transfuse.loadClassifier(dir, LoadOptions.defaults()));
        assertTrue(e.getMessage().contains("intermediate.dense.weight") && e.getMessage().contains("[65, 32]"), e.getMessage());
        Files.writeString(config, good.replace("\"hidden_size\": 32,", ""));
        e = assertThrows(ModelFormatException.class, () -> Transfuse.loadClassifier(dir, LoadOptions.defaults()));
        assertTrue(e.getMessage().contains("hidden_size"), e.getMessage());
    }
}
