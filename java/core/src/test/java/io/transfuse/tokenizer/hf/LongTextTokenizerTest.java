package io.transfuse.tokenizer.hf;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.loader.GgufFile;
import io.transfuse.loader.GgufWriter;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tokenizer.GgufTokenizers;
import io.transfuse.tokenizer.SentencePieceBpe;
import io.transfuse.tokenizer.Tokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Long, varied text ({@link Fixtures#longText}: 4000 words of several scripts, numbers, emoji and whitespace runs,
 * about 25,000 characters) through the BPE tokenizers, whose merge loop is the O(n log n) heap of
 * {@link io.transfuse.tokenizer.BpeMerge} (issue 19): the ids must equal those of a plain O(n^2) merge written here
 * (scan every adjacent pair, merge the best and leftmost, repeat) and those of the Hugging Face tokenizers library
 * (Rust, through DJL) on the same vocabulary.
 *
 * <p>SentencePiece-style BPE (GGUF "llama") merges over the whole text at once, not word by word, so this is one
 * sequence of some 25,000 symbols; tokenizer.json's Llama 2 BPE (no pre-tokenizer) is one word of the same length.
 * The byte-level tokenizers split into words first and are checked against the reference library only.
 */
class LongTextTokenizerTest {
    private static final String TEXT = Fixtures.longText(4000, 20261205);

    @TempDir
    static Path dir;

    @BeforeAll
    static void nativeCacheInTarget() {
        if (System.getProperty("ENGINE_CACHE_DIR") == null) {
            System.setProperty("ENGINE_CACHE_DIR", Path.of("target", "djl-cache").toAbsolutePath().toString());
        }
    }

    @Test
    void textIsLongAndVaried() {
        assertTrue(TEXT.length() > 20_000, "length " + TEXT.length());
        for (String part : new String[] {"\t", "\n\n", "\r\n", "\u00A0", "\u3000", "          ", "🤗", "你好", "привет", "\u2581"}) {
            assertTrue(TEXT.contains(part), "the text should contain " + HfTokenizerReferenceTest.escape(part));
        }
        assertTrue(TEXT.matches("(?s).*\\d{7,}.*"), "long digit runs");
    }

    /**
     * Llama 2's vocabulary as a GGUF SentencePiece vocabulary (written as {@code transfuse quantize} writes it: scores
     * from the merge ranks), with and without the dummy-prefix space.
     */
    @ParameterizedTest(name = "add_space_prefix={0}")
    @ValueSource(booleans = {true, false})
    void sentencePieceGgufMatchesPlainMergeAndHuggingFace(boolean prefix) throws Exception {
        Path json = Fixtures.write(dir.resolve("llama2-gguf-" + prefix), Fixtures.LLAMA2, prefix ? null : root -> {
            // Gemma-style: only spaces replaced, no dummy prefix.
            root.set("normalizer", Fixtures.MAPPER.createObjectNode().put("type", "Replace").put("content", "\u2581")
                    .set("pattern", Fixtures.MAPPER.createObjectNode().put("String", " ")));
        });
        Map<String, Object> metadata = TokenizerJsonToGguf.metadata(json.getParent(), 32000, null);
        Path file = json.resolveSibling("vocab.gguf");
        GgufWriter writer = new GgufWriter().put("general.architecture", "llama");
        metadata.forEach(writer::put);
        writer.write(file);
        String[] tokens = (String[]) metadata.get("tokenizer.ggml.tokens");
        float[] scores = (float[]) metadata.get("tokenizer.ggml.scores");
        int[] types = (int[]) metadata.get("tokenizer.ggml.token_type");
        try (TrackedArena arena = new TrackedArena("test");
             HuggingFaceTokenizer ref = HuggingFaceTokenizer.builder().optTokenizerPath(json).optPadding(false).optTruncation(false).build()) {
            Tokenizer tokenizer = GgufTokenizers.load(GgufFile.open(file, arena));
            assertInstanceOf(SentencePieceBpe.class, tokenizer);
            int[] actual = tokenizer.encode(TEXT, false);
            assertSameIds(plainSentencePiece(tokens, scores, types, prefix, TEXT), actual, "plain O(n^2) SentencePiece merge");
            assertSameIds(ints(ref.encode(TEXT, false, false).getIds()), actual, "Hugging Face tokenizers");
        }
    }

    /** Llama 2's tokenizer.json: no pre-tokenizer, so the whole text is one BPE word with byte fallback. */
    @Test
    void tokenizerJsonBpeMatchesPlainMergeAndHuggingFace() throws Exception {
        Path json = Fixtures.write(dir.resolve("llama2-json"), Fixtures.LLAMA2, null);
        HfTokenizer tokenizer = HfTokenizer.load(json);
        int[] actual = tokenizer.encode(TEXT, false);
        assertSameIds(plainRankedBpe(Fixtures.json(Fixtures.LLAMA2), "\u2581" + TEXT.replace(" ", "\u2581")), actual, "plain O(n^2) BPE merge");
        try (HuggingFaceTokenizer ref = HuggingFaceTokenizer.builder().optTokenizerPath(json).optPadding(false).optTruncation(false).build()) {
            assertSameIds(ints(ref.encode(TEXT, false, false).getIds()), actual, "Hugging Face tokenizers");
        }
    }

    /** Byte-level BPE, from tokenizer.json and from the GGUF vocabulary written from it. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {Fixtures.LLAMA3, Fixtures.QWEN3, Fixtures.GPT2})
    void byteLevelBpeMatchesHuggingFace(String resource) throws Exception {
        Path json = Fixtures.write(dir.resolve("bytelevel-" + resource), resource, null);
        HfTokenizer fromJson = HfTokenizer.load(json);
        Map<String, Object> metadata = TokenizerJsonToGguf.metadata(json.getParent(), fromJson.vocabularySize(), null);
        Path file = json.resolveSibling("vocab.gguf");
        GgufWriter writer = new GgufWriter().put("general.architecture", "llama");
        metadata.forEach(writer::put);
        writer.write(file);
        try (TrackedArena arena = new TrackedArena("test");
             HuggingFaceTokenizer ref = HuggingFaceTokenizer.builder().optTokenizerPath(json).optPadding(false).optTruncation(false).build()) {
            int[] expected = ints(ref.encode(TEXT, false, false).getIds());
            assertSameIds(expected, fromJson.encode(TEXT, false), resource + " tokenizer.json");
            assertSameIds(expected, GgufTokenizers.load(GgufFile.open(file, arena)).encode(TEXT, false), resource + " as GGUF");
        }
    }

    /**
     * SentencePiece BPE as llama.cpp describes it, written plainly: the text (a space first when {@code prefix}) with
     * spaces as U+2581, one symbol per code point (its UTF-8 byte tokens when it is no piece), then, while some
     * adjacent pair concatenates to a piece, merge the pair whose piece scores highest, the leftmost among equals.
     */
    static int[] plainSentencePiece(String[] tokens, float[] scores, int[] types, boolean prefix, String text) {
        Map<String, Integer> ids = new HashMap<>();
        int[] byteToken = new int[256];
        for (int i = 0; i < tokens.length; i++) {
            if (types[i] == 6) byteToken[Integer.parseInt(tokens[i].substring(3, 5), 16)] = i;
            else if (types[i] != 2 && types[i] != 3) ids.putIfAbsent(tokens[i], i);
        }
        String s = ((prefix ? " " : "") + text).replace(" ", "\u2581");
        int[] symbols = new int[s.length() * 4];
        int n = 0;
        for (int i = 0; i < s.length(); ) {
            String ch = s.substring(i, s.offsetByCodePoints(i, 1));
            i += ch.length();
            Integer id = ids.get(ch);
            if (id != null) symbols[n++] = id;
            else for (byte b : ch.getBytes(java.nio.charset.StandardCharsets.UTF_8)) symbols[n++] = byteToken[b & 0xFF];
        }
        return plainMerge(Arrays.copyOf(symbols, n), new PlainRule() {
            @Override
            public double priority(int a, int b) {
                Integer id = ids.get(tokens[a] + tokens[b]);
                return id == null ? Double.POSITIVE_INFINITY : -scores[id]; // NaN and -infinity scores never win
            }

            @Override
            public int merged(int a, int b) {
                return ids.get(tokens[a] + tokens[b]);
            }
        });
    }

    /**
     * tokenizer.json BPE with byte fallback, written plainly for a text already normalised: one symbol per code point
     * (its {@code <0xNN>} tokens when it is not in the vocabulary), then merge the pair of the lowest merge rank, the
     * leftmost among equals, while any pair is a merge.
     */
    static int[] plainRankedBpe(JsonNode root, String normalized) {
        Map<String, Integer> vocab = new HashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.get("model").get("vocab").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            vocab.put(e.getKey(), e.getValue().intValue());
        }
        String[] byId = new String[vocab.size()];
        vocab.forEach((token, id) -> byId[id] = token);
        Map<String, Integer> rank = new HashMap<>();
        int r = 0;
        for (JsonNode m : root.get("model").get("merges")) {
            String pair = m.isArray() ? m.get(0).asText() + " " + m.get(1).asText() : m.asText();
            rank.putIfAbsent(pair, r++);
        }
        int[] symbols = new int[normalized.length() * 4];
        int n = 0;
        for (int i = 0; i < normalized.length(); ) {
            String ch = normalized.substring(i, normalized.offsetByCodePoints(i, 1));
            i += ch.length();
            Integer id = vocab.get(ch);
            if (id != null) symbols[n++] = id;
            else for (byte b : ch.getBytes(java.nio.charset.StandardCharsets.UTF_8)) symbols[n++] = vocab.get(String.format("<0x%02X>", b & 0xFF));
        }
        return plainMerge(Arrays.copyOf(symbols, n), new PlainRule() {
            @Override
            public double priority(int a, int b) {
                Integer k = rank.get(byId[a] + " " + byId[b]);
                return k == null ? Double.POSITIVE_INFINITY : k;
            }

            @Override
            public int merged(int a, int b) {
                return vocab.get(byId[a] + byId[b]);
            }
        });
    }

    /** A merge rule for {@link #plainMerge}: lower priority merges first, +infinity never. */
    interface PlainRule {
        double priority(int left, int right);

        int merged(int left, int right);
    }

    /**
     * The textbook loop, O(n) per merge: find the adjacent pair of the lowest priority (the leftmost among equals),
     * merge it, update the priorities of the pairs beside it, repeat until no pair merges.
     */
    static int[] plainMerge(int[] symbols, PlainRule rule) {
        int[] s = symbols.clone();
        int n = s.length;
        double[] priority = new double[Math.max(1, n)]; // priority[i]: the pair (s[i], s[i + 1])
        for (int i = 0; i + 1 < n; i++) priority[i] = rule.priority(s[i], s[i + 1]);
        while (true) {
            int best = -1;
            double bestPriority = Double.POSITIVE_INFINITY;
            for (int i = 0; i + 1 < n; i++) {
                if (priority[i] < bestPriority) {
                    bestPriority = priority[i];
                    best = i;
                }
            }
            if (best < 0) return Arrays.copyOf(s, n);
            s[best] = rule.merged(s[best], s[best + 1]);
            System.arraycopy(s, best + 2, s, best + 1, n - best - 2);
            System.arraycopy(priority, best + 2, priority, best + 1, n - best - 2);
            n--;
            if (best > 0) priority[best - 1] = rule.priority(s[best - 1], s[best]);
            if (best + 1 < n) priority[best] = rule.priority(s[best], s[best + 1]);
        }
    }

    private static int[] ints(long[] ids) {
        return Arrays.stream(ids).mapToInt(Math::toIntExact).toArray();
    }

    /** Equal ids, or a failure naming the first difference with a little context instead of two arrays of 20,000 ids. */
    private static void assertSameIds(int[] expected, int[] actual, String reference) {
        int at = 0;
        while (at < Math.min(expected.length, actual.length) && expected[at] == actual[at]) at++;
        if (at == expected.length && at == actual.length) return;
        int from = Math.max(0, at - 5);
        fail("ids differ from the " + reference + " at index " + at + " (expected " + expected.length + " ids, got " + actual.length
                + "): expected ..." + Arrays.toString(Arrays.copyOfRange(expected, from, Math.min(expected.length, at + 5)))
                + " got ..." + Arrays.toString(Arrays.copyOfRange(actual, from, Math.min(actual.length, at + 5))));
    }
}
