package io.transfuse.model;

import io.transfuse.loader.ModelSource;

/**
 * An entry of the family registry ({@link Families}): one architecture, how to recognise its files and
 * how to build it on a backend. What it builds depends on the task: a decoder ({@link DecoderFamily}),
 * a text encoder ({@link EncoderFamily}), an image classifier ({@link ClassifierFamily}) or an object detector
 * ({@link DetectorFamily}). Adding an
 * architecture means adding its package (config, weights, the one graph, this entry) and one line in
 * {@link Families}.
 */
public sealed interface ModelFamily permits DecoderFamily, EncoderFamily, ClassifierFamily, DetectorFamily {
    /** The architecture's name in messages ("llama", "gpt2", ...). */
    String name();

    /** Whether {@code source} holds a model of this family (from its GGUF architecture, config.json or ONNX graph). */
    boolean recognizes(ModelSource source);

    /** What the family is for, in messages ("text generation", ...). */
    String task();
}
