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

    /**
     * DETR's resize (shorter side to shortest_edge within longest_edge) and padding of a batch with a pixel mask,
     * against Pillow and the documented steps (make_detr_fixture.py: the test image and its transpose, four
     * size settings: limited by the longest edge, not limited, no resize needed, upsized).
     */
    @Test
    void detrResizeAndPaddedBatchMatchTheReference() throws Exception {
        ImagePreprocessor.Rgb a = ImagePreprocessor.read(ImageResizeTest.resource("test-image.png")), b = transpose(a);
        for (JsonNode c : Json.read(ImageResizeTest.resource("detr-preprocess.json")).get("cases")) {
            int shortest = c.get("shortest_edge").asInt(), longest = c.get("longest_edge").asInt();
            Files.writeString(tmp.resolve("preprocessor_config.json"), "{\"size\": {\"shortest_edge\": " + shortest
                    + ", \"longest_edge\": " + longest + "}, \"resample\": 2, \"image_mean\": [0.485, 0.456, 0.406],"
                    + " \"image_std\": [0.229, 0.224, 0.225]}");
            ImagePreprocessor pre = ImagePreprocessor.forModel(tmp, 224);
            ImagePreprocessor.Batch batch = ImagePreprocessor.pad(java.util.List.of(pre.apply(a), pre.apply(b)));
            String where = "shortest " + shortest + " longest " + longest;
            assertEquals(c.get("width").asInt(), batch.width(), where);
            assertEquals(c.get("height").asInt(), batch.height(), where);
            for (int i = 0; i < 2; i++) {
                int[] wh = ImagePreprocessor.sizeWithin(i == 0 ? a.width() : b.width(), i == 0 ? a.height() : b.height(), shortest, longest);
                assertEquals(c.get("sizes").get(i).get(0).asInt(), wh[0], where + " image " + i + " width");
                assertEquals(c.get("sizes").get(i).get(1).asInt(), wh[1], where + " image " + i + " height");
            }
            JsonNode values = c.get("pixel_values"), mask = c.get("pixel_mask");
            assertEquals(values.size(), batch.data().length, where);
            double[] std = {0.229, 0.224, 0.225};
            int plane = batch.width() * batch.height();
            for (int k = 0; k < values.size(); k++) {
                double tol = 2 / 255.0 / std[(k / plane) % 3] + 1e-5; // Pillow's 8-bit rounding, as in the cases above
                assertEquals(values.get(k).asDouble(), batch.data()[k], tol, where + " value " + k);
            }
            for (int k = 0; k < mask.size(); k++) assertEquals(mask.get(k).asInt(), batch.mask()[k], where + " mask " + k);
        }
    }

    /** DETR's documented example: a 640 x 480 COCO image with 800 / 1333 becomes 1066 x 800 (pixel_values [1, 3, 800, 1066]). */
    @Test
    void detrSizesOfKnownImages() throws Exception {
        org.junit.jupiter.api.Assertions.assertArrayEquals(new int[] {1066, 800}, ImagePreprocessor.sizeWithin(640, 480, 800, 1333));
        org.junit.jupiter.api.Assertions.assertArrayEquals(new int[] {800, 1066}, ImagePreprocessor.sizeWithin(480, 640, 800, 1333));
        // a panorama: the longer side is held to 1333 and the shorter follows
        org.junit.jupiter.api.Assertions.assertArrayEquals(new int[] {1333, 333}, ImagePreprocessor.sizeWithin(4000, 1000, 800, 1333));
        // older files: "size": 800, "max_size": 1333
        Files.writeString(tmp.resolve("preprocessor_config.json"), "{\"size\": 800, \"max_size\": 1333}");
        ImagePreprocessor pre = ImagePreprocessor.forModel(tmp, 224);
        assertEquals(800, pre.shortestEdge());
        assertEquals(1333, pre.longestEdge());
        assertEquals(1333, pre.maxOutputSide());
        var e = assertThrows(ModelFormatException.class, () -> run("{\"size\": {\"shortest_edge\": 800, \"longest_edge\": 600}}"));
        assertTrue(e.getMessage().contains("longest_edge"), e.getMessage());
    }

    private static ImagePreprocessor.Rgb transpose(ImagePreprocessor.Rgb img) {
        int w = img.width(), h = img.height();
        byte[] out = new byte[w * h * 3];
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) System.arraycopy(img.pixels(), (y * w + x) * 3, out, (x * h + y) * 3, 3);
        return new ImagePreprocessor.Rgb(out, h, w);
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
