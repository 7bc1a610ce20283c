package io.transfuse.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.transfuse.model.detr.DetrFixture;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;

import static io.transfuse.cli.MainTest.assertOneLineError;
import static io.transfuse.cli.MainTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * `transfuse detect` on core's torchvision DETR fixture: one JSON line per detection with torchvision's labels, scores and
 * boxes; --out writes the image with the boxes drawn (one file per image when there are several); errors are one line.
 */
class DetectCommandTest {
    @TempDir
    static Path tmp;
    static Path model, image;

    @BeforeAll
    static void write() throws Exception {
        model = DetrFixture.writeModel(tmp.resolve("detr"), false);
        image = tmp.resolve("test-image.png");
        Files.write(image, DetrFixture.imageBytes());
    }

    @Test
    void printsDetectionsAndDrawsThem() throws Exception {
        Path out = tmp.resolve("annotated.png");
        MainTest.Run r = run("detect", "--model", model.toString(), "--out", out.toString(), image.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode want = DetrFixture.json().path("detections");
        String[] lines = r.out().strip().split("\n");
        assertEquals(want.size(), lines.length, r.out());
        ObjectMapper json = new ObjectMapper();
        for (String line : lines) {
            JsonNode d = json.readTree(line);
            assertEquals(image.toString(), d.path("image").asText());
            boolean matched = false;
            for (JsonNode w : want) {
                boolean same = w.path("label").asText().equals(d.path("label").asText())
                        && Math.abs(w.path("score").asDouble() - d.path("score").asDouble()) < 1e-3;
                for (int j = 0; j < 4 && same; j++) same = Math.abs(w.path("box").get(j).asDouble() - d.path("box").get(j).asDouble()) < 0.02;
                matched |= same;
            }
            assertTrue(matched, "not a reference detection: " + line);
        }
        BufferedImage drawn = ImageIO.read(out.toFile()), src = ImageIO.read(image.toFile());
        assertEquals(src.getWidth(), drawn.getWidth());
        assertEquals(src.getHeight(), drawn.getHeight());
        int changed = 0;
        for (int y = 0; y < src.getHeight(); y++)
            for (int x = 0; x < src.getWidth(); x++) if ((src.getRGB(x, y) & 0xFFFFFF) != (drawn.getRGB(x, y) & 0xFFFFFF)) changed++;
        assertNotEquals(0, changed, "boxes were drawn");
    }

    @Test
    void severalImagesGetOneAnnotatedFileEach() throws Exception {
        Path second = tmp.resolve("second.png");
        Files.write(second, DetrFixture.imageBytes());
        Path out = tmp.resolve("many/boxes.jpg");
        MainTest.Run r = run("detect", "--model", model.toString(), "--threshold", "0.6", "--out", out.toString(), image.toString(),
                second.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.size(tmp.resolve("many/boxes-test-image.jpg")) > 0);
        assertTrue(Files.size(tmp.resolve("many/boxes-second.jpg")) > 0);
        int confident = 0;
        for (JsonNode w : DetrFixture.json().path("detections")) if (w.path("score").asDouble() > 0.6) confident++;
        assertEquals(2 * confident, r.out().isBlank() ? 0 : r.out().strip().split("\n").length, r.out());
    }

    @Test
    void errorsAreOneLine() throws Exception {
        Path bad = tmp.resolve("bad.png");
        Files.writeString(bad, "not an image");
        assertOneLineError(run("detect", "--model", model.toString(), bad.toString()), 1, bad.toString(), "not an image format");
        assertOneLineError(run("detect", "--model", model.toString(), "--threshold", "1.5", image.toString()), 2, "--threshold");
        assertOneLineError(run("detect", "--model", model.toString(), "--out", tmp.resolve("x.gif").toString(), image.toString()), 2,
                "--out", ".png");
        Path vit = tmp.resolve("not-detr");
        Files.createDirectories(vit);
        Files.writeString(vit.resolve("config.json"), "{\"model_type\": \"vit\", \"id2label\": {\"0\": \"a\"}}");
        assertOneLineError(run("detect", "--model", vit.toString(), image.toString()), 1, "not object detection");
    }
}
