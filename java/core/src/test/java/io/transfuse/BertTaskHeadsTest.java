package io.transfuse;

import io.transfuse.loader.ModelFormatException;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.bert.RandomEncoder;
import io.transfuse.model.bert.RandomEncoder.Variant;
import io.transfuse.model.bert.VariantReference;
import io.transfuse.tensor.DType;
import io.transfuse.tokenizer.hf.Encoding;
import io.transfuse.tokenizer.hf.HfTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The task heads (sequence classification, token classification with word spans, ELECTRA's discriminator,
 * cross-encoder reranking) of every BERT variant on the CPU backend, against {@link VariantReference}
 * (plain double-precision Java following the Hugging Face modeling code) on random-weight checkpoints
 * written by {@link RandomEncoder}.
 *
 * <p>Tolerance: float32 activations through two or three post-LN layers give hidden states within about
 * 1e-5 of the double reference; the heads' logits (O(1)) are compared to 1e-3 absolute, far under the
 * differences a wrong head layer, activation or token would make (O(0.1) and more).
 */
class BertTaskHeadsTest {
    static final List<String> TEXTS = List.of(
            "Hello world",
            "The quick brown fox jumps over the lazy dog.",
            "Angela Merkel visited Paris, then New York — naïve café talk 你好.",
            "a",
            "word ".repeat(60) + "this long text is truncated");

    @TempDir Path tmp;

    static RandomEncoder model(Variant v) {
        return switch (v) {
            case BERT -> new RandomEncoder(v, 32, 2, 4, 64, 40, 32, 2, "gelu");
            case ROBERTA -> new RandomEncoder(v, 32, 2, 2, 64, 50, 32, 2, "gelu");
            case XLM_ROBERTA -> new RandomEncoder(v, 48, 2, 3, 96, 50, 48, 2, "gelu");
            case DISTILBERT -> new RandomEncoder(v, 32, 2, 4, 64, 40, 32, 2, "gelu");
            case ALBERT -> new RandomEncoder(v, 32, 3, 4, 64, 40, 16, 1, "gelu_new");
            case ELECTRA -> new RandomEncoder(v, 48, 2, 3, 96, 40, 16, 2, "gelu");
        };
    }

    static final String[] SENTIMENT = {"NEGATIVE", "POSITIVE", "NEUTRAL"};
    static final String[] NER = {"O", "B-PER", "I-PER", "B-LOC", "I-LOC"};

    @Test
    void sequenceClassificationMatchesReferenceForEveryVariant() {
        for (Variant v : Variant.values()) {
            RandomEncoder m = model(v).withHead("SequenceClassification", SENTIMENT);
            Path dir = m.write(tmp.resolve(v.name()), 11 + v.ordinal(), v.ordinal() % 2 == 0 ? DType.F32 : DType.F16);
            VariantReference ref = new VariantReference(m);
            long before = TrackedArena.bytesInUse();
            try (TextClassifier clf = Transfuse.loadTextClassifier(dir, LoadOptions.defaults().withDevice(Device.CPU))) {
                assertEquals(List.of(SENTIMENT), clf.labels());
                HfTokenizer tok = HfTokenizer.load(dir.resolve("tokenizer.json"));
                List<List<TextClassifier.Prediction>> batch = clf.classify(TEXTS);
                for (int i = 0; i < TEXTS.size(); i++) {
                    Encoding e = tok.encode(TEXTS.get(i), true, m.maxPositions - m.positionOffset);
                    double[] want = ref.sequenceLogits(ref.hiddenStates(e.ids(), e.typeIds()));
                    float[] got = clf.logits(TEXTS.get(i));
                    for (int k = 0; k < want.length; k++) assertEquals(want[k], got[k], 1e-3, v + " text " + i + " logit " + k);
                    // softmax, best first, the same in a batch as alone
                    double max = Math.max(want[0], Math.max(want[1], want[2])), sum = 0;
                    for (double w : want) sum += Math.exp(w - max);
                    List<TextClassifier.Prediction> alone = clf.classify(TEXTS.get(i));
                    TextClassifier.Prediction best = alone.get(0);
                    assertEquals(1 / sum, best.score(), 1e-4, v + " text " + i);
                    assertEquals(SENTIMENT[best.index()], best.label());
                    assertTrue(alone.get(0).score() >= alone.get(1).score() && alone.get(1).score() >= alone.get(2).score());
                    for (int k = 0; k < 3; k++) assertEquals(alone.get(k).score(), batch.get(i).get(k).score(), 1e-5, v + " batched vs alone");
                }
                System.out.println(v + ": " + clf.describe());
            }
            assertEquals(before, TrackedArena.bytesInUse(), v + ": closing returns the native memory");
        }
    }

