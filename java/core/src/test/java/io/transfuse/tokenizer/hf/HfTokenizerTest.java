package io.transfuse.tokenizer.hf;

import io.transfuse.loader.ModelFormatException;
import io.transfuse.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Behaviour of {@link HfTokenizer} beyond id equality with the reference (which HfTokenizerReferenceTest checks). */
class HfTokenizerTest {
    @TempDir
    Path dir;

    @Test
    void ignoresTheFixedPaddingAndTruncationOfTheFile() {
        HfTokenizer t = HfTokenizer.load(Fixtures.write(dir, Fixtures.MINILM, null));
        assertEquals(128, t.modelMaxLength(), "all-MiniLM's file truncates to 128");
        Encoding short_ = t.encode("hello world", true, 0);
        assertArrayEquals(new int[] {101, t.tokenToId("hello"), t.tokenToId("world"), 102}, short_.ids(), "no padding to 128");
        assertArrayEquals(new int[] {1, 1, 1, 1}, short_.attentionMask());
        assertArrayEquals(new int[] {0, 0, 0, 0}, short_.typeIds());
        assertArrayEquals(new int[] {1, 0, 0, 1}, short_.specialTokensMask());
        String longText = "word ".repeat(300);
        assertEquals(302, t.encode(longText, true, 0).length(), "no truncation when the caller asks for none");
        int[] truncated = t.encode(longText, true, t.modelMaxLength()).ids();
        assertEquals(128, truncated.length);
        assertEquals(101, truncated[0]);
        assertEquals(102, truncated[127], "the special tokens survive truncation");
        assertEquals(128, t.encode(longText, false, 128).length());
    }

    @Test
    void specialTokensAndVocabularySize() {
        HfTokenizer bert = HfTokenizer.load(Fixtures.write(dir.resolve("bert"), Fixtures.MINILM, null));
        assertEquals(101, bert.bos());
        assertEquals(102, bert.eos());
        assertEquals(30522, bert.vocabularySize());
        HfTokenizer llama = HfTokenizer.load(Fixtures.write(dir.resolve("llama"), Fixtures.LLAMA2, null));
        assertEquals(1, llama.bos());
        assertEquals(2, llama.eos());
        assertEquals(32000, llama.vocabularySize());
        assertEquals(1, llama.encode("Hi", true)[0], "addBos adds <s>");
        assertTrue(Arrays.stream(llama.encode("Hi", false)).noneMatch(id -> id == 1));
        Path qwenDir = dir.resolve("qwen");
        HfTokenizer qwenAlone = HfTokenizer.load(Fixtures.write(qwenDir, Fixtures.QWEN3, null));
        assertEquals(-1, qwenAlone.bos(), "Qwen has no BOS");
        assertEquals(qwenAlone.tokenToId("<|endoftext|>"), qwenAlone.eos());
        assertEquals(151669, qwenAlone.vocabularySize(), "added tokens extend the vocabulary");
        Fixtures.copyResource("qwen3-tokenizer_config.json", qwenDir.resolve("tokenizer_config.json"));
        HfTokenizer qwen = HfTokenizer.load(qwenDir.resolve("tokenizer.json"));
        assertEquals(qwen.tokenToId("<|im_end|>"), qwen.eos(), "tokenizer_config.json names the EOS");
        assertEquals(0, qwenAlone.modelMaxLength());
        assertEquals(131072, qwen.modelMaxLength(), "tokenizer_config.json's model_max_length");
        assertTrue(qwen.isSpecial(qwen.eos()));
        assertEquals(0, qwen.decode(-1, qwen.eos()).length, "special tokens print nothing");
    }

    @Test
    void streamingDecodeKeepsPartialCharactersAsBytes() {
        Tokenizer llama = HfTokenizer.load(Fixtures.write(dir, Fixtures.LLAMA2, null));
        int[] ids = llama.encode("🤗 ok", true);
        // 🤗 is not a Llama-2 piece: four byte-fallback tokens, each one byte of its UTF-8 form.
        byte[] emoji = "🤗".getBytes(StandardCharsets.UTF_8);
        int start = 1;
        while (llama.decode(ids[start - 1], ids[start]).length != 1) start++;
        for (int i = 0; i < 4; i++) assertArrayEquals(new byte[] {emoji[i]}, llama.decode(ids[start + i - 1], ids[start + i]));
        assertEquals("Hello", new String(llama.decode(llama.bos(), ((HfTokenizer) llama).tokenToId("▁Hello")), StandardCharsets.UTF_8),
                "the leading space is dropped after BOS");
        assertEquals(" Hello", new String(llama.decode(((HfTokenizer) llama).tokenToId("▁world"), ((HfTokenizer) llama).tokenToId("▁Hello")),
                StandardCharsets.UTF_8));
    }

