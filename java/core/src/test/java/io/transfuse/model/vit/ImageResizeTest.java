package io.transfuse.model.vit;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.loader.Json;
import org.junit.jupiter.api.Test;

import java.net.URISyntaxException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Resizing against Pillow 9.4's own output on the same image (fixture and the command that made
 * it: src/test/resources/vision/make_resize_fixture.py). Pillow rounds its filter coefficients to
 * 22-bit fixed point and each pass to 8 bits; we use doubles, so a pixel may differ by one level per
 * pass: at most 2, and the mean difference must stay small.
 */
class ImageResizeTest {
    static Path resource(String name) {
        try {
            return Path.of(ImageResizeTest.class.getResource("/vision/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void matchesPillowForEveryFilterAndSize() {
        ImagePreprocessor.Rgb img = ImagePreprocessor.read(resource("test-image.png"));
        assertEquals(37, img.width());
        JsonNode fixture = Json.read(resource("pillow-resize.json"));
        for (JsonNode c : fixture.get("cases")) {
            int w = c.get("width").asInt(), h = c.get("height").asInt();
            ImageResize.Filter f = ImageResize.Filter.valueOf(c.get("filter").asText());
            byte[] got = ImageResize.resize(img.pixels(), img.width(), img.height(), w, h, f);
            JsonNode want = c.get("rgb");
            assertEquals(want.size(), got.length);
            int worst = 0;
            long total = 0;
            for (int i = 0; i < got.length; i++) {
                int d = Math.abs((got[i] & 0xFF) - want.get(i).asInt());
                worst = Math.max(worst, d);
                total += d;
            }
            String what = f + " " + w + "x" + h;
            assertTrue(worst <= 2, what + ": worst difference " + worst);
            assertTrue(total <= got.length / 4, what + ": mean difference " + (double) total / got.length);
        }
    }
}