    @Test
    void tokenClassificationLabelsWordsFromTheirFirstToken() {
        for (Variant v : new Variant[] {Variant.BERT, Variant.DISTILBERT, Variant.ALBERT, Variant.ELECTRA, Variant.ROBERTA}) {
            RandomEncoder m = model(v).withHead("TokenClassification", NER);
            Path dir = m.write(tmp.resolve("ner-" + v.name()), 21 + v.ordinal(), DType.F32);
            checkWords(m, dir, v.toString());
        }
        RandomEncoder electra = model(Variant.ELECTRA).withHead("PreTraining");
        checkWords(electra, electra.write(tmp.resolve("electra-discriminator"), 31, DType.F32), "ELECTRA discriminator");
    }

    private void checkWords(RandomEncoder m, Path dir, String what) {
        VariantReference ref = new VariantReference(m);
        HfTokenizer tok = HfTokenizer.load(dir.resolve("tokenizer.json"));
        try (TokenClassifier clf = Transfuse.loadTokenClassifier(dir, LoadOptions.defaults().withDevice(Device.CPU))) {
            for (String text : TEXTS.subList(0, 4)) {
                List<TokenClassifier.Word> words = clf.words(text);
                // The reference tokenizes the words one by one itself, from offsets it finds by its own scan.
                List<int[]> spans = spans(text);
                assertEquals(spans.size(), words.size(), what + ": words of '" + text + "'");
                List<Integer> ids = new ArrayList<>(), first = new ArrayList<>();
                for (int[] s : spans) {
                    first.add(ids.size());
                    boolean space = s[0] > 0 && text.charAt(s[0] - 1) == ' ';
                    for (int id : tok.encode((space ? " " : "") + text.substring(s[0], s[1]), false, 0).ids()) ids.add(id);
                }
                Encoding full = tok.encode(text, true, 0);
                Encoding wrapped = tok.withSpecialTokens(ids.stream().mapToInt(Integer::intValue).toArray(), 0);
                if (m.variant != Variant.ROBERTA) {
                    // WordPiece: the words' tokens are exactly the text's tokens
                    assertArrayEquals(full.ids(), wrapped.ids(), what + ": per-word tokens of '" + text + "'");
                }
                double[][] logits = ref.tokenLogits(ref.hiddenStates(wrapped.ids(), wrapped.typeIds()));
                for (int w = 0; w < spans.size(); w++) {
                    TokenClassifier.Word got = words.get(w);
                    assertEquals(spans.get(w)[0], got.start());
                    assertEquals(spans.get(w)[1], got.end());
                    assertEquals(text.substring(got.start(), got.end()), got.text());
                    double[] l = logits[1 + first.get(w)]; // after [CLS] / <s>
                    String label;
                    double score;
                    if (l.length == 1) {
                        double p = 1 / (1 + Math.exp(-l[0]));
                        label = p >= 0.5 ? "replaced" : "O";
                        score = p >= 0.5 ? p : 1 - p;
                    } else {
                        int best = 0;
                        double sum = 0;
                        for (int k = 0; k < l.length; k++) if (l[k] > l[best]) best = k;
                        for (double x : l) sum += Math.exp(x - l[best]);
                        label = m.labels[best];
                        score = 1 / sum;
                    }
                    assertEquals(label, got.label(), what + ": word " + w + " of '" + text + "'");
                    assertEquals(score, got.score(), 1e-4, what + ": word " + w);
                }
                for (TokenClassifier.Entity e : clf.entities(text)) assertEquals(text.substring(e.start(), e.end()), e.text());
            }
        }
    }

