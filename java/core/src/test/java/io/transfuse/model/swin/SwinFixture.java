package io.transfuse.model.swin;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.loader.Json;

import java.net.URISyntaxException;
import java.nio.file.Path;

/**
 * The torchvision Swin reference of test resources vision/swin (made by make_swin_fixture.py there, command in its
 * docstring): a small swin_t-shaped model in HF's layout (swin-tiny/) and torchvision's float64 logits for
 * vision/test-image.png (swin-tiny-logits.json).
 */
public final class SwinFixture {
    private SwinFixture() {}

    public static Path resource(String name) {
        try {
            return Path.of(SwinFixture.class.getResource("/vision/" + name).toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("test resource vision/" + name + " is missing", e);
        }
    }

    /** The model directory. */
    public static Path model() { return resource("swin/swin-tiny"); }

    /** The image the logits are for. */
    public static Path image() { return resource("test-image.png"); }

    /** torchvision's logits. */
    public static double[] logits() {
        JsonNode n = Json.read(resource("swin/swin-tiny-logits.json")).path("logits");
        double[] r = new double[n.size()];
        for (int i = 0; i < r.length; i++) r[i] = n.get(i).asDouble();
        return r;
    }

    /** torchvision's top-5 class indices. */
    public static int[] top5() {
        JsonNode n = Json.read(resource("swin/swin-tiny-logits.json")).path("top5");
        int[] r = new int[n.size()];
        for (int i = 0; i < r.length; i++) r[i] = n.get(i).asInt();
        return r;
    }
}
