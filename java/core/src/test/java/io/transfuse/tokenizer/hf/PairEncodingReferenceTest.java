package io.transfuse.tokenizer.hf;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import io.transfuse.model.bert.RandomEncoder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Pairs of texts (a cross-encoder's query and document) through {@link HfTokenizer#encodePair} against
 * Hugging Face tokenizers itself (DJL, test scope) on real tokenizer.json files: MiniLM's and BGE's
 * TemplateProcessing pair templates, the same vocabulary with a BertProcessing post-processor, and GPT-2's
 * byte-level BPE with RoBERTa's RobertaProcessing (&lt;s&gt; A &lt;/s&gt;&lt;/s&gt; B &lt;/s&gt;); ids and
 * type ids, untruncated and truncated "longest first" at several lengths.
 */
class PairEncodingReferenceTest {
    @TempDir Path dir;

    static final List<String[]> PAIRS = List.of(
            new String[] {"where is the fox?", "The quick brown fox jumps over the lazy dog."},
            new String[] {"Café naïve résumé", "accents, Ünïcödé and CJK: 你好世界, 日本語のテキスト"},
            new String[] {"a", ""},
            new String[] {"a much longer query with many words in it to be truncated first", "short doc"},
            new String[] {"q", "word ".repeat(40)});

    private Path write(String name, byte[] json) throws Exception {
        Path f = dir.resolve(name + ".json");
        Files.write(f, json);
        return f;
    }

    private static byte[] resource(String name) throws Exception {
        try (InputStream in = new GZIPInputStream(PairEncodingReferenceTest.class.getResourceAsStream("/tokenizers/" + name))) {
            return in.readAllBytes();
        }
    }

    @Test
    void pairsMatchHuggingFaceTokenizers() throws Exception {
        byte[] minilm = resource("all-minilm-l6-v2-tokenizer.json.gz");
        var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
        var bertProcessing = (com.fasterxml.jackson.databind.node.ObjectNode) mapper.readTree(minilm);
        bertProcessing.set("post_processor", mapper.readTree("{\"type\": \"BertProcessing\", \"sep\": [\"[SEP]\", 102], \"cls\": [\"[CLS]\", 101]}"));
        bertProcessing.putNull("truncation");
        bertProcessing.putNull("padding");
        var minilmPlain = (com.fasterxml.jackson.databind.node.ObjectNode) mapper.readTree(minilm);
        minilmPlain.putNull("truncation");
        minilmPlain.putNull("padding");
        check(write("minilm", mapper.writeValueAsBytes(minilmPlain)));
        check(write("bge", resource("bge-small-en-v1.5-tokenizer.json.gz")));
        check(write("bert-processing", mapper.writeValueAsBytes(bertProcessing)));
        check(write("roberta", RandomEncoder.tokenizerJson(true)));
    }

    private static void check(Path file) throws Exception {
        HfTokenizer ours = HfTokenizer.load(file);
        for (int max : new int[] {0, 40, 16, 9}) {
            var builder = HuggingFaceTokenizer.builder().optTokenizerPath(file).optPadding(false).optAddSpecialTokens(true);
            if (max > 0) builder.optTruncation(true).optMaxLength(max);
            else builder.optTruncation(false);
            try (HuggingFaceTokenizer ref = builder.build()) {
                for (String[] p : PAIRS) {
                    var want = ref.encode(p[0], p[1]);
                    Encoding got = ours.encodePair(p[0], p[1], max);
                    String where = file.getFileName() + " max " + max + " pair " + Arrays.toString(p);
                    assertEquals(Arrays.toString(want.getIds()), Arrays.toString(Arrays.stream(got.ids()).asLongStream().toArray()), where);
                    assertEquals(Arrays.toString(want.getTypeIds()), Arrays.toString(Arrays.stream(got.typeIds()).asLongStream().toArray()), where);
                }
            }
        }
    }
}
