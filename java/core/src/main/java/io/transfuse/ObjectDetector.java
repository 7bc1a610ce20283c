package io.transfuse;

import io.transfuse.memory.TrackedArena;
import io.transfuse.model.DetectorGraph;
import io.transfuse.model.vit.ImagePreprocessor;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;

/**
 * A loaded object detector (DETR). Closing it releases its native memory. Methods are thread-safe; images are
 * detected one at a time. Detections follow Hugging Face's {@code post_process_object_detection}: per object query a
 * softmax over the classes, the best class other than "no object" and its probability as the score, kept when the
 * score is above the threshold, the box turned from centre/size relative to the image into corners in the original
 * image's pixels.
 */
public final class ObjectDetector implements AutoCloseable {
    private final TrackedArena arena;
    private final DetectorGraph model;
    private final ImagePreprocessor preprocessor;
    private boolean closed;

    /**
     * One detected object: its class, the score (softmax probability of that class), and the box corners in pixels of
     * the image as given (x0, y0 top left; x1, y1 bottom right; may reach slightly outside the image, as HF's do).
     */
    public record Detection(int labelId, String label, double score, double x0, double y0, double x1, double y1) {}

    /**
     * The network's raw outputs for one image, per object query q: {@code logits[q * classes + c]} (classes = labels + 1,
     * "no object" last) and {@code boxes[q * 4 ..]} = centre x, centre y, width, height relative to the image (0..1).
     */
    public record Outputs(float[] logits, float[] boxes, int queries, int classes) {}

    ObjectDetector(TrackedArena arena, DetectorGraph model, ImagePreprocessor preprocessor) {
        this.arena = arena;
        this.model = model;
        this.preprocessor = preprocessor;
    }

    /** Class names by id. */
    public List<String> labels() { return List.of(model.labels()); }

    /** The detections in an image file with a score above {@code threshold}, best first. */
    public List<Detection> detect(Path image, double threshold) {
        Objects.requireNonNull(image, "image");
        return detect(ImagePreprocessor.read(image), threshold);
    }

    public List<Detection> detect(BufferedImage image, double threshold) {
        Objects.requireNonNull(image, "image");
        return detect(ImagePreprocessor.Rgb.of(image), threshold);
    }

    /** The network's raw outputs for an image (per query: class logits, "no object" last; box cx, cy, w, h in 0..1). */
    public Outputs outputs(BufferedImage image) {
        Objects.requireNonNull(image, "image");
        return outputs(ImagePreprocessor.Rgb.of(image));
    }

    private synchronized Outputs outputs(ImagePreprocessor.Rgb rgb) {
        if (closed) throw new IllegalStateException("the detector is closed");
        if (rgb.width() < 1 || rgb.height() < 1) throw new IllegalArgumentException("the image is empty (" + rgb.width() + "x" + rgb.height() + ")");
        DetectorGraph.Outputs o = model.detect(preprocessor.apply(rgb));
        return new Outputs(o.logits(), o.boxes(), o.queries(), o.classes());
    }

    private List<Detection> detect(ImagePreprocessor.Rgb rgb, double threshold) {
        if (!(threshold >= 0 && threshold < 1)) throw new IllegalArgumentException("threshold must be in [0, 1), got " + threshold);
        return postProcess(outputs(rgb), model.labels(), threshold, rgb.width(), rgb.height());
    }

    /**
     * HF's post_process_object_detection for one image of {@code width x height}: softmax over each query's classes,
     * the most probable real class (the last, "no object", left out), kept when its probability is above
     * {@code threshold}; (cx, cy, w, h) to (cx - w/2, cy - h/2, cx + w/2, cy + h/2) times the image size. Best first.
     */
    public static List<Detection> postProcess(Outputs o, String[] labels, double threshold, int width, int height) {
        List<Detection> out = new ArrayList<>();
        int k = o.classes();
        for (int q = 0; q < o.queries(); q++) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int c = 0; c < k; c++) max = Math.max(max, o.logits()[q * k + c]);
            double[] p = new double[k];
            for (int c = 0; c < k; c++) sum += p[c] = Math.exp(o.logits()[q * k + c] - max);
            int best = 0;
            for (int c = 1; c < k - 1; c++) if (p[c] > p[best]) best = c;
            double score = p[best] / sum;
            if (!(score > threshold)) continue;
            double cx = o.boxes()[q * 4], cy = o.boxes()[q * 4 + 1], w = o.boxes()[q * 4 + 2], h = o.boxes()[q * 4 + 3];
            out.add(new Detection(best, best < labels.length ? labels[best] : "LABEL_" + best, score,
                    (cx - 0.5 * w) * width, (cy - 0.5 * h) * height, (cx + 0.5 * w) * width, (cy + 0.5 * h) * height));
        }
        out.sort(Comparator.comparingDouble(Detection::score).reversed());
        return out;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        try {
            model.close();
        } finally {
            arena.close();
        }
    }
}
