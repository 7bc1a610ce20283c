package io.transfuse.tokenizer.hf;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.transfuse.tokenizer.Tokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Ids, truncated ids and decoded text of {@link HfTokenizer} against the Hugging Face tokenizers
 * library itself (Rust, through DJL's JNI binding, whose jar carries the native library) on the
 * same real tokenizer.json files, plus variants of them that switch on the components the
 * originals do not use (Metaspace, cased BERT, ignore_merges, lstrip/rstrip/single_word tokens).
 */
class HfTokenizerReferenceTest {
    private static final List<String> TEXTS = Fixtures.texts();
    private static final int[] MAX_LENGTHS = {7};

    @TempDir
    static Path dir;

    @BeforeAll
    static void nativeCacheInTarget() {
        // DJL extracts its native library to a cache directory; keep it out of the home directory.
        if (System.getProperty("ENGINE_CACHE_DIR") == null) {
            System.setProperty("ENGINE_CACHE_DIR", Path.of("target", "djl-cache").toAbsolutePath().toString());
        }
    }

    record Case(String name, String resource, Consumer<ObjectNode> edit, boolean llm) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Arguments> cases() {
        List<Case> cases = new ArrayList<>();
        // WordPiece (BERT normaliser and pre-tokenizer); all-MiniLM's file carries fixed padding and truncation to 128.
        cases.add(new Case("all-MiniLM-L6-v2", Fixtures.MINILM, null, false));
        cases.add(new Case("bge-small-en-v1.5", Fixtures.BGE, null, false));
        cases.add(new Case("bert-cased", Fixtures.MINILM, root -> ((ObjectNode) root.get("normalizer")).put("lowercase", false), false));
        cases.add(new Case("bert-strip-accents-no-lowercase", Fixtures.MINILM, root ->
                ((ObjectNode) root.get("normalizer")).put("lowercase", false).put("strip_accents", true).put("handle_chinese_chars", false), false));
        cases.add(new Case("wordpiece-sequence-whitespace", Fixtures.MINILM, root -> {
            root.set("normalizer", json("{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFD\"},{\"type\":\"Lowercase\"},{\"type\":\"StripAccents\"},"
                    + "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"\\\\d+\"},\"content\":\"0\"}]}"));
            root.set("pre_tokenizer", json("{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Whitespace\"},{\"type\":\"Digits\",\"individual_digits\":true}]}"));
            ((ObjectNode) root.get("model")).put("max_input_chars_per_word", 12);
            root.set("post_processor", json("{\"type\":\"BertProcessing\",\"sep\":[\"[SEP]\",102],\"cls\":[\"[CLS]\",101]}"));
            // An added token matched after normalisation (its content is normalised too) and one matched before.
            ArrayNode added = (ArrayNode) root.get("added_tokens");
            added.add(json("{\"id\":30522,\"content\":\"FOO_BAR\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":true,\"special\":false}"));
            added.add(json("{\"id\":30523,\"content\":\"<mask>\",\"single_word\":false,\"lstrip\":true,\"rstrip\":true,\"normalized\":false,\"special\":true}"));
        }, false));
        cases.add(new Case("wordpiece-split-behaviours", Fixtures.MINILM, root -> {
            root.set("normalizer", json("{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFKC\"},{\"type\":\"Strip\",\"strip_left\":true,"
                    + "\"strip_right\":true},{\"type\":\"Lowercase\"}]}"));
            root.set("pre_tokenizer", json("{\"type\":\"Sequence\",\"pretokenizers\":["
                    + "{\"type\":\"Split\",\"pattern\":{\"String\":\"-\"},\"behavior\":\"MergedWithPrevious\",\"invert\":false},"
                    + "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\s+\"},\"behavior\":\"Removed\",\"invert\":false},"
                    + "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"[0-9]\"},\"behavior\":\"Contiguous\",\"invert\":false},"
                    + "{\"type\":\"Punctuation\",\"behavior\":\"MergedWithNext\"},"
                    + "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"[aeiou]+\"},\"behavior\":\"Isolated\",\"invert\":true}]}"));
        }, false));
        // BPE with byte fallback, SentencePiece style (Llama-2 / TinyLlama / Mistral layout).
        cases.add(new Case("llama2", Fixtures.LLAMA2, null, true));
        cases.add(new Case("llama2-metaspace-first", Fixtures.LLAMA2, root -> {
            root.putNull("normalizer");
            root.set("pre_tokenizer", json("{\"type\":\"Metaspace\",\"replacement\":\"\u2581\",\"prepend_scheme\":\"first\",\"split\":false}"));
        }, true));
        cases.add(new Case("llama2-metaspace-split", Fixtures.LLAMA2, root -> {
            root.putNull("normalizer");
            root.set("pre_tokenizer", json("{\"type\":\"Metaspace\",\"replacement\":\"\u2581\",\"prepend_scheme\":\"always\",\"split\":true}"));
            root.set("decoder", json("{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"ByteFallback\"},{\"type\":\"Metaspace\",\"replacement\":\"\u2581\","
                    + "\"prepend_scheme\":\"always\",\"split\":true},{\"type\":\"Fuse\"}]}"));
        }, true));
        // Byte-level BPE: GPT-2 (ByteLevel regex) and Qwen (Split regex, NFC, many added tokens).
        cases.add(new Case("gpt2", Fixtures.GPT2, null, true));
        cases.add(new Case("gpt2-added-tokens-ignore-merges", Fixtures.GPT2, root -> {
            ((ObjectNode) root.get("pre_tokenizer")).put("add_prefix_space", true);
            ((ObjectNode) root.get("model")).put("ignore_merges", true); // as Llama-3 has it
            ArrayNode added = (ArrayNode) root.get("added_tokens");
            added.add(json("{\"id\":50257,\"content\":\"<mask>\",\"single_word\":false,\"lstrip\":true,\"rstrip\":false,\"normalized\":false,\"special\":true}"));
            added.add(json("{\"id\":50258,\"content\":\"foo_bar\",\"single_word\":true,\"lstrip\":false,\"rstrip\":false,\"normalized\":true,\"special\":false}"));
            added.add(json("{\"id\":50259,\"content\":\"[[x]]\",\"single_word\":false,\"lstrip\":false,\"rstrip\":true,\"normalized\":false,\"special\":false}"));
            root.set("post_processor", json("{\"type\":\"TemplateProcessing\",\"single\":[{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},"
                    + "{\"SpecialToken\":{\"id\":\"<|endoftext|>\",\"type_id\":0}}],\"pair\":[],\"special_tokens\":{\"<|endoftext|>\":"
                    + "{\"id\":\"<|endoftext|>\",\"ids\":[50256],\"tokens\":[\"<|endoftext|>\"]}}}"));
        }, true));
        cases.add(new Case("gpt2-llama3-split", Fixtures.GPT2, root -> {
            // Llama-3's pre-tokenizer (its regex has \p{N}{1,3} and case-insensitive contractions) over the GPT-2 vocabulary.
            root.set("pre_tokenizer", json("{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":"
                    + "\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*"
                    + "|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},\"behavior\":\"Isolated\",\"invert\":false},"
                    + "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":false}]}"));
            ((ObjectNode) root.get("model")).put("ignore_merges", true);
        }, true));
        cases.add(new Case("qwen3", Fixtures.QWEN3, null, true));
        return cases.stream().map(Arguments::of);
    }

    private static ObjectNode json(String text) {
        try {
            return (ObjectNode) Fixtures.MAPPER.readTree(text);
        } catch (Exception e) {
            throw new IllegalArgumentException(text, e);
        }
    }

    private static HuggingFaceTokenizer reference(Path file, int maxLength) throws Exception {
        var builder = HuggingFaceTokenizer.builder().optTokenizerPath(file).optPadding(false);
        if (maxLength > 0) builder.optTruncation(true).optMaxLength(maxLength);
        else builder.optTruncation(false);
        return builder.build();
    }

    private static int[] ints(long[] ids) {
        return Arrays.stream(ids).mapToInt(Math::toIntExact).toArray();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesHuggingFaceTokenizers(Case c) throws Exception {
        Path file = Fixtures.write(dir.resolve(c.name), c.resource, c.edit);
        HfTokenizer tokenizer = HfTokenizer.load(file);
        int nonEmpty = 0;
        try (HuggingFaceTokenizer ref = reference(file, 0)) {
            for (String text : TEXTS) {
                for (boolean addSpecial : new boolean[] {true, false}) {
                    var expected = ref.encode(text, addSpecial, false);
                    Encoding actual = tokenizer.encode(text, addSpecial, 0);
                    String where = c.name + " addSpecial=" + addSpecial + " text=" + escape(text);
                    assertEquals(Arrays.toString(ints(expected.getIds())), Arrays.toString(actual.ids()), "ids of " + where);
                    assertEquals(Arrays.toString(ints(expected.getTypeIds())), Arrays.toString(actual.typeIds()), "type ids of " + where);
                    assertEquals(Arrays.toString(ints(expected.getAttentionMask())), Arrays.toString(actual.attentionMask()), "mask of " + where);
                    assertEquals(Arrays.toString(expected.getTokens()), Arrays.toString(actual.tokens()), "tokens of " + where);
                    assertEquals(Arrays.toString(ints(expected.getSpecialTokenMask())), Arrays.toString(actual.specialTokensMask()), "special mask of " + where);
                    if (actual.length() > 0) nonEmpty++;
                    for (boolean skip : new boolean[] {true, false}) {
                        assertEquals(ref.decode(expected.getIds(), skip), tokenizer.decode(actual.ids(), skip), "decode skip=" + skip + " of " + where);
                    }
                }
                if (c.llm) assertStreamingDecode(tokenizer, text, c.name);
            }
        }
        assertTrue(nonEmpty > TEXTS.size(), "the texts should produce tokens");
        if (c.edit != null) return; // truncation does not depend on the components: check it on the original files only
        for (int maxLength : MAX_LENGTHS) {
            try (HuggingFaceTokenizer ref = reference(file, maxLength)) {
                for (String text : TEXTS) {
                    for (boolean addSpecial : new boolean[] {true, false}) {
                        assertEquals(Arrays.toString(ints(ref.encode(text, addSpecial, false).getIds())),
                                Arrays.toString(tokenizer.encode(text, addSpecial, maxLength).ids()),
                                c.name + " maxLength=" + maxLength + " addSpecial=" + addSpecial + " text=" + escape(text));
                    }
                }
            }
        }
    }

    /** Token-by-token bytes ({@link io.transfuse.tokenizer.Tokenizer#decode(int, int)}) add up to the decoded text. */
    private static void assertStreamingDecode(HfTokenizer tokenizer, String text, String name) {
        int[] ids = tokenizer.encode(text, true);
        // A BOS in the middle of the text cannot be told from the one that starts it (after which
        // the leading space is dropped): leave such texts out.
        for (int i = 1; i < ids.length; i++) if (ids[i] == tokenizer.bos()) return;
        assertEquals(tokenizer.decode(ids, true), streamed(tokenizer, ids), name + " streaming decode of " + escape(text));
    }

    /** The text of {@code ids} decoded token by token ({@link Tokenizer#decode(int, int)}), as generation streams it. */
    static String streamed(Tokenizer tokenizer, int[] ids) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int previous = -1;
        for (int id : ids) {
            bytes.writeBytes(tokenizer.decode(previous, id));
            previous = id;
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }

    static String escape(String s) {
        StringBuilder b = new StringBuilder("\"");
        s.codePoints().forEach(c -> {
            if (c < 32 || c > 126) b.append(String.format("\\u{%x}", c));
            else b.appendCodePoint(c);
        });
        return b.append('"').toString();
    }
}
