package io.transfuse.model.bert;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.transfuse.Device;
import io.transfuse.EncoderOptions;
import io.transfuse.LoadOptions;
import io.transfuse.Reranker;
import io.transfuse.TextClassifier;
import io.transfuse.TokenClassifier;
import io.transfuse.Transfuse;
import io.transfuse.backend.Backends;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.ModelSource;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tokenizer.hf.Encoding;
import io.transfuse.tokenizer.hf.HfTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The task heads of MobileBERT (pooler + classifier; token classifier on the "layer_norm" teacher variant), ModernBERT
 * (ModernBertPredictionHead with mean and CLS pooling, multi-label, a one-logit reranker, token classification), nomic-bert
 * and JinaBERT v2 (pooler + classifier, a jina-reranker-v1 style one-logit head, token classification) on the CPU backend
 * against the PyTorch reference of {@link VariantHeadFixtures}, then through the task APIs.
 *
 * <p>Tolerance: float32 against float64 through 2-4 layers and the head: 1e-3 of max(1, |logit|). Mean pooling read as CLS,
 * a missing tanh, GELU for SiLU, the head's LayerNorm without its shift or a LayerNorm epsilon in the wrong place (the
 * teacher fixture's layer_norm_eps is 0.05) move logits by 0.1 to 2 (checked on the PyTorch reference); measured worst 7e-6.
 */
class VariantHeadFixturesTest {
    static final LoadOptions CPU = LoadOptions.defaults().withDevice(Device.CPU);
    static final List<String> TEXTS = List.of("the cat was in the house", "Hello, world! 12345", "", "he is at the door of the house of the world");

    @TempDir Path tmp;

    @Test
    void everyHeadMatchesThePyTorchReferenceBatchedAndAlone() {
        long before = TrackedArena.bytesInUse();
        for (String name : VariantHeadFixtures.NAMES) {
            double worst = VariantHeadFixtures.check(name, BertVariantFixtures.unpack(name, tmp.resolve(name)), Device.CPU, 1e-3);
            System.out.println("[bertx heads] cpu " + name + ": worst scaled |error| " + worst);
        }
        assertEquals(before, TrackedArena.bytesInUse(), "host memory returns after close");
    }

    @Test
    void textClassifiersScoreAsTheirHeadsSay() {
        for (String name : List.of("mobilebert-classify", "nomic-classify", "modernbert-mean-multilabel")) {
            Path dir = BertVariantFixtures.unpack(name, tmp.resolve("api-" + name));
            try (TextClassifier clf = Transfuse.loadTextClassifier(dir, CPU)) {
                boolean multi = name.contains("multilabel");
                List<List<TextClassifier.Prediction>> batch = clf.classify(TEXTS);
                for (int i = 0; i < TEXTS.size(); i++) {
                    float[] logits = clf.logits(TEXTS.get(i));
                    List<TextClassifier.Prediction> alone = clf.classify(TEXTS.get(i));
                    double sum = 0, max = Double.NEGATIVE_INFINITY;
                    for (float l : logits) max = Math.max(max, l);
                    for (float l : logits) sum += Math.exp(l - max);
                    for (int k = 0; k < logits.length; k++) {
                        TextClassifier.Prediction p = alone.get(k);
                        double want = multi ? 1 / (1 + Math.exp(-logits[p.index()])) : Math.exp(logits[p.index()] - max) / sum;
                        assertEquals(want, p.score(), 1e-6, name + " text " + i + " label " + p.label() + (multi ? " (sigmoid)" : " (softmax)"));
                        assertEquals(p.score(), batch.get(i).get(k).score(), 1e-5, name + " text " + i + ": batched vs alone");
                        if (k > 0) assertTrue(alone.get(k - 1).score() >= p.score(), "best first");
                    }
                }
                assertTrue(clf.describe().contains("on cpu"), clf.describe());
            }
        }
        // The API pools as the head says: ModernBERT's mean over every row of the text, not its first row.
        Path dir = tmp.resolve("api-modernbert-mean-multilabel");
        String text = TEXTS.get(3);
        float[] got;
        try (TextClassifier clf = Transfuse.loadTextClassifier(dir, CPU)) {
            got = clf.logits(text);
        }
        try (TrackedArena arena = new TrackedArena("mean pooling")) {
            ModelSource source = ModelSource.open(dir, arena);
            BertFamily family = new BertFamily();
            BertHead head = family.head(source);
            assertEquals(BertHead.Pool.MEAN, head.pool());
            Encoding e = HfTokenizer.load(dir.resolve("tokenizer.json")).encode(text, true, 128);
            try (var graph = family.load(source, Backends.open(Device.CPU, CPU), CPU, EncoderOptions.defaults()).graph()) {
                float[] hidden = graph.forward(new int[][] {e.ids()}, null);
                float[] mean = head.logits(hidden, 0, e.length()), first = head.logits(hidden, 0);
                for (int k = 0; k < got.length; k++) assertEquals(mean[k], got[k], 1e-6, "logit " + k);
                assertNotEquals(first[0], got[0], 1e-3, "the first row alone gives other logits");
            }
        }
    }

