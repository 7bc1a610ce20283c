package io.transfuse.cli;

import io.transfuse.Device;
import io.transfuse.LoadOptions;
import io.transfuse.Reranker;
import io.transfuse.TextClassifier;
import io.transfuse.TokenClassifier;
import io.transfuse.Transfuse;
import io.transfuse.model.bert.BertVariantFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import static io.transfuse.cli.MainTest.assertOneLineError;
import static io.transfuse.cli.MainTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * `transfuse classify` (task from config.json) and `transfuse rerank` on the MobileBERT, ModernBERT, nomic-bert and JinaBERT head
 * fixtures print what the API returns (checked against PyTorch in core's VariantHeadFixturesTest).
 */
class VariantHeadCommandTest {
    @TempDir Path tmp;

    static final LoadOptions CPU = LoadOptions.defaults().withDevice(Device.CPU);

    @Test
    void classifyPrintsTheTopLabelsOfModernBertAndMobileBert() {
        for (String name : List.of("modernbert-mean-multilabel", "mobilebert-classify")) {
            Path dir = BertVariantFixtures.unpack(name, tmp.resolve(name));
            List<String> texts = List.of("the cat was in the house", "he is at the door");
            MainTest.Run r = run("classify", "--model", dir.toString(), "--device", "cpu", "--top", "2", texts.get(0), texts.get(1));
            assertEquals(0, r.code(), r.err());
            StringBuilder want = new StringBuilder();
            try (TextClassifier clf = Transfuse.loadTextClassifier(dir, CPU)) {
                for (String t : texts) {
                    want.append(t).append('\n');
                    for (TextClassifier.Prediction p : clf.classify(t).subList(0, 2)) want.append(String.format(Locale.ROOT, "  %6.2f%%  %s%n", 100 * p.score(), p.label()));
                }
            }
            assertEquals(want.toString(), r.out(), name);
        }
    }

    @Test
    void classifyPrintsEntitiesOfJinaAndModernBertTokenClassifiers() {
        for (String name : List.of("jina-ner", "modernbert-ner")) {
            Path dir = BertVariantFixtures.unpack(name, tmp.resolve(name));
            String text = "the cat was in the house, he is at the door";
            MainTest.Run r = run("classify", "--model", dir.toString(), "--device", "cpu", text);
            assertEquals(0, r.code(), r.err());
            StringBuilder want = new StringBuilder(text + "\n");
            try (TokenClassifier clf = Transfuse.loadTokenClassifier(dir, CPU)) {
                for (TokenClassifier.Entity e : clf.entities(text)) {
                    want.append(String.format(Locale.ROOT, "  %-8s %4d-%-4d %6.2f%%  %s%n", e.label(), e.start(), e.end(), 100 * e.score(), e.text()));
                }
            }
            assertEquals(want.toString(), r.out(), name);
        }
    }

    @Test
    void rerankPrintsDocumentsBestFirst() {
        for (String name : List.of("modernbert-rerank", "jina-rerank")) {
            Path dir = BertVariantFixtures.unpack(name, tmp.resolve(name));
            List<String> docs = List.of("the cat was in the house", "he is at the door", "the world");
            MainTest.Run r = run("rerank", "--model", dir.toString(), "--device", "cpu", "where is the cat?", docs.get(0), docs.get(1), docs.get(2));
            assertEquals(0, r.code(), r.err());
            StringBuilder want = new StringBuilder();
            try (Reranker rr = Transfuse.loadReranker(dir, CPU)) {
                for (Reranker.Result x : rr.rank("where is the cat?", docs)) {
                    want.append(String.format(Locale.ROOT, "%10.4f  %d  %s%n", x.score(), x.index(), x.document()));
                }
            }
            assertEquals(want.toString(), r.out(), name);
        }
    }

    @Test
    void rerankWithAMultiLabelHeadIsOneLine() {
        Path dir = BertVariantFixtures.unpack("modernbert-mean-multilabel", tmp.resolve("three"));
        assertOneLineError(run("rerank", "--model", dir.toString(), "--device", "cpu", "q", "d"), 1, "3 labels", "loadTextClassifier");
    }
}
