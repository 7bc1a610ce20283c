package io.transfuse;

import io.transfuse.memory.TrackedArena;
import io.transfuse.model.ClassifierGraph;
import io.transfuse.model.vit.ImagePreprocessor;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.stream.IntStream;

/**
 * A loaded image classifier (ViT, DeiT). Closing it releases its native memory. Methods are
 * thread-safe; images are classified one at a time.
 */
public final class ImageClassifier implements AutoCloseable {
    private final TrackedArena arena;
    private final ClassifierGraph model;
    private final ImagePreprocessor preprocessor;
    private boolean closed;

    /** One class and its probability (softmax over the classifier's logits). */
    public record Prediction(int index, String label, double probability) {}

    ImageClassifier(TrackedArena arena, ClassifierGraph model, ImagePreprocessor preprocessor) {
        this.arena = arena;
        this.model = model;
        this.preprocessor = preprocessor;
    }

    /** Class names by index. */
    public List<String> labels() { return List.of(model.labels()); }

    /** The side of the square image the preprocessor makes (its crop or fixed size; 224 where it keeps the input's aspect). */
    public int inputSize() {
        int side = preprocessor.maxOutputSide();
        return side > 0 ? side : 224;
    }

    /** The {@code topK} most probable classes of an image file, most probable first. */
    public List<Prediction> classify(Path image, int topK) {
        Objects.requireNonNull(image, "image");
        return classify(ImagePreprocessor.read(image), topK);
    }

    public List<Prediction> classify(BufferedImage image, int topK) {
        Objects.requireNonNull(image, "image");
        return classify(ImagePreprocessor.Rgb.of(image), topK);
    }

    /** The classifier's raw scores ([labels]) for an image. */
    public float[] logits(BufferedImage image) {
        Objects.requireNonNull(image, "image");
        return logits(ImagePreprocessor.Rgb.of(image));
    }

    private synchronized float[] logits(ImagePreprocessor.Rgb rgb) {
        if (closed) throw new IllegalStateException("the classifier is closed");
        return model.classify(preprocessor.apply(rgb));
    }

    private List<Prediction> classify(ImagePreprocessor.Rgb rgb, int topK) {
        if (topK <= 0) throw new IllegalArgumentException("topK must be positive, got " + topK);
        double[] p = softmax(logits(rgb));
        String[] labels = model.labels();
        return IntStream.range(0, p.length).boxed()
                .sorted(Comparator.comparingDouble((Integer i) -> -p[i]).thenComparingInt(i -> i))
                .limit(topK)
                .map(i -> new Prediction(i, labels[i], p[i]))
                .toList();
    }

    private static double[] softmax(float[] logits) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (float l : logits) max = Math.max(max, l);
        double[] p = new double[logits.length];
        for (int i = 0; i < p.length; i++) sum += p[i] = Math.exp(logits[i] - max);
        for (int i = 0; i < p.length; i++) p[i] /= sum;
        return p;
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