    @Test
    void rerankersRankByTheirOneLogit() {
        List<String> docs = List.of("the cat was in the house", "he is at the door", "", "the world is in the house of the cat");
        for (String name : List.of("modernbert-rerank", "jina-rerank")) {
            Path dir = BertVariantFixtures.unpack(name, tmp.resolve("rerank-" + name));
            try (Reranker r = Transfuse.loadReranker(dir, CPU)) {
                float[] scores = r.scores("where is the cat?", docs);
                for (int i = 0; i < docs.size(); i++) {
                    assertEquals(r.scores("where is the cat?", List.of(docs.get(i)))[0], scores[i], 1e-5, name + " document " + i + ": batched vs alone");
                }
                List<Reranker.Result> ranked = r.rank("where is the cat?", docs);
                for (int i = 1; i < ranked.size(); i++) assertTrue(ranked.get(i - 1).score() >= ranked.get(i).score(), name + ": best first");
                assertEquals(scores[ranked.get(0).index()], ranked.get(0).score(), 1e-6);
            }
        }
    }

    @Test
    void tokenClassifiersLabelEveryWord() {
        List<String> ner = List.of("O", "B-PER", "I-PER", "B-LOC", "I-LOC");
        String text = "the cat was in the house, he is at the door";
        for (String name : List.of("modernbert-ner", "jina-ner", "mobilebert-ln-ner")) {
            Path dir = BertVariantFixtures.unpack(name, tmp.resolve("ner-" + name));
            try (TokenClassifier t = Transfuse.loadTokenClassifier(dir, CPU)) {
                assertEquals(ner, t.labels());
                List<TokenClassifier.Word> words = t.words(text);
                assertEquals(12, words.size(), name + ": one label per word and punctuation mark");
                for (TokenClassifier.Word w : words) {
                    assertTrue(ner.contains(w.label()) && w.score() > 0.2 && w.score() <= 1, name + " " + w);
                    assertEquals(w.text(), text.substring(w.start(), w.end()));
                }
                for (TokenClassifier.Entity e : t.entities(text)) assertEquals(e.text(), text.substring(e.start(), e.end()));
            }
        }
    }