    /** Words as BERT's basic tokenizer finds them: runs of letters/digits, each punctuation mark and CJK character alone. */
    private static List<int[]> spans(String text) {
        List<int[]> out = new ArrayList<>();
        int i = 0;
        while (i < text.length()) {
            char c = text.charAt(i);
            if (Character.isWhitespace(c)) { i++; continue; }
            if (!Character.isLetterOrDigit(c) || (c >= 0x4E00 && c <= 0x9FFF)) { out.add(new int[] {i, i + 1}); i++; continue; }
            int s = i;
            while (i < text.length() && Character.isLetterOrDigit(text.charAt(i)) && !(text.charAt(i) >= 0x4E00 && text.charAt(i) <= 0x9FFF)) i++;
            out.add(new int[] {s, i});
        }
        return out;
    }

    @Test
    void entitiesMergeIobSpans() {
        String text = "Angela Merkel met Joe in New York today";
        List<TokenClassifier.Word> words = List.of(
                new TokenClassifier.Word("Angela", 0, 6, "B-PER", 0.9), new TokenClassifier.Word("Merkel", 7, 13, "I-PER", 0.7),
                new TokenClassifier.Word("met", 14, 17, "O", 0.99), new TokenClassifier.Word("Joe", 18, 21, "B-PER", 0.8),
                new TokenClassifier.Word("in", 22, 24, "I-LOC", 0.5), new TokenClassifier.Word("New", 25, 28, "B-LOC", 0.6),
                new TokenClassifier.Word("York", 29, 33, "I-LOC", 0.8), new TokenClassifier.Word("today", 34, 39, "DATE", 0.4));
        assertEquals(List.of(
                new TokenClassifier.Entity("Angela Merkel", 0, 13, "PER", 0.8),
                new TokenClassifier.Entity("Joe", 18, 21, "PER", 0.8),
                new TokenClassifier.Entity("in", 22, 24, "LOC", 0.5),
                new TokenClassifier.Entity("New York", 25, 33, "LOC", (0.6 + 0.8) / 2),
                new TokenClassifier.Entity("today", 34, 39, "DATE", 0.4)), TokenClassifier.merge(text, words));
    }

    @Test
    void rerankerScoresQueryDocumentPairs() {
        for (Variant v : new Variant[] {Variant.BERT, Variant.XLM_ROBERTA, Variant.ELECTRA}) {
            RandomEncoder m = model(v).withHead("SequenceClassification", "LABEL_0");
            Path dir = m.write(tmp.resolve("rerank-" + v.name()), 41 + v.ordinal(), DType.F32);
            VariantReference ref = new VariantReference(m);
            HfTokenizer tok = HfTokenizer.load(dir.resolve("tokenizer.json"));
            String query = "where is the fox?";
            List<String> docs = TEXTS;
            try (Reranker r = Transfuse.loadReranker(dir, LoadOptions.defaults().withDevice(Device.CPU))) {
                float[] scores = r.scores(query, docs);
                for (int i = 0; i < docs.size(); i++) {
                    Encoding e = tok.encodePair(query, docs.get(i), m.maxPositions - m.positionOffset);
                    if (v == Variant.BERT) assertEquals(1, e.typeIds()[e.length() - 1], "BERT pairs give the document type 1");
                    assertEquals(ref.sequenceLogits(ref.hiddenStates(e.ids(), e.typeIds()))[0], scores[i], 1e-3, v + " doc " + i);
                }
                List<Reranker.Result> ranked = r.rank(query, docs);
                for (int i = 1; i < ranked.size(); i++) assertTrue(ranked.get(i - 1).score() >= ranked.get(i).score());
                assertEquals(docs.get(ranked.get(0).index()), ranked.get(0).document());
            }
        }
    }

