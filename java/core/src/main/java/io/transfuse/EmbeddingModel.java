package io.transfuse;

import io.transfuse.internal.Internals;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.EncoderGraph;
import io.transfuse.model.bert.Pooling;
import io.transfuse.tokenizer.hf.Encoding;
import io.transfuse.tokenizer.hf.HfTokenizer;

import java.util.List;
import java.util.Objects;

/**
 * A loaded text encoder: texts in, one embedding each out. Texts are tokenized with the model's
 * tokenizer.json (special tokens added, truncated to {@link #maxTokens()}), sorted by length and
 * run in batches of up to {@code batchSize}, packed without padding; results come back in input order.
 * Closing it releases all its native memory. Thread-safe: calls run one at a time.
 */
public final class EmbeddingModel implements AutoCloseable {
    static {
        Internals.encoderTokenizerAccessor(m -> m.tokenizer);
    }

    private final EncoderRunner runner; /* the graph, its arena and the packed batches (as the task heads use it) */
    private final HfTokenizer tokenizer;
    private final Pooling pooling;
    private final int maxTokens;

    /**
     * @param model     the transformer stack (CPU or device), closed with this model
     * @param maxTokens tokens per text after truncation (special tokens included), at most the position table's length
     */
    EmbeddingModel(TrackedArena arena, EncoderGraph model, HfTokenizer tokenizer, Pooling pooling, int batchSize, int maxTokens) {
        this.runner = new EncoderRunner(arena, model, tokenizer, null, batchSize, maxTokens);
        this.tokenizer = tokenizer;
        this.pooling = pooling;
        this.maxTokens = maxTokens;
    }

    /**
     * How token states become an embedding (the model's own unless {@link EncoderOptions#pooling()} chose).
     *
     * @return the pooling mode
     */
    public PoolingMode pooling() { return pooling.apiMode(); }

    /**
     * Whether embeddings are L2-normalised (the model's own choice unless {@link EncoderOptions#normalize()} chose).
     *
     * @return true when normalised
     */
    public boolean normalizes() { return pooling.normalize(); }

    /**
     * Tokens of {@code text} with the special tokens the model adds ([CLS], [SEP]), before truncation: more
     * than {@link #maxTokens()} means the text is truncated when embedded.
     *
     * @param text the text
     * @return its token count
     */
    public int countTokens(String text) {
        Objects.requireNonNull(text, "text");
        return tokenizer.encode(text, true, Integer.MAX_VALUE).length();
    }

    /**
     * The architecture, shape and device in a few words.
     *
     * @return a one-line description
     */
    public String describe() { return runner.describe(); }

    /**
     * Length of the embeddings.
     *
     * @return floats per embedding
     */
    public int dimension() { return runner.dimension(); }

    /**
     * Longest token sequence per text; longer texts are truncated.
     *
     * @return tokens per text at most (special tokens included)
     */
    public int maxTokens() { return maxTokens; }

    /**
     * One embedding per text, in order.
     *
     * @param texts the texts (none null)
     * @return {@code texts.size()} embeddings of {@link #dimension()} floats
     */
    public synchronized float[][] embed(List<String> texts) {
        Objects.requireNonNull(texts, "texts");
        int n = texts.size();
        Encoding[] enc = new Encoding[n];
        for (int i = 0; i < n; i++) {
            String text = texts.get(i);
            if (text == null) throw new IllegalArgumentException("text " + i + " is null");
            enc[i] = tokenizer.encode(text, true, maxTokens);
        }
        float[][] out = new float[n][];
        int h = dimension();
        runner.run(enc, (i, hidden, row, len) -> out[i] = pool(hidden, row, len, h));
        return out;
    }

    /**
     * The embedding of one text.
     *
     * @param text the text
     * @return {@link #dimension()} floats
     */
    public float[] embed(String text) {
        Objects.requireNonNull(text, "text");
        return embed(List.of(text))[0];
    }

    /** Pools rows [firstRow, firstRow + len) of the packed hidden state [rows][h]. */
    private float[] pool(float[] hidden, int firstRow, int len, int h) {
        double[] acc = new double[h];
        int rows = pooling.mode() == Pooling.Mode.CLS ? Math.min(1, len) : len;
        for (int i = 0; i < rows; i++) {
            int at = (firstRow + i) * h;
            for (int d = 0; d < h; d++) acc[d] += hidden[at + d];
        }
        double norm = 0;
        for (int d = 0; d < h; d++) {
            if (rows > 0) acc[d] /= rows;
            norm += acc[d] * acc[d];
        }
        double scale = pooling.normalize() && norm > 0 ? 1 / Math.max(Math.sqrt(norm), 1e-12) : 1;
        float[] e = new float[h];
        for (int d = 0; d < h; d++) e[d] = (float) (acc[d] * scale);
        return e;
    }

    /**
     * Native bytes this model holds (weights it copied, workspace; mapped files count too).
     *
     * @return bytes
     */
    public long nativeBytes() { return runner.nativeBytes(); }

    @Override
    public void close() { runner.close(); }
}