    @Test
    void badInputNamesTheFault() throws IOException {
        // A head tensor missing from the checkpoint.
        Path noBias = BertVariantFixtures.unpack("modernbert-rerank", tmp.resolve("no-bias"));
        rename(noBias, "classifier.bias", "classifier.bia_");
        var e = assertThrows(ModelFormatException.class, () -> Transfuse.loadReranker(noBias, CPU).close());
        assertTrue(e.getMessage().contains("tensor 'classifier.bias' is missing") && e.getMessage().contains("no-bias"), e.getMessage());
        Path noPooler = BertVariantFixtures.unpack("mobilebert-classify", tmp.resolve("no-pooler"));
        rename(noPooler, "mobilebert.pooler.dense.weight", "mobilebert.pooler.dense.weigh_");
        e = assertThrows(ModelFormatException.class, () -> Transfuse.loadTextClassifier(noPooler, CPU).close());
        assertTrue(e.getMessage().contains("tensor 'mobilebert.pooler.dense.weight' is missing"), e.getMessage());

        // id2label naming fewer labels than the classifier has outputs.
        Path fewer = config("nomic-classify", "fewer", c -> ((ObjectNode) c.get("id2label")).remove("1"));
        e = assertThrows(ModelFormatException.class, () -> Transfuse.loadTextClassifier(fewer, CPU).close());
        assertTrue(e.getMessage().contains("id2label has 1 labels but the classifier has 2 outputs") && e.getMessage().contains("config.json"), e.getMessage());

        Path count = config("jina-ner", "count", c -> c.put("num_labels", 9));
        e = assertThrows(ModelFormatException.class, () -> Transfuse.loadTokenClassifier(count, CPU).close());
        assertTrue(e.getMessage().contains("num_labels is 9 but the classifier has 5 outputs"), e.getMessage());

        Path pooling = config("modernbert-rerank", "pooling", c -> c.put("classifier_pooling", "max"));
        e = assertThrows(ModelFormatException.class, () -> Transfuse.loadReranker(pooling, CPU).close());
        assertTrue(e.getMessage().contains("classifier_pooling 'max' is not supported (cls, mean)"), e.getMessage());

        Path act = config("modernbert-ner", "act", c -> c.put("classifier_activation", "mish"));
        e = assertThrows(ModelFormatException.class, () -> Transfuse.loadTokenClassifier(act, CPU).close());
        assertTrue(e.getMessage().contains("classifier_activation 'mish' is not supported"), e.getMessage());

        Path mlm = config("modernbert-rerank", "mlm", c -> c.putArray("architectures").add("ModernBertForMaskedLM"));
        e = assertThrows(ModelFormatException.class, () -> Transfuse.loadTextClassifier(mlm, CPU).close());
        assertTrue(e.getMessage().contains("architectures 'ModernBertForMaskedLM' has no classification head"), e.getMessage());

        Path three = BertVariantFixtures.unpack("modernbert-mean-multilabel", tmp.resolve("three"));
        e = assertThrows(ModelFormatException.class, () -> Transfuse.loadReranker(three, CPU).close());
        assertTrue(e.getMessage().contains("a reranker has 1 output, this head has 3 labels"), e.getMessage());
        Path tokens = BertVariantFixtures.unpack("jina-ner", tmp.resolve("tokens"));
        e = assertThrows(ModelFormatException.class, () -> Transfuse.loadTextClassifier(tokens, CPU).close());
        assertTrue(e.getMessage().contains("load it with Transfuse.loadTokenClassifier"), e.getMessage());

        Path norm = config("mobilebert-ln-ner", "norm", c -> c.put("normalization_type", "batch_norm"));
        e = assertThrows(ModelFormatException.class, () -> Transfuse.loadTokenClassifier(norm, CPU).close());
        assertTrue(e.getMessage().contains("normalization_type 'batch_norm' is not supported"), e.getMessage());
        for (String msg : List.of(e.getMessage())) assertTrue(msg.lines().count() == 1, msg);
    }

    /** Fixture {@code name} unpacked into tmp/{@code dir} with its config.json edited by {@code edit}. */
    private Path config(String name, String dir, Consumer<ObjectNode> edit) throws IOException {
        Path d = BertVariantFixtures.unpack(name, tmp.resolve(dir));
        ObjectMapper m = new ObjectMapper();
        ObjectNode c = (ObjectNode) m.readTree(d.resolve("config.json").toFile());
        edit.accept(c);
        m.writeValue(d.resolve("config.json").toFile(), c);
        return d;
    }

    /** Renames a tensor in the safetensors header (same length, so the offsets stay valid). */
    private static void rename(Path dir, String from, String to) throws IOException {
        Path st = dir.resolve("model.safetensors");
        String all = new String(Files.readAllBytes(st), StandardCharsets.ISO_8859_1).replace("\"" + from + "\"", "\"" + to + "\"");
        Files.write(st, all.getBytes(StandardCharsets.ISO_8859_1));
    }
}
