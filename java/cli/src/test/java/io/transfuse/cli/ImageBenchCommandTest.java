package io.transfuse.cli;

import io.transfuse.loader.RandomVitModel;
import io.transfuse.model.detr.DetrFixture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.transfuse.cli.MainTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * `transfuse bench` on an image classifier (a random tiny ViT) and an object detector (core's DETR fixture): both
 * print the same report, a header naming the kind, labels and input size, and one images/s row (median, min, max).
 */
class ImageBenchCommandTest {
    @TempDir
    Path tmp;

    static final Pattern ROW = Pattern.compile("(?m)^images/s\\s+(\\S+)\\s+(\\S+)\\s+(\\S+)$");

    static void assertReport(MainTest.Run r, String header) {
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains(header), r.out());
        assertTrue(r.out().contains("device CPU, threads 1, 2 repetitions of 2 images (+1 warm-up)"), r.out());
        Matcher m = ROW.matcher(r.out());
        assertTrue(m.find(), r.out());
        double median = Double.parseDouble(m.group(1)), min = Double.parseDouble(m.group(2)), max = Double.parseDouble(m.group(3));
        assertTrue(min > 0 && min <= median && median <= max, r.out());
    }

    @Test
    void benchesAClassifier() {
        Path vit = RandomVitModel.tiny().write(tmp.resolve("vit"));
        MainTest.Run r = run("bench", "--model", vit.toString(), "--device", "cpu", "--threads", "1", "--batch", "2",
                "--repetitions", "2", "--warmup", "1");
        assertReport(r, ": image classifier, ");
        MainTest.Run bad = run("bench", "--model", vit.toString(), "--batch", "0");
        assertTrue(bad.code() != 0 && bad.err().strip().lines().count() == 1 && bad.err().contains("--batch must be positive"), bad.err());
    }

    @Test
    void benchesADetector() throws Exception {
        Path detr = DetrFixture.writeModel(tmp.resolve("detr"), false);
        MainTest.Run r = run("bench", "--model", detr.toString(), "--device", "cpu", "--threads", "1", "--batch", "2",
                "--repetitions", "2", "--warmup", "1");
        assertReport(r, ": object detector, ");
        assertTrue(r.out().contains("1066x800 input"), r.out());
    }
}
