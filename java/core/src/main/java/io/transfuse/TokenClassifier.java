package io.transfuse;

import io.transfuse.model.bert.BertHead;
import io.transfuse.tokenizer.hf.Encoding;
import io.transfuse.tokenizer.hf.WordSpans;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A loaded token classifier: a BERT-family {@code *ForTokenClassification} checkpoint (named entities,
 * part of speech), or ELECTRA's discriminator ({@code ElectraForPreTraining}, one "replaced" score per
 * token). The text is cut into words with their character offsets ({@link WordSpans}: white space,
 * punctuation, CJK characters), each word is tokenized, and a word takes the label of its first token
 * (Hugging Face's "first" aggregation). {@link #entities} merges consecutive words into spans: a
 * {@code B-X} word starts an entity X, an {@code I-X} word continues one, {@code O} is outside; labels
 * without the IOB prefix merge while they repeat. Texts longer than the model's maximum length are cut
 * (the words past it get no label). Closing it releases its native memory. Thread-safe.
 */
public final class TokenClassifier implements AutoCloseable {
    private final EncoderRunner runner;

    /** A word (characters [start, end) of the text), its label and that label's score. */
    public record Word(String text, int start, int end, String label, double score) {}

    /** An entity: characters [start, end) of the text, its type (the label without B-/I-), the mean score of its words. */
    public record Entity(String text, int start, int end, String label, double score) {}

    TokenClassifier(EncoderRunner runner) {
        this.runner = runner;
    }

    /** Label names by index. */
    public List<String> labels() { return List.of(runner.head.labels()); }

    /** The architecture, shape and device in a few words. */
    public String describe() { return runner.describe(); }

    /** Every word of {@code text} (up to the model's length) with its label; "O" where a single-logit head scores under 0.5. */
    public List<Word> words(String text) {
        Objects.requireNonNull(text, "text");
        List<WordSpans.Span> spans = WordSpans.split(text);
        List<Integer> ids = new ArrayList<>(), firstToken = new ArrayList<>();
        for (WordSpans.Span s : spans) {
            // A preceding space is part of the next word for byte-level BPE ("Ġword"); WordPiece ignores it.
            String word = (s.afterSpace() ? " " : "") + text.substring(s.start(), s.end());
            firstToken.add(ids.size());
            for (int id : runner.tokenizer.encode(word, false, 0).ids()) ids.add(id);
        }
        Encoding enc = runner.tokenizer.withSpecialTokens(ids.stream().mapToInt(Integer::intValue).toArray(), runner.maxTokens);
        int[] mask = enc.specialTokensMask();
        int offset = 0;
        while (offset < mask.length && mask[offset] == 1) offset++; // the text's first token after [CLS] / <s>
        int kept = enc.length() - runner.tokenizer.withSpecialTokens(new int[0], 0).length();
        BertHead head = runner.head;
        String[] labels = head.labels();
        List<Word> out = new ArrayList<>();
        int first = offset;
        runner.run(new Encoding[] {enc}, (i, hidden, row, len) -> {
            for (int w = 0; w < spans.size(); w++) {
                int t = firstToken.get(w);
                if (t >= kept) break; // truncated away
                if (w + 1 < spans.size() && firstToken.get(w + 1) == t) continue; // a word with no tokens
                double[] p = head.scores(head.logits(hidden, row + first + t));
                int best = 0;
                for (int k = 1; k < p.length; k++) if (p[k] > p[best]) best = k;
                String label = head.sigmoid() && p.length == 1 && p[0] < 0.5 ? "O" : labels[best];
                WordSpans.Span s = spans.get(w);
                out.add(new Word(text.substring(s.start(), s.end()), s.start(), s.end(), label, p.length == 1 && label.equals("O") ? 1 - p[0] : p[best]));
            }
        });
        return out;
    }

    /** The entities of {@code text}, in order. */
    public List<Entity> entities(String text) {
        return merge(text, words(text));
    }

    /** Consecutive words of one entity type merged into spans (IOB/IOBES prefixes read, "O" outside). */
    static List<Entity> merge(String text, List<Word> words) {
        List<Entity> out = new ArrayList<>();
        String type = null;
        int start = 0, end = 0, count = 0;
        double sum = 0;
        for (Word w : words) {
            String label = w.label();
            boolean outside = label.equals("O");
            boolean begins = label.startsWith("B-") || label.startsWith("S-") || label.startsWith("U-");
            String t = outside ? null : (label.length() > 2 && label.charAt(1) == '-' && "BIESLU".indexOf(label.charAt(0)) >= 0) ? label.substring(2) : label;
            if (type != null && (outside || begins || !t.equals(type))) {
                out.add(new Entity(text.substring(start, end), start, end, type, sum / count));
                type = null;
            }
            if (outside) continue;
            if (type == null) {
                type = t;
                start = w.start();
                sum = 0;
                count = 0;
            }
            end = w.end();
            sum += w.score();
            count++;
        }
        if (type != null) out.add(new Entity(text.substring(start, end), start, end, type, sum / count));
        return out;
    }

    /** Native bytes this model holds. */
    public long nativeBytes() { return runner.nativeBytes(); }

    @Override
    public void close() { runner.close(); }
}
