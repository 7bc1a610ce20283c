package io.transfuse.model;

import io.transfuse.model.vit.ImagePreprocessor;

/**
 * An object detector's network: a preprocessed image in, per object query the class logits and a box out.
 * Post-processing (softmax, threshold, boxes in image pixels) stays in {@link io.transfuse.ObjectDetector}.
 * Not thread-safe.
 */
public interface DetectorGraph extends AutoCloseable {
    /** Class names by id; the class head has one more output, "no object", last. */
    String[] labels();

    /** The raw outputs for one preprocessed image. */
    Outputs detect(ImagePreprocessor.Pixels image);

    /** Frees the graph's backend and everything on it. */
    @Override
    void close();

    /**
     * Per query q: {@code logits[q * classes + c]} (classes = labels + 1, "no object" last) and
     * {@code boxes[q * 4 ..]} = centre x, centre y, width, height relative to the image (0..1, after the sigmoid).
     */
    record Outputs(float[] logits, float[] boxes, int queries, int classes) {}
}
