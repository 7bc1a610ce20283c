package io.transfuse;

import io.transfuse.tokenizer.hf.Encoding;

import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.stream.IntStream;

/**
 * A loaded cross-encoder reranker (ms-marco MiniLM, bge-reranker: a BERT-family
 * {@code *ForSequenceClassification} with one output): each (query, document) pair is encoded together as
 * the tokenizer's pair template says ({@code [CLS] query [SEP] document [SEP]}) and scored by the head's
 * logit; higher is more relevant. Pairs are truncated to the model's maximum length, the longer text
 * first. Closing it releases its native memory. Thread-safe: calls run one at a time.
 */
public final class Reranker implements AutoCloseable {
    private final EncoderRunner runner;

    /** A document's index in the input, the document and its score (the raw logit). */
    public record Result(int index, String document, double score) {}

    Reranker(EncoderRunner runner) {
        this.runner = runner;
    }

    /** The architecture, shape and device in a few words. */
    public String describe() { return runner.describe(); }

    /** The score of each document for {@code query}, in input order (run in packed batches). */
    public float[] scores(String query, List<String> documents) {
        Objects.requireNonNull(query, "query");
        Encoding[] enc = new Encoding[documents.size()];
        for (int i = 0; i < enc.length; i++) {
            enc[i] = runner.tokenizer.encodePair(query, Objects.requireNonNull(documents.get(i), "document " + i), runner.maxTokens);
        }
        float[] scores = new float[enc.length];
        runner.run(enc, (i, hidden, row, len) -> scores[i] = runner.head.logits(hidden, row, len)[0]);
        return scores;
    }

    /** The documents sorted by score, most relevant first (ties in input order). */
    public List<Result> rank(String query, List<String> documents) {
        float[] s = scores(query, documents);
        return IntStream.range(0, s.length).boxed()
                .sorted(Comparator.comparingDouble((Integer i) -> -s[i]).thenComparingInt(i -> i))
                .map(i -> new Result(i, documents.get(i), s[i])).toList();
    }

    /** Native bytes this model holds. */
    public long nativeBytes() { return runner.nativeBytes(); }

    @Override
    public void close() { runner.close(); }
}
