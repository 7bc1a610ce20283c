package io.transfuse.model.vit;

/**
 * An image classifier's network on some device: a preprocessed image in, class logits out.
 * {@link ViTModel} runs it on the CPU backend; the CUDA module's graph runs the transformer blocks on
 * a GPU (or the host emulator). Preprocessing, softmax and top-k stay in
 * {@link io.transfuse.ImageClassifier}, shared by both. Not thread-safe.
 */
public interface ClassifierGraph extends AutoCloseable {
    ViTConfig config();

    /** Class logits ([labels]) for one preprocessed image. */
    float[] classify(ImagePreprocessor.Pixels image);

    /** Releases the graph's workspace (and device memory); the weights belong to the caller's arena. */
    @Override
    void close();
}
