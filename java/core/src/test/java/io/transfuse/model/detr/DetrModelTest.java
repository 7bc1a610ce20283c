package io.transfuse.model.detr;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.Device;
import io.transfuse.LoadOptions;
import io.transfuse.ObjectDetector;
import io.transfuse.Transfuse;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The DETR graph on the CPU against torchvision's ResNet-50 and a torch.nn DETR transformer in float64
 * ({@link DetrFixture}): a small DETR (d_model 64, 2 + 2 layers, 12 queries, 3 labels) behind the full ResNet-50,
 * on vision/test-image.png resized to 81x64 (a 3x2 feature map).
 *
 * <p>Tolerance. The CPU runs F32 throughout; through 53 convolutions and 4 transformer layers the rounding error
 * stays around 1e-5 relative (measured: printed by the test). Budget: logits within 2e-3 absolute (they are O(1-5)),
 * boxes within 5e-4 (in 0..1), detection scores within 1e-3 and boxes within 0.05 pixel, the same detections. A
 * wrong fold, stride, mask or position embedding moves logits by O(0.1-1).
 */
class DetrModelTest {
    static final double LOGIT_TOL = 2e-3, BOX_TOL = 5e-4;

    @TempDir
    static Path dir;
    static Path timm, hf;

    @BeforeAll
    static void writeModels() {
        timm = DetrFixture.writeModel(dir.resolve("timm"), false);
        hf = DetrFixture.writeModel(dir.resolve("hf"), true);
    }

    static BufferedImage image() throws IOException {
        return ImageIO.read(new ByteArrayInputStream(DetrFixture.imageBytes()));
    }

    @Test
    void cpuMatchesTorchvision() throws IOException {
        check(timm);
    }

    @Test
    void hfBackboneNamesGiveTheSameModel() throws IOException {
        check(hf);
    }

    private void check(Path model) throws IOException {
        BufferedImage img = image();
        try (ObjectDetector det = Transfuse.loadDetector(model, LoadOptions.defaults().withDevice(Device.CPU))) {
            assertEquals(List.of("cat", "dog", "bird"), det.labels());
            ObjectDetector.Outputs o = det.outputs(img);
            double[][] wantLogits = DetrFixture.logits(), wantBoxes = DetrFixture.boxes();
            assertEquals(wantLogits.length, o.queries());
            assertEquals(wantLogits[0].length, o.classes());
            double worstLogit = 0, worstBox = 0;
            for (int q = 0; q < o.queries(); q++) {
                for (int c = 0; c < o.classes(); c++) worstLogit = Math.max(worstLogit, Math.abs(o.logits()[q * o.classes() + c] - wantLogits[q][c]));
                for (int j = 0; j < 4; j++) worstBox = Math.max(worstBox, Math.abs(o.boxes()[q * 4 + j] - wantBoxes[q][j]));
            }
            System.out.printf("DETR on the CPU (%s): max |logit error| %.2e, max |box error| %.2e%n", model.getFileName(), worstLogit, worstBox);
            assertTrue(worstLogit <= LOGIT_TOL, "logits off by " + worstLogit);
            assertTrue(worstBox <= BOX_TOL, "boxes off by " + worstBox);
            checkDetections(det.detect(img, DetrFixture.json().path("threshold").asDouble()), 1e-3, 0.05);
            ObjectDetector.Outputs again = det.outputs(img); // the same workspace again
            assertArrayEquals(o.logits(), again.logits(), "repeated call");
        }
    }

    /** The detections against the fixture's (post-processed in torch), matched in order of score. */
    static void checkDetections(List<ObjectDetector.Detection> got, double scoreTol, double pixelTol) {
        JsonNode want = DetrFixture.json().path("detections");
        assertEquals(want.size(), got.size(), "detections: " + got);
        List<JsonNode> sorted = new java.util.ArrayList<>();
        want.forEach(sorted::add);
        sorted.sort((a, b) -> Double.compare(b.path("score").asDouble(), a.path("score").asDouble()));
        for (int i = 0; i < got.size(); i++) {
            JsonNode w = sorted.get(i);
            ObjectDetector.Detection d = got.get(i);
            assertEquals(w.path("label").asText(), d.label());
            assertEquals(w.path("score").asDouble(), d.score(), scoreTol, "score of " + d);
            double[] box = {d.x0(), d.y0(), d.x1(), d.y1()};
            for (int j = 0; j < 4; j++) assertEquals(w.path("box").get(j).asDouble(), box[j], pixelTol, "box of " + d);
        }
    }

    @Test
    void positionEmbeddingHonoursThePixelMask() {
        JsonNode c = DetrFixture.json().path("masked_position");
        JsonNode m = c.path("mask");
        int h = m.size(), w = m.get(0).size(), dim = c.path("dim").asInt();
        byte[] mask = new byte[h * w];
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) mask[y * w + x] = (byte) m.get(y).get(x).asInt();
        float[] got = SinePositionEmbedding.of(mask, h, w, dim);
        JsonNode want = c.path("values");
        for (int p = 0; p < h * w; p++)
            for (int k = 0; k < dim; k++) assertEquals(want.get(p).get(k).asDouble(), got[p * dim + k], 1e-6, "pixel " + p + " value " + k);
    }
}
