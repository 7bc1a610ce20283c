package io.transfuse;

import io.transfuse.memory.TrackedArena;
import io.transfuse.model.EncoderGraph;
import io.transfuse.model.bert.BertHead;
import io.transfuse.tokenizer.hf.Encoding;
import io.transfuse.tokenizer.hf.HfTokenizer;

import java.util.Arrays;
import java.util.Comparator;

/**
 * What {@link EmbeddingModel}, {@link TextClassifier}, {@link TokenClassifier} and {@link Reranker} share: an encoder graph with
 * its tokenizer and task head (none for embeddings), run over tokenized texts in packed batches (longest first, so each batch
 * holds texts of similar lengths), each text's rows of the last hidden state handed to a sink. Owns the
 * graph and the model's arena. Calls run one at a time.
 */
final class EncoderRunner implements AutoCloseable {
    /** Receives text {@code index}'s hidden state: rows [firstRow, firstRow + length) of {@code hidden} ([rows][dim]). */
    interface Sink {
        void accept(int index, float[] hidden, int firstRow, int length);
    }

    private final TrackedArena arena;
    private final EncoderGraph graph;
    final HfTokenizer tokenizer;
    final BertHead head;
    final int maxTokens;
    private final int batchSize;
    private boolean closed;

    EncoderRunner(TrackedArena arena, EncoderGraph graph, HfTokenizer tokenizer, BertHead head, int batchSize, int maxTokens) {
        if (maxTokens < 1 || maxTokens > graph.maxSequenceLength()) {
            throw new IllegalArgumentException("maxTokens must be in [1, " + graph.maxSequenceLength() + "], got " + maxTokens);
        }
        this.arena = arena;
        this.graph = graph;
        this.tokenizer = tokenizer;
        this.head = head;
        this.batchSize = batchSize;
        this.maxTokens = maxTokens;
    }

    String describe() { return graph.describe(); }

    int dimension() { return graph.dimension(); }

    synchronized void run(Encoding[] enc, Sink sink) {
        if (closed) throw new IllegalStateException("this model was closed");
        int n = enc.length;
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Arrays.sort(order, Comparator.comparingInt((Integer i) -> enc[i].length()).reversed());
        for (int start = 0; start < n; ) {
            int count = 0, tokens = 0;
            while (start + count < n && count < Math.min(batchSize, graph.maxBatchSequences())
                    && tokens + Math.max(1, enc[order[start + count]].length()) <= graph.maxBatchTokens()) {
                tokens += Math.max(1, enc[order[start + count]].length());
                count++;
            }
            int[][] ids = new int[count][], types = new int[count][];
            for (int b = 0; b < count; b++) {
                ids[b] = enc[order[start + b]].ids();
                types[b] = enc[order[start + b]].typeIds();
            }
            float[] hidden = graph.forward(ids, types);
            int row = 0;
            for (int b = 0; b < count; b++) {
                sink.accept(order[start + b], hidden, row, ids[b].length);
                row += Math.max(1, ids[b].length);
            }
            start += count;
        }
    }

    /** Native bytes the model holds. */
    long nativeBytes() { return arena.bytes(); }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        try {
            graph.close();
        } finally {
            arena.close();
        }
    }
}
