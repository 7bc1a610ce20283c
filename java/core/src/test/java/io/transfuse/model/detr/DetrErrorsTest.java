package io.transfuse.model.detr;

import io.transfuse.Device;
import io.transfuse.LoadOptions;
import io.transfuse.ObjectDetector;
import io.transfuse.Transfuse;
import io.transfuse.TransfuseException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad input to a DETR detector is one clear line naming the file, tensor or argument at fault, never a crash: corrupt,
 * truncated, empty and unsupported image files, a model with a missing tensor, an unsupported backbone, and a bad
 * threshold. After each error the detector still works.
 */
class DetrErrorsTest {
    @TempDir
    static Path dir;
    static Path model;
    static ObjectDetector detector;

    @BeforeAll
    static void load() {
        model = DetrFixture.writeModel(dir.resolve("detr"), false);
        detector = Transfuse.loadDetector(model, LoadOptions.defaults().withDevice(Device.CPU));
    }

    @AfterAll
    static void close() {
        if (detector != null) detector.close();
    }

    private static void oneLine(Exception e, String... fragments) {
        String m = e.getMessage();
        assertEquals(1, m.lines().count(), "one line: " + m);
        for (String f : fragments) assertTrue(m.contains(f), "'" + f + "' missing from: " + m);
    }

    private static Path file(String name, byte[] bytes) throws Exception {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    @Test
    void badImagesAreOneLineEach() throws Exception {
        byte[] png = DetrFixture.imageBytes();
        Path corrupt = file("corrupt.png", "this is not a PNG, just text".getBytes());
        Path truncated = file("truncated.png", Arrays.copyOf(png, png.length / 2));
        Path empty = file("empty.png", new byte[0]);
        Path webp = file("photo.webp", new byte[] {'R', 'I', 'F', 'F', 26, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', ' ', 0, 0, 0, 0});
        Path missing = dir.resolve("no-such.png");
        for (Path p : new Path[] {corrupt, truncated, empty, webp, missing}) {
            TransfuseException e = assertThrows(TransfuseException.class, () -> detector.detect(p, 0.5), p.toString());
            oneLine(e, p.toString());
        }
        assertEquals(DetrFixture.json().path("detections").size(), detector.detect(file("ok.png", png), 0.5).size(), "still works");
    }

    @Test
    void badThresholdNamesIt() throws Exception {
        Path ok = file("ok2.png", DetrFixture.imageBytes());
        for (double t : new double[] {-0.1, 1.0, Double.NaN}) {
            oneLine(assertThrows(IllegalArgumentException.class, () -> detector.detect(ok, t)), "threshold");
        }
    }

    @Test
    void missingTensorIsNamed() {
        String gone = "model.backbone.conv_encoder.model.layer3.2.conv2.weight";
        Path broken = DetrFixture.writeModel(dir.resolve("broken"), false, name -> !name.equals(gone));
        Exception e = assertThrows(RuntimeException.class,
                () -> Transfuse.loadDetector(broken, LoadOptions.defaults().withDevice(Device.CPU)).close());
        oneLine(e, "tensor '" + gone + "' is missing");
        String hfGone = "model.decoder.layers.1.encoder_attn.k_proj.bias";
        Path broken2 = DetrFixture.writeModel(dir.resolve("broken2"), true, name -> !name.equals(hfGone));
        e = assertThrows(RuntimeException.class, () -> Transfuse.loadDetector(broken2, LoadOptions.defaults().withDevice(Device.CPU)).close());
        oneLine(e, "tensor '" + hfGone + "' is missing");
    }

    @Test
    void unsupportedConfigIsNamed() throws Exception {
        Path other = dir.resolve("resnet101");
        Files.createDirectories(other);
        for (String f : new String[] {"model.safetensors", "preprocessor_config.json"}) {
            Path link = other.resolve(f);
            if (!Files.exists(link)) Files.createSymbolicLink(link, model.resolve(f));
        }
        String config = Files.readString(model.resolve("config.json")).replace("\"resnet50\"", "\"resnet101\"");
        Files.writeString(other.resolve("config.json"), config);
        Exception e = assertThrows(RuntimeException.class, () -> Transfuse.loadDetector(other, LoadOptions.defaults().withDevice(Device.CPU)).close());
        oneLine(e, "backbone 'resnet101' is not supported");
    }
}
