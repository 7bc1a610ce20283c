package io.transfuse;

import io.transfuse.tokenizer.hf.Encoding;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.stream.IntStream;

/**
 * A loaded text classifier: a BERT-family {@code *ForSequenceClassification} checkpoint (sentiment, topic,
 * natural-language inference on text pairs). Labels come from config.json {@code id2label}; scores are a
 * softmax over the labels, or independent sigmoids for multi-label models and single-logit heads. The head reads the
 * first token's state, or the mean of all of them (ModernBERT's classifier_pooling "mean").
 * Texts are truncated to the model's maximum length. Closing it releases its native memory. Thread-safe:
 * calls run one at a time.
 */
public final class TextClassifier implements AutoCloseable {
    private final EncoderRunner runner;

    /** One label and its score. */
    public record Prediction(String label, int index, double score) {}

    TextClassifier(EncoderRunner runner) {
        this.runner = runner;
    }

    /** Label names by index. */
    public List<String> labels() { return List.of(runner.head.labels()); }

    /** The architecture, shape and device in a few words. */
    public String describe() { return runner.describe(); }

    /** Every label of {@code text} with its score, best first. */
    public List<Prediction> classify(String text) {
        return classify(List.of(Objects.requireNonNull(text, "text"))).get(0);
    }

    /** As {@link #classify(String)} for each text, in order (run in packed batches). */
    public List<List<Prediction>> classify(List<String> texts) {
        Encoding[] enc = new Encoding[texts.size()];
        for (int i = 0; i < enc.length; i++) {
            enc[i] = runner.tokenizer.encode(Objects.requireNonNull(texts.get(i), "text " + i), true, runner.maxTokens);
        }
        return run(enc);
    }

    /** Every label of a pair of texts (premise and hypothesis, question and passage), best first. */
    public List<Prediction> classifyPair(String text, String pair) {
        return run(new Encoding[] {runner.tokenizer.encodePair(Objects.requireNonNull(text, "text"), Objects.requireNonNull(pair, "pair"),
                runner.maxTokens)}).get(0);
    }

    /** The head's raw logits for {@code text} ([labels]). */
    public float[] logits(String text) {
        float[][] out = new float[1][];
        runner.run(new Encoding[] {runner.tokenizer.encode(Objects.requireNonNull(text, "text"), true, runner.maxTokens)},
                (i, hidden, row, len) -> out[0] = runner.head.logits(hidden, row, len));
        return out[0];
    }

    private List<List<Prediction>> run(Encoding[] enc) {
        List<List<Prediction>> out = new ArrayList<>(java.util.Collections.nCopies(enc.length, null));
        String[] labels = runner.head.labels();
        runner.run(enc, (i, hidden, row, len) -> {
            // The head reads the first token's state ([CLS] / <s>), or the mean of the text's rows (ModernBERT's mean pooling).
            double[] p = runner.head.scores(runner.head.logits(hidden, row, len));
            out.set(i, IntStream.range(0, p.length).boxed()
                    .sorted(Comparator.comparingDouble((Integer k) -> -p[k]).thenComparingInt(k -> k))
                    .map(k -> new Prediction(labels[k], k, p[k])).toList());
        });
        return out;
    }

    /** Native bytes this model holds. */
    public long nativeBytes() { return runner.nativeBytes(); }

    @Override
    public void close() { runner.close(); }

    @Override
    public String toString() { return "TextClassifier" + Arrays.toString(runner.head.labels()); }
}
