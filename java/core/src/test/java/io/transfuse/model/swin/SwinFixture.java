package io.transfuse.model.swin;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.loader.Json;

import java.net.URISyntaxException;
import java.nio.file.Path;

/**
 * The torchvision Swin references of test resources vision/swin (made by make_swin_fixture.py there, commands in
 * its docstring): small swin_t- and swin_v2_t-shaped models in HF's layouts (swin-tiny/, swinv2-tiny/) and
 * torchvision's float64 logits for vision/test-image.png (swin-tiny-logits.json, swinv2-tiny-logits.json).
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

    /** The Swin (V1) model directory. */
    public static Path model() { return model("swin-tiny"); }

    /** A model directory: "swin-tiny" (V1) or "swinv2-tiny" (V2, made with --v2). */
    public static Path model(String name) { return resource("swin/" + name); }

    /**
     * A copy of model directory {@code name} in {@code dir}, read through the class loader: works where the test
     * resources are inside a jar (the GPU kit of ci/gpu-test.sh), where {@link #model(String)} has no path.
     */
    public static Path copyModel(String name, Path dir) {
        try {
            java.nio.file.Files.createDirectories(dir);
            for (String f : new String[] {"config.json", "model.safetensors", "preprocessor_config.json"}) {
                try (java.io.InputStream in = SwinFixture.class.getResourceAsStream("/vision/swin/" + name + "/" + f)) {
                    if (in == null) throw new IllegalStateException("test resource vision/swin/" + name + "/" + f + " is missing");
                    java.nio.file.Files.copy(in, dir.resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
            }
            return dir;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** The image the logits are for. */
    public static Path image() { return resource("test-image.png"); }

    /** torchvision's logits for the V1 model. */
    public static double[] logits() { return logits("swin-tiny"); }

    /** torchvision's logits for model {@code name}. */
    public static double[] logits(String name) {
        JsonNode n = Json.read(resource("swin/" + name + "-logits.json")).path("logits");
        double[] r = new double[n.size()];
        for (int i = 0; i < r.length; i++) r[i] = n.get(i).asDouble();
        return r;
    }

    /** torchvision's top-5 class indices for the V1 model. */
    public static int[] top5() { return top5("swin-tiny"); }

    /** torchvision's top-5 class indices for model {@code name}. */
    public static int[] top5(String name) {
        JsonNode n = Json.read(resource("swin/" + name + "-logits.json")).path("top5");
        int[] r = new int[n.size()];
        for (int i = 0; i < r.length; i++) r[i] = n.get(i).asInt();
        return r;
    }
}
