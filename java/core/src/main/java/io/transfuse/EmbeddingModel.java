package io.transfuse;

import io.transfuse.memory.TrackedArena;
import io.transfuse.model.bert.BertConfig;
import io.transfuse.model.bert.EncoderGraph;
import io.transfuse.model.bert.Pooling;
import io.transfuse.tokenizer.hf.Encoding;
import io.transfuse.tokenizer.hf.HfTokenizer;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Comparator;
import java.util.List;

/**
 * A loaded text encoder: texts in, one embedding each out. Texts are tokenized with the model's
 * tokenizer.json (special tokens added, truncated to {@link #maxTokens()}), sorted by length and
 * run in padded batches of up to {@code batchSize}; results come back in input order. Closing it
 * releases all its native memory. Thread-safe: calls run one at a time.
 */
public final class EmbeddingModel implements AutoCloseable {
    private final TrackedArena arena;
    private final EncoderGraph model;
    private final HfTokenizer tokenizer;
    private final Pooling pooling;
    private final int batchSize;
    private final int maxTokens;
    private boolean closed;

    /**
     * @param model     the transformer stack (CPU or device), closed with this model
     * @param maxTokens tokens per text after truncation (special tokens included), at most the position table's length
     */
    public EmbeddingModel(TrackedArena arena, EncoderGraph model, HfTokenizer tokenizer, Pooling pooling, int batchSize, int maxTokens) {
        if (maxTokens < 1 || maxTokens > model.config().maxSequence()) {
            throw new IllegalArgumentException("maxTokens must be in [1, " + model.config().maxSequence() + "], got " + maxTokens);
        }
        this.arena = arena;
        this.model = model;
        this.tokenizer = tokenizer;
        this.pooling = pooling;
        this.batchSize = batchSize;
        this.maxTokens = maxTokens;
    }

    public BertConfig config() { return model.config(); }

    public Pooling pooling() { return pooling; }

    public HfTokenizer tokenizer() { return tokenizer; }

    /** Length of the embeddings. */
    public int dimension() { return model.config().hidden(); }

    /** Longest token sequence per text; longer texts are truncated. */
    public int maxTokens() { return maxTokens; }

    /** One embedding per text, in order. */
    public synchronized float[][] embed(List<String> texts) {
        if (closed) throw new IllegalStateException("this model was closed");
        int n = texts.size();
        Encoding[] enc = new Encoding[n];
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            String text = texts.get(i);
            if (text == null) throw new IllegalArgumentException("text " + i + " is null");
            enc[i] = tokenizer.encode(text, true, maxTokens);
            order[i] = i;
        }
        // Longest first: each batch pads to its first text's length.
        java.util.Arrays.sort(order, Comparator.comparingInt((Integer i) -> enc[i].length()).reversed());
        float[][] out = new float[n][];
        int h = dimension();
        float[] row = new float[h];
        for (int start = 0; start < n; ) {
            int seqLen = Math.max(1, enc[order[start]].length());
            int count = Math.min(batchSize, Math.min(n - start, model.maxTokens() / seqLen));
            int[][] ids = new int[count][], types = new int[count][];
            for (int b = 0; b < count; b++) {
                ids[b] = enc[order[start + b]].ids();
                types[b] = enc[order[start + b]].typeIds();
            }
            MemorySegment hidden = model.forward(ids, types, seqLen);
            for (int b = 0; b < count; b++) {
                out[order[start + b]] = pool(hidden, (long) b * seqLen, ids[b].length, h, row);
            }
            start += count;
        }
        return out;
    }

    public float[] embed(String text) {
        return embed(List.of(text))[0];
    }

    private float[] pool(MemorySegment hidden, long firstRow, int len, int h, float[] row) {
        double[] acc = new double[h];
        int rows = pooling.mode() == Pooling.Mode.CLS ? Math.min(1, len) : len;
        for (int i = 0; i < rows; i++) {
            MemorySegment.copy(hidden, ValueLayout.JAVA_FLOAT, (firstRow + i) * h * 4, row, 0, h);
            for (int d = 0; d < h; d++) acc[d] += row[d];
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

    /** Native bytes this model holds (weights it copied, workspace; mapped files count too). */
    public long nativeBytes() { return arena.bytes(); }

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
