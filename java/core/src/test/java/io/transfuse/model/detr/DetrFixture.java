package io.transfuse.model.detr;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.transfuse.loader.SafetensorsWriter;
import io.transfuse.tensor.DType;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Predicate;

/**
 * The torchvision DETR reference of test resources vision/detr (made by make_detr_model_fixture.py there, command in
 * its docstring): a small DETR with the real ResNet-50 backbone whose weights are not stored but generated from each
 * tensor's name by the generator the script documents (SplitMix64 from FNV-1a-64(name) XOR seed; a value is
 * offset + halfwidth (2u - 1) in double, rounded to float), written here as a Hugging Face directory, plus
 * torchvision's float64 logits, boxes and post-processed detections for vision/test-image.png.
 */
public final class DetrFixture {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static JsonNode fixture;

    private DetrFixture() {}

    /** The fixture JSON (read through the class loader: works from the test jar of the GPU kit too). */
    public static synchronized JsonNode json() {
        if (fixture == null) {
            try (InputStream in = DetrFixture.class.getResourceAsStream("/vision/detr/detr-small.json")) {
                if (in == null) throw new IllegalStateException("test resource vision/detr/detr-small.json is missing");
                fixture = JSON.readTree(in);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return fixture;
    }

    /** The image the reference outputs are for. */
    public static byte[] imageBytes() {
        try (InputStream in = DetrFixture.class.getResourceAsStream("/vision/test-image.png")) {
            if (in == null) throw new IllegalStateException("test resource vision/test-image.png is missing");
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes the model into {@code dir} with timm-style backbone names ({@code hfNames} false) or HF ResNetBackbone names. */
    public static Path writeModel(Path dir, boolean hfNames) { return writeModel(dir, hfNames, name -> true); }

    /** As {@link #writeModel(Path, boolean)}, keeping only the tensors (by their written name) {@code keep} accepts. */
    public static Path writeModel(Path dir, boolean hfNames, Predicate<String> keep) {
        try {
            Files.createDirectories(dir);
            JsonNode f = json();
            ObjectNode config = (ObjectNode) f.path("config").deepCopy();
            if (hfNames) {
                config.put("use_timm_backbone", false);
                ObjectNode bc = config.putObject("backbone_config");
                bc.put("model_type", "resnet");
                bc.put("layer_type", "bottleneck");
                bc.put("embedding_size", 64);
                bc.putArray("hidden_sizes").add(256).add(512).add(1024).add(2048);
                bc.putArray("depths").add(3).add(4).add(6).add(3);
            }
            Files.writeString(dir.resolve("config.json"), JSON.writeValueAsString(config), StandardCharsets.UTF_8);
            Files.writeString(dir.resolve("preprocessor_config.json"), JSON.writeValueAsString(f.path("preprocessor_config")),
                    StandardCharsets.UTF_8);
            long seed = f.path("seed").asLong();
            SafetensorsWriter w = new SafetensorsWriter();
            for (JsonNode t : f.path("manifest")) {
                String seedName = t.path("name").asText();
                String name = hfNames && t.has("hf_name") ? t.path("hf_name").asText() : seedName;
                if (!keep.test(name)) continue;
                long[] shape = new long[t.path("shape").size()];
                long n = 1;
                for (int i = 0; i < shape.length; i++) n *= shape[i] = t.path("shape").get(i).asLong();
                int count = Math.toIntExact(n);
                double offset = t.path("offset").asDouble(), half = t.path("halfwidth").asDouble();
                w.addTensor(name, DType.F32, shape, () -> generate(seedName, count, offset, half, seed));
            }
            w.write(dir.resolve("model.safetensors"), s -> {});
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The shared generator (see make_detr_model_fixture.py). */
    static float[] generate(String seedName, int count, double offset, double halfwidth, long seed) {
        long h = 0xCBF29CE484222325L;
        for (byte b : seedName.getBytes(StandardCharsets.UTF_8)) h = (h ^ (b & 0xFF)) * 0x100000001B3L;
        long start = h ^ seed;
        float[] out = new float[count];
        for (int i = 0; i < count; i++) {
            long z = start + (i + 1L) * 0x9E3779B97F4A7C15L;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            z ^= z >>> 31;
            double u = (z >>> 40) / (double) (1 << 24);
            out[i] = (float) (offset + halfwidth * (2.0 * u - 1.0));
        }
        return out;
    }

    /** torchvision's [queries][classes] logits. */
    public static double[][] logits() { return matrix("logits"); }

    /** torchvision's [queries][4] boxes (cx, cy, w, h relative, after the sigmoid). */
    public static double[][] boxes() { return matrix("boxes"); }

    private static double[][] matrix(String key) {
        JsonNode n = json().path(key);
        double[][] r = new double[n.size()][];
        for (int i = 0; i < r.length; i++) {
            r[i] = new double[n.get(i).size()];
            for (int j = 0; j < r[i].length; j++) r[i][j] = n.get(i).get(j).asDouble();
        }
        return r;
    }
}
