package io.transfuse.cli;

import io.transfuse.Device;
import io.transfuse.LoadOptions;
import io.transfuse.Reranker;
import io.transfuse.TextClassifier;
import io.transfuse.TokenClassifier;
import io.transfuse.Transfuse;
import io.transfuse.model.bert.RandomEncoder;
import io.transfuse.model.bert.RandomEncoder.Variant;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import static io.transfuse.cli.MainTest.assertOneLineError;
import static io.transfuse.cli.MainTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * `transfuse classify` on text and token classifiers and `transfuse rerank` print what the API returns
 * (TextClassifier, TokenClassifier, Reranker; those are checked against the plain reference in core), on
 * random-weight BERT-variant checkpoints; a wrong head is a one-line error.
 */
class TextTasksCommandTest {
    @TempDir Path tmp;

    static final LoadOptions CPU = LoadOptions.defaults().withDevice(Device.CPU);

    @Test
    void classifyPrintsTheTopLabelsOfEachText() {
        Path dir = new RandomEncoder(Variant.DISTILBERT, 32, 2, 4, 64, 40, 32, 2, "gelu")
                .withHead("SequenceClassification", "NEGATIVE", "POSITIVE", "NEUTRAL").write(tmp.resolve("sst"), 1, DType.F32);
        List<String> texts = List.of("I loved this film", "Terrible.");
        MainTest.Run r = run("classify", "--model", dir.toString(), "--device", "cpu", "--top", "2", texts.get(0), texts.get(1));
        assertEquals(0, r.code(), r.err());
        StringBuilder want = new StringBuilder();
        try (TextClassifier clf = Transfuse.loadTextClassifier(dir, CPU)) {
            for (String t : texts) {
                want.append(t).append('\n');
                for (TextClassifier.Prediction p : clf.classify(t).subList(0, 2)) want.append(String.format(Locale.ROOT, "  %6.2f%%  %s%n", 100 * p.score(), p.label()));
            }
        }
        assertEquals(want.toString(), r.out());
    }

    @Test
    void classifyPrintsEntitiesOfATokenClassifier() {
        Path dir = new RandomEncoder(Variant.BERT, 32, 2, 4, 64, 40, 32, 2, "gelu")
                .withHead("TokenClassification", "O", "B-PER", "I-PER", "B-LOC", "I-LOC").write(tmp.resolve("ner"), 2, DType.F32);
        String text = "Angela Merkel visited Paris and New York.";
        MainTest.Run r = run("classify", "--model", dir.toString(), "--device", "cpu", text);
        assertEquals(0, r.code(), r.err());
        StringBuilder want = new StringBuilder(text + "\n");
        try (TokenClassifier clf = Transfuse.loadTokenClassifier(dir, CPU)) {
            for (TokenClassifier.Entity e : clf.entities(text)) {
                want.append(String.format(Locale.ROOT, "  %-8s %4d-%-4d %6.2f%%  %s%n", e.label(), e.start(), e.end(), 100 * e.score(), e.text()));
            }
        }
        assertEquals(want.toString(), r.out());
    }

    @Test
    void rerankPrintsDocumentsBestFirst() {
        Path dir = new RandomEncoder(Variant.XLM_ROBERTA, 32, 2, 2, 64, 50, 32, 2, "gelu")
                .withHead("SequenceClassification", "LABEL_0").write(tmp.resolve("reranker"), 3, DType.F32);
        List<String> docs = List.of("Paris is the capital of France.", "Bananas are yellow.", "France's capital city is Paris.");
        MainTest.Run r = run("rerank", "--model", dir.toString(), "--device", "cpu", "capital of France?", docs.get(0), docs.get(1), docs.get(2));
        assertEquals(0, r.code(), r.err());
        StringBuilder want = new StringBuilder();
        try (Reranker rr = Transfuse.loadReranker(dir, CPU)) {
            for (Reranker.Result x : rr.rank("capital of France?", docs)) {
                want.append(String.format(Locale.ROOT, "%10.4f  %d  %s%n", x.score(), x.index(), x.document()));
            }
        }
        assertEquals(want.toString(), r.out());
        assertEquals(3, r.out().lines().count());
    }

    @Test
    void rerankWithAClassifierOfSeveralLabelsIsOneLine() {
        Path dir = new RandomEncoder(Variant.BERT, 32, 1, 4, 64, 40, 32, 2, "gelu")
                .withHead("SequenceClassification", "A", "B").write(tmp.resolve("two"), 4, DType.F32);
        assertOneLineError(run("rerank", "--model", dir.toString(), "--device", "cpu", "q", "d"), 1, "2 labels", "loadTextClassifier");
    }
}
