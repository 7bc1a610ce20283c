package io.transfuse;

import io.transfuse.model.bert.Pooling;

/**
 * How an encoder turns texts into embeddings.
 *
 * @param pooling   pooling mode, or null for the model's own (sentence-transformers config, else mean)
 * @param normalize L2 normalisation on/off, or null for the model's own
 * @param batchSize texts per forward pass (texts are sorted by length first, so batches pad little)
 */
public record EncoderOptions(Pooling.Mode pooling, Boolean normalize, int batchSize) {
    public EncoderOptions {
        if (batchSize < 1) throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
    }

    public static EncoderOptions defaults() {
        return new EncoderOptions(null, null, 32);
    }

    public EncoderOptions withPooling(Pooling.Mode p) { return new EncoderOptions(p, normalize, batchSize); }

    public EncoderOptions withNormalize(Boolean n) { return new EncoderOptions(pooling, n, batchSize); }

    public EncoderOptions withBatchSize(int n) { return new EncoderOptions(pooling, normalize, n); }

    /** The pooling to use given the model's own. */
    public Pooling resolve(Pooling model) {
        return new Pooling(pooling != null ? pooling : model.mode(), normalize != null ? normalize : model.normalize());
    }
}
