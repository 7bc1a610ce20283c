package io.transfuse;

/**
 * How an encoder turns texts into embeddings.
 *
 * @param pooling   pooling mode, or null for the model's own (sentence-transformers config, else mean)
 * @param normalize L2 normalisation on/off, or null for the model's own
 * @param batchSize texts per forward pass (texts are sorted by length first, so batches pad little)
 */
public record EncoderOptions(PoolingMode pooling, Boolean normalize, int batchSize) {
    public EncoderOptions {
        if (batchSize < 1) throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
    }

    /**
     * The model's own pooling and normalisation, 32 texts per batch.
     *
     * @return the defaults
     */
    public static EncoderOptions defaults() {
        return new EncoderOptions(null, null, 32);
    }

    /**
     * These options with another pooling mode.
     *
     * @param p the mode (null: the model's own)
     * @return new options
     */
    public EncoderOptions withPooling(PoolingMode p) { return new EncoderOptions(p, normalize, batchSize); }

    /**
     * These options with normalisation on or off.
     *
     * @param n on or off (null: the model's own)
     * @return new options
     */
    public EncoderOptions withNormalize(Boolean n) { return new EncoderOptions(pooling, n, batchSize); }

    /**
     * These options with another batch size.
     *
     * @param n texts per forward pass (at least 1)
     * @return new options
     */
    public EncoderOptions withBatchSize(int n) { return new EncoderOptions(pooling, normalize, n); }
}