    @Test
    void unsupportedComponentsAreNamedWithTheFile() throws Exception {
        Path file = Fixtures.write(dir, Fixtures.GPT2, root -> root.set("normalizer", Fixtures.MAPPER.createObjectNode().put("type", "Nmt")));
        var e = assertThrows(ModelFormatException.class, () -> HfTokenizer.load(file));
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("normalizer type 'Nmt'"), e.getMessage());

        // A Precompiled normaliser whose charsmap is too short to hold its header: the file and the field.
        Path charsmap = dir.resolve("charsmap.json");
        Files.writeString(charsmap, "{\"normalizer\": {\"type\": \"Precompiled\", \"precompiled_charsmap\": \"AAAA\"},"
                + " \"model\": {\"type\": \"Unigram\", \"unk_id\": 0, \"vocab\": [[\"<unk>\", 0.0], [\"a\", -1.5]]}}");
        var c = assertThrows(ModelFormatException.class, () -> HfTokenizer.load(charsmap));
        assertTrue(c.getMessage().startsWith(charsmap + ": tokenizer.normalizer: precompiled_charsmap has 3 bytes"), c.getMessage());

        Path unigram = dir.resolve("unigram.json");
        Files.writeString(unigram, "{\"normalizer\": null, \"model\": {\"type\": \"Unigram\", \"unk_id\": 0, \"vocab\": [[\"<unk>\", 0.0], [\"a\", -1.5]]}}");
        assertArrayEquals(new int[] {1, 0, 1}, HfTokenizer.load(unigram).encode("aba", false, 0).ids()); // Unigram is read now
        Files.writeString(unigram, "{\"model\": {\"type\": \"Unigram\", \"unk_id\": 0, \"vocab\": [[\"<unk>\", \"high\"]]}}");
        var u = assertThrows(ModelFormatException.class, () -> HfTokenizer.load(unigram));
        assertTrue(u.getMessage().startsWith(unigram + ": tokenizer.model.vocab[0] ('<unk>') has no numeric score"), u.getMessage());

        String badMerge = "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[\"a b\"]}}";
        var m = assertThrows(ModelFormatException.class, () -> HfTokenizer.load(new ByteArrayInputStream(badMerge.getBytes(StandardCharsets.UTF_8)), "mem.json"));
        assertTrue(m.getMessage().startsWith("mem.json:") && m.getMessage().contains("merges[0]"), m.getMessage());

        Path missing = dir.resolve("nope/tokenizer.json");
        assertTrue(assertThrows(ModelFormatException.class, () -> HfTokenizer.load(missing)).getMessage().contains("no such file"));
        Files.writeString(dir.resolve("broken.json"), "{\"model\": [");
        assertTrue(assertThrows(ModelFormatException.class, () -> HfTokenizer.load(dir.resolve("broken.json"))).getMessage().contains("invalid JSON"));
    }

    @Test
    void smallHandWrittenBpeMergesByRank() {
        // Ranks: "a b" first, then "ab c", then "b c". Greedy-by-rank gives [abc, d]; merging "b c" first would not.
        String json = """
                {"model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": true,
                  "vocab": {"<unk>": 0, "a": 1, "b": 2, "c": 3, "d": 4, "ab": 5, "abc": 6, "bc": 7},
                  "merges": ["a b", "ab c", "b c"]},
                 "pre_tokenizer": {"type": "WhitespaceSplit"}}""";
        HfTokenizer t = HfTokenizer.load(new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8)), "inline");
        assertArrayEquals(new int[] {6, 4}, t.encode("abcd", false, 0).ids());
        assertArrayEquals(new int[] {7, 1}, t.encode("bca", false, 0).ids());
        assertArrayEquals(new int[] {1, 0, 2}, t.encode("axyb", false, 0).ids(), "unknown characters fuse into one <unk>");
        assertEquals("abc d", t.decode(new int[] {6, 4}, false), "no decoder: tokens joined by spaces");
    }

    @Test
    void longInputsStayFast() {
        HfTokenizer llama = HfTokenizer.load(Fixtures.write(dir.resolve("llama"), Fixtures.LLAMA2, null));
        HfTokenizer bert = HfTokenizer.load(Fixtures.write(dir.resolve("bert"), Fixtures.MINILM, null));
        // Llama-2 has no pre-tokenizer: the whole text is one BPE word.
        String text = "The quick brown fox jumps over the lazy dog; naïve café, 中文 🤗. ".repeat(800);
        long start = System.nanoTime();
        int n = llama.encode(text, true, 0).length() + bert.encode(text, true, 0).length();
        long ms = (System.nanoTime() - start) / 1_000_000;
        assertTrue(n > 20_000, "tokens: " + n);
        assertTrue(ms < 5_000, "encoding " + text.length() + " characters twice took " + ms + " ms");
        assertEquals(1, bert.encode("x".repeat(101), false, 0).length(), "a word over max_input_chars_per_word is one [UNK]");
        assertEquals(100, bert.encode("x".repeat(101), false, 0).ids()[0]);
    }
}
