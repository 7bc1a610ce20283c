package io.transfuse.model;

import io.transfuse.model.vit.ImagePreprocessor;

/**
 * An image classifier's network: a preprocessed image in, class logits out. Preprocessing, softmax and
 * top-k stay in {@link io.transfuse.ImageClassifier}. Not thread-safe.
 */
public interface ClassifierGraph extends AutoCloseable {
    /** Class names, by logit index. */
    String[] labels();

    /** Class logits ([labels]) for one preprocessed image. */
    float[] classify(ImagePreprocessor.Pixels image);

    /** Frees the graph's backend and everything on it. */
    @Override
    void close();
}
