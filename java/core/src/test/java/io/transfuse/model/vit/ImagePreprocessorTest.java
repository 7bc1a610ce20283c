package io.transfuse.model.vit;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.TransfuseException;
import io.transfuse.loader.Json;
import io.transfuse.loader.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * preprocessor_config.json handling against Pillow's resize of the same image (see
 * ImageResizeTest for the fixture), followed by Hugging Face's documented steps: centre crop at
 * ((h - crop) // 2, (w - crop) // 2), rescale by rescale_factor, (x - mean) / std per channel.
 */
class ImagePreprocessorTest {
    @TempDir Path tmp;

    private static JsonNode pillow(String filter, int w, int h) {
        for (JsonNode c : Json.read(ImageResizeTest.resource("pillow-resize.json")).get("cases")) {
            if (c.get("filter").asText().equals(filter) && c.get("width").asInt() == w && c.get("height").asInt() == h) return c.get("rgb");
        }
        throw new IllegalArgumentException("no fixture case " + filter + " " + w + "x" + h);
    }

    private ImagePreprocessor.Pixels run(String config) throws Exception {
        Files.writeString(tmp.resolve("preprocessor_config.json"), config);
        return ImagePreprocessor.forModel(tmp, 224).apply(ImagePreprocessor.read(ImageResizeTest.resource("test-image.png")));
    }

    /** got[c][y][x] against pillow rgb of size pw x ph cropped at (top, left) and normalised. */
    private static void expect(ImagePreprocessor.Pixels got, JsonNode rgb, int pw, int top, int left, double[] mean, double[] std) {
        int w = got.width(), h = got.height();
        for (int ch = 0; ch < 3; ch++) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    double want = (rgb.get(((top + y) * pw + left + x) * 3 + ch).asInt() / 255.0 - mean[ch]) / std[ch];
                    double tol = 2 / 255.0 / std[ch] + 1e-5;
                    assertEquals(want, got.data()[(ch * h + y) * w + x], tol, "channel " + ch + " y " + y + " x " + x);
                }
            }
        }
    }

    @Test
    void fixedSizeBilinearThenNormalise() throws Exception {
        var px = run("""
                {"do_resize": true, "size": {"height": 16, "width": 16}, "resample": 2, "do_rescale": true,
                 "rescale_factor": 0.00392156862745098, "do_normalize": true, "image_mean": [0.5, 0.4, 0.3], "image_std": [0.2, 0.25, 0.3]}
                """);
        assertEquals(16, px.width());
        assertEquals(16, px.height());
        expect(px, pillow("BILINEAR", 16, 16), 16, 0, 0, new double[] {0.5, 0.4, 0.3}, new double[] {0.2, 0.25, 0.3});
    }

    @Test
    void shortestEdgeBicubicThenCentreCrop() throws Exception {
        // 37x29 with shortest_edge 20 -> 25x20 (int(20 * 37 / 29) = 25), then crop 16x16 at top 2, left 4
        var px = run("""
                {"do_resize": true, "size": {"shortest_edge": 20}, "resample": 3, "do_center_crop": true,
                 "crop_size": {"height": 16, "width": 16}, "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}
                """);
        assertEquals(16, px.width());
        expect(px, pillow("BICUBIC", 25, 20), 25, 2, 4, new double[] {0.485, 0.456, 0.406}, new double[] {0.229, 0.224, 0.225});
    }

    @Test
    void badValuesAreNamed() throws Exception {
        var e = assertThrows(ModelFormatException.class, () -> run("{\"image_std\": [0.5, 0, 0.5]}"));
        assertTrue(e.getMessage().contains("image_std"), e.getMessage());
        var e2 = assertThrows(IllegalArgumentException.class, () -> run("{\"resample\": 5}"));
        assertTrue(e2.getMessage().contains("resample 5"), e2.getMessage());
        var e3 = assertThrows(ModelFormatException.class, () -> run("{\"image_mean\": [1, 2]}"));
        assertTrue(e3.getMessage().contains("image_mean"), e3.getMessage());
    }

    @Test
    void unreadableImageIsNamed() throws Exception {
        Path notImage = tmp.resolve("notes.txt");
        Files.writeString(notImage, "hello");
        var e = assertThrows(TransfuseException.class, () -> ImagePreprocessor.read(notImage));
        assertTrue(e.getMessage().contains("notes.txt"), e.getMessage());
    }
}
