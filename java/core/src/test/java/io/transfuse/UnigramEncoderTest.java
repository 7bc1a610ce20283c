package io.transfuse;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import io.transfuse.model.bert.RandomEncoder;
import io.transfuse.model.bert.RandomEncoder.Variant;
import io.transfuse.model.bert.VariantReference;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ALBERT and XLM-R directories with the SentencePiece Unigram tokenizer.json their checkpoints ship (here the
 * ALBERT- and XLM-R-layout fixtures of src/test/resources/tokenizers) load through the ordinary path
 * ({@link Transfuse#loadTextClassifier}) and classify what the Hugging Face tokenizers library (Rust, through DJL)
 * makes of the text: the logits equal {@link VariantReference}'s run on the reference library's ids, so a wrong id
 * anywhere (normalisation, Viterbi, template) would show.
 */
class UnigramEncoderTest {
    static final List<String> TEXTS = List.of(
            "Hello world",
            "ＡＬＢＥＲＴ ﬁnds ``quotes'' — naïve café, 1,000 ①",
            "XLM-R liest auch Deutsch: Grüße aus Köln! 日本語のテキスト 🤗",
            "a",
            "word ".repeat(60) + "this long text is truncated");

    @TempDir Path tmp;

    @BeforeAll
    static void nativeCacheInTarget() {
        if (System.getProperty("ENGINE_CACHE_DIR") == null) {
            System.setProperty("ENGINE_CACHE_DIR", Path.of("target", "djl-cache").toAbsolutePath().toString());
        }
    }

    @Test
    void albertAndXlmRobertaClassifyWithTheirUnigramTokenizers() throws Exception {
        check(Variant.ALBERT, "spm-albert-unigram-tokenizer.json.gz");
        check(Variant.XLM_ROBERTA, "spm-xlmr-unigram-tokenizer.json.gz");
    }

    private void check(Variant v, String tokenizer) throws Exception {
        RandomEncoder m = BertTaskHeadsTest.model(v).withHead("SequenceClassification", BertTaskHeadsTest.SENTIMENT);
        Path dir = m.write(tmp.resolve(v.name()), 41 + v.ordinal(), DType.F32);
        Path tokenizerJson = dir.resolve("tokenizer.json");
        try (InputStream in = new GZIPInputStream(UnigramEncoderTest.class.getResourceAsStream("/tokenizers/" + tokenizer))) {
            Files.write(tokenizerJson, in.readAllBytes());
        }
        VariantReference ref = new VariantReference(m);
        int maxTokens = m.maxPositions - m.positionOffset;
        List<String> tokenized = new ArrayList<>();
        try (TextClassifier clf = Transfuse.loadTextClassifier(dir, LoadOptions.defaults().withDevice(Device.CPU));
             HuggingFaceTokenizer hf = HuggingFaceTokenizer.builder().optTokenizerPath(tokenizerJson).optPadding(false)
                     .optTruncation(true).optMaxLength(maxTokens).build()) {
            for (String text : TEXTS) {
                var e = hf.encode(text, true, false);
                int[] ids = Arrays.stream(e.getIds()).mapToInt(Math::toIntExact).toArray();
                int[] types = Arrays.stream(e.getTypeIds()).mapToInt(Math::toIntExact).toArray();
                double[] want = ref.sequenceLogits(ref.hiddenStates(ids, types));
                float[] got = clf.logits(text);
                for (int k = 0; k < want.length; k++) assertEquals(want[k], got[k], 1e-3, v + " '" + text + "' logit " + k);
                tokenized.add(String.join(" ", e.getTokens()));
            }
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        // The texts really went through SentencePiece pieces and the family's template.
        String first = tokenized.get(1);
        // (ALBERT's normaliser lower-cases; both fold the full-width letters and the ligature.)
        assertTrue(first.startsWith(v == Variant.ALBERT ? "[CLS] ▁a" : "<s> ▁ AL"), first);
        assertTrue(first.contains("▁fi") && first.endsWith(v == Variant.ALBERT ? "[SEP]" : "</s>"), first);
    }
}