    @Test
    void wrongHeadsAndBadConfigsNameTheFault() throws Exception {
        RandomEncoder seq = model(Variant.BERT).withHead("SequenceClassification", SENTIMENT);
        Path dir = seq.write(tmp.resolve("seq"), 1, DType.F32);
        LoadOptions cpu = LoadOptions.defaults().withDevice(Device.CPU);
        long before = TrackedArena.bytesInUse();
        var e = assertThrows(ModelFormatException.class, () -> Transfuse.loadReranker(dir, cpu));
        assertTrue(e.getMessage().contains("3 labels") && e.getMessage().contains("loadTextClassifier"), e.getMessage());
        e = assertThrows(ModelFormatException.class, () -> Transfuse.loadTokenClassifier(dir, cpu));
        assertTrue(e.getMessage().contains("whole texts"), e.getMessage());

        Path bare = model(Variant.DISTILBERT).write(tmp.resolve("bare"), 2, DType.F32);
        e = assertThrows(ModelFormatException.class, () -> Transfuse.loadTextClassifier(bare, cpu));
        assertTrue(e.getMessage().contains("DistilBertModel") && e.getMessage().contains("no classification head"), e.getMessage());
        try (EmbeddingModel em = Transfuse.loadEncoder(bare, cpu)) {
            assertEquals(32, em.embed("hi").length); // the bare encoder still embeds
        }
        Files.writeString(bare.resolve("config.json"), Files.readString(bare.resolve("config.json")).replace("\"n_layers\": 2", "\"n_layers\": 3"));
        e = assertThrows(ModelFormatException.class, () -> Transfuse.loadEncoder(bare, cpu));
        assertTrue(e.getMessage().contains("transformer.layer.2.attention.q_lin.weight") && e.getMessage().contains("missing"), e.getMessage());

        Path albert = model(Variant.ALBERT).write(tmp.resolve("albert"), 3, DType.F32);
        Files.writeString(albert.resolve("config.json"), Files.readString(albert.resolve("config.json")).replace("\"inner_group_num\": 1", "\"inner_group_num\": 2"));
        e = assertThrows(ModelFormatException.class, () -> Transfuse.loadEncoder(albert, cpu));
        assertTrue(e.getMessage().contains("inner_group_num 2"), e.getMessage());
        Files.writeString(albert.resolve("config.json"), Files.readString(albert.resolve("config.json")).replace("\"inner_group_num\": 2", "\"inner_group_num\": 1")
                .replace("\"embedding_size\": 16", "\"embedding_size\": 24"));
        e = assertThrows(ModelFormatException.class, () -> Transfuse.loadEncoder(albert, cpu));
        assertTrue(e.getMessage().contains("[32, 24]") && e.getMessage().contains("shape"), e.getMessage()); // embedding_size 24 vs the 16-wide tables
        Files.writeString(albert.resolve("config.json"), Files.readString(albert.resolve("config.json")).replace("\"embedding_size\": 24", "\"embedding_size\": 16")
                .replace("\"hidden_act\": \"gelu_new\"", "\"hidden_act\": \"swish\""));
        e = assertThrows(ModelFormatException.class, () -> Transfuse.loadEncoder(albert, cpu));
        assertTrue(e.getMessage().contains("hidden_act 'swish'"), e.getMessage());
        // A broken Unigram tokenizer.json (ALBERT and XLM-R ship Unigram ones): one line naming the file and the field.
        Files.writeString(albert.resolve("config.json"), Files.readString(albert.resolve("config.json")).replace("\"hidden_act\": \"swish\"", "\"hidden_act\": \"gelu_new\""));
        Files.writeString(albert.resolve("tokenizer.json"), "{\"version\": \"1.0\", \"added_tokens\": [], \"normalizer\": null, \"pre_tokenizer\": null,"
                + " \"post_processor\": null, \"decoder\": null, \"model\": {\"type\": \"Unigram\", \"unk_id\": 2, \"vocab\": [[\"<unk>\", 0.0], [\"\u2581a\", -1.0]]}}");
        e = assertThrows(ModelFormatException.class, () -> Transfuse.loadEncoder(albert, cpu));
        assertTrue(e.getMessage().contains("tokenizer.json") && e.getMessage().contains("'unk_id' 2 is outside the vocabulary of 2 pieces"), e.getMessage());
        assertEquals(before, TrackedArena.bytesInUse(), "failed loads release their memory");
    }
}
