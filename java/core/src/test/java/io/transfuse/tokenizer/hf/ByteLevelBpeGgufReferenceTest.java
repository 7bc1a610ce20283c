package io.transfuse.tokenizer.hf;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.transfuse.loader.GgufFile;
import io.transfuse.loader.GgufWriter;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tokenizer.GgufTokenizers;
import io.transfuse.tokenizer.Tokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * GGUF byte-level BPE vocabularies ({@code tokenizer.ggml.model = "gpt2"}) written at test time
 * from the real GPT-2 and Qwen3 tokenizer.json fixtures, the way llama.cpp's converter lays them
 * out (tokens in id order in GPT-2's byte alphabet, merges as "a b", added tokens as control (3)
 * or user-defined (4) tokens, a padded Qwen vocabulary with unused (5) "[PADn]" entries), loaded
 * through {@link GgufTokenizers#load} and compared with the Hugging Face tokenizers library
 * (Rust, through DJL) running the original tokenizer.json: ids with and without special tokens,
 * decoded text (special tokens skipped and kept), and the bytes of token-by-token decoding. The
 * Llama 3 and SmolLM pre-tokenizers, which have no fixture of their own, run over the GPT-2
 * vocabulary against a copy of GPT-2's tokenizer.json given the pre-tokenizer (and, for Llama 3,
 * ignore_merges and the BOS template) that those models' tokenizer.json files have; so does
 * Qwen2's, whose digit splitting only shows on a vocabulary with multi-digit tokens. (Every
 * GPT-2 token is what BPE makes of its own text, so ignore_merges shows only in
 * {@code GgufTokenizersTest}.)
 */
class ByteLevelBpeGgufReferenceTest {
    private static final List<String> TEXTS = texts();
    private static final int GPT2_EOT = 50256;

    @TempDir
    static Path dir;

    @BeforeAll
    static void nativeCacheInTarget() {
        if (System.getProperty("ENGINE_CACHE_DIR") == null) {
            System.setProperty("ENGINE_CACHE_DIR", Path.of("target", "djl-cache").toAbsolutePath().toString());
        }
    }

    static List<String> texts() {
        List<String> texts = new ArrayList<>(Fixtures.texts());
        texts.addAll(List.of(
                "def add(a, b):\r\n\treturn a + b  # sum\r\n\r\n\r\nprint(add(1, 2))",
                "12345678901234567890 3.14159 -42 1e10 0x1F 2024-06-01 ١٢٣٤٥ ⅷ",
                "I'M SURE HE'S RIGHT, THEY'VE GONE. We'Ll see, you'D think",
                "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n",
                "<|fim_prefix|>def f():<|fim_suffix|>\n    pass<|fim_middle|>",
                "<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call><think>\n\n</think>",
                "   \n\n\t  \u00a0 x  \r\n  y\n \n",
                "🙂🙃 👩🏽‍💻 家族 ｶﾀｶﾅ Ελληνικά עברית العربية ไทย हिन्दी",
                "a<|endoftext|>b <|endoftext|> <|endoftext|><|endoftext|>",
                "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
                "x<|eot_id|>y <|reserved_special_token_5|>z<|eom_id|>",
                "CamelCaseIdentifiers and snake_case_names; i++; x+=1; a->b; 'quoted' \"double\" `tick` ~!@#$%^&*()",
                "DON'T we'RE they'VE it'S I'M you'LL he'D 'tis o'clock rock'n'roll"));
        return texts;
    }

    /**
     * A case: the fixture, an edit of its tokenizer.json for the reference (null: the original), the
     * GGUF's extra metadata, the GGUF vocabulary size (0: as many as the fixture has) and the
     * expected bos/eos.
     */
    record Case(String name, String resource, Consumer<ObjectNode> edit, Map<String, Object> gguf, int padTo, int bos, int eos) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Arguments> cases() {
        Map<String, Object> gpt2Ids = Map.of("tokenizer.ggml.bos_token_id", GPT2_EOT, "tokenizer.ggml.eos_token_id", GPT2_EOT);
        List<Case> cases = new ArrayList<>();
        cases.add(new Case("gpt2", Fixtures.GPT2, null, with(gpt2Ids, "tokenizer.ggml.pre", "gpt2"), 0, GPT2_EOT, GPT2_EOT));
        // What llama.cpp's converter writes for GPT-2, and files older than tokenizer.ggml.pre.
        cases.add(new Case("gpt-2", Fixtures.GPT2, null, with(gpt2Ids, "tokenizer.ggml.pre", "gpt-2"), 0, GPT2_EOT, GPT2_EOT));
        // No tokenizer.ggml.pre: llama.cpp's default pre-tokenizer, its four regexes as Isolated splits in the reference.
        cases.add(new Case("no-pre-default", Fixtures.GPT2, root -> root.set("pre_tokenizer", json("{\"type\":\"Sequence\",\"pretokenizers\":["
                + "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"[\\\\p{P}\\\\$\\\\+<=>\\\\^~\\\\|]+\"},\"behavior\":\"Isolated\",\"invert\":false},"
                + "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"'s|'t|'re|'ve|'m|'ll|'d| ?\\\\p{L}+| ?\\\\p{N}+| ?[^\\\\s\\\\p{L}\\\\p{N}]+|\\\\s+(?!\\\\S)\"},"
                + "\"behavior\":\"Isolated\",\"invert\":false},"
                + "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\p{N}+\"},\"behavior\":\"Isolated\",\"invert\":false},"
                + "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"[0-9][0-9][0-9]\"},\"behavior\":\"Isolated\",\"invert\":false},"
                + "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":false}]}")),
                gpt2Ids, 0, GPT2_EOT, GPT2_EOT));
        cases.add(new Case("llama-bpe", Fixtures.GPT2, root -> {
            // Llama 3's tokenizer.json: Split on its regex + ByteLevel without regex, ignore_merges, "<|begin_of_text|> $A".
            root.set("pre_tokenizer", json("{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":"
                    + "\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*"
                    + "|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},\"behavior\":\"Isolated\",\"invert\":false},"
                    + "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":false}]}"));
            ((ObjectNode) root.get("model")).put("ignore_merges", true);
            root.set("post_processor", json("{\"type\":\"Sequence\",\"processors\":[{\"type\":\"ByteLevel\",\"add_prefix_space\":true,"
                    + "\"trim_offsets\":false,\"use_regex\":true},{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":"
                    + "{\"id\":\"<|endoftext|>\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"pair\":[],"
                    + "\"special_tokens\":{\"<|endoftext|>\":{\"id\":\"<|endoftext|>\",\"ids\":[50256],\"tokens\":[\"<|endoftext|>\"]}}}]}"));
        }, with(gpt2Ids, "tokenizer.ggml.pre", "llama-bpe"), 0, GPT2_EOT, GPT2_EOT));
        cases.add(new Case("smollm", Fixtures.GPT2, root -> root.set("pre_tokenizer", json("{\"type\":\"Sequence\",\"pretokenizers\":["
                + "{\"type\":\"Digits\",\"individual_digits\":true},"
                + "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":true}]}")),
                with(gpt2Ids, "tokenizer.ggml.pre", "smollm"), 0, GPT2_EOT, GPT2_EOT));
        cases.add(new Case("gpt2-add-eos", Fixtures.GPT2, root -> root.set("post_processor", json("{\"type\":\"TemplateProcessing\",\"single\":["
                + "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"SpecialToken\":{\"id\":\"<|endoftext|>\",\"type_id\":0}}],\"pair\":[],"
                + "\"special_tokens\":{\"<|endoftext|>\":{\"id\":\"<|endoftext|>\",\"ids\":[50256],\"tokens\":[\"<|endoftext|>\"]}}}")),
                with(with(gpt2Ids, "tokenizer.ggml.pre", "gpt2"), "tokenizer.ggml.add_eos_token", true), 0, GPT2_EOT, GPT2_EOT));
        // The Qwen2 pre-tokenizer over a vocabulary with multi-digit tokens (Qwen's own has none, so
        // there its single-digit split cannot be told from Llama 3's runs of three): NFC and the
        // pre_tokenizer are copied from the Qwen3 fixture.
        cases.add(new Case("qwen2-over-gpt2", Fixtures.GPT2, root -> {
            ObjectNode qwen3 = Fixtures.json(Fixtures.QWEN3);
            root.set("normalizer", qwen3.get("normalizer"));
            root.set("pre_tokenizer", qwen3.get("pre_tokenizer"));
        }, with(gpt2Ids, "tokenizer.ggml.pre", "qwen2"), 0, GPT2_EOT, GPT2_EOT));
        // Qwen3 as llama.cpp converts it: pre "qwen2", bos <|endoftext|> (not added), eos <|im_end|>, padded to 151936.
        cases.add(new Case("qwen3", Fixtures.QWEN3, null, Map.of("tokenizer.ggml.pre", "qwen2", "tokenizer.ggml.bos_token_id", 151643,
                "tokenizer.ggml.eos_token_id", 151645, "tokenizer.ggml.add_bos_token", false), 151936, 151643, 151645));
        // Llama 3's real vocabulary (128000 tokens, 280147 merges, 256 special tokens) as llama.cpp converts it:
        // pre "llama-bpe", BOS <|begin_of_text|> added. The npm copy of tokenizer.json predates the BOS
        // template Meta's current file has; the reference gets that template (what add_bos_token says).
        cases.add(new Case("llama3", Fixtures.LLAMA3, root -> root.set("post_processor", json("{\"type\":\"Sequence\",\"processors\":["
                + "{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":false,\"use_regex\":true},"
                + "{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<|begin_of_text|>\",\"type_id\":0}},"
                + "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"pair\":[],\"special_tokens\":{\"<|begin_of_text|>\":"
                + "{\"id\":\"<|begin_of_text|>\",\"ids\":[128000],\"tokens\":[\"<|begin_of_text|>\"]}}}]}")),
                Map.of("tokenizer.ggml.pre", "llama-bpe", "tokenizer.ggml.bos_token_id", 128000, "tokenizer.ggml.eos_token_id", 128001),
                0, 128000, 128001));
        return cases.stream().map(Arguments::of);
    }

    private static Map<String, Object> with(Map<String, Object> base, String key, Object value) {
        Map<String, Object> m = new java.util.LinkedHashMap<>(base);
        m.put(key, value);
        return m;
    }

    private static ObjectNode json(String text) {
        try {
            return (ObjectNode) Fixtures.MAPPER.readTree(text);
        } catch (Exception e) {
            throw new IllegalArgumentException(text, e);
        }
    }

    /**
     * Writes {@code root}'s vocabulary as GGUF metadata the way llama.cpp's converter does; ids
     * missing from the vocabulary (up to {@code padTo}) become unused "[PADn]" tokens.
     */
    static String[] writeGguf(Path file, JsonNode root, int padTo, Map<String, Object> extra) {
        JsonNode vocab = root.get("model").get("vocab");
        int n = padTo;
        for (JsonNode id : vocab) n = Math.max(n, id.intValue() + 1);
        for (JsonNode t : root.get("added_tokens")) n = Math.max(n, t.get("id").intValue() + 1);
        String[] tokens = new String[n];
        int[] types = new int[n];
        for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            tokens[e.getValue().intValue()] = e.getKey();
            types[e.getValue().intValue()] = 1;
        }
        for (JsonNode t : root.get("added_tokens")) {
            tokens[t.get("id").intValue()] = t.get("content").asText();
            types[t.get("id").intValue()] = t.get("special").asBoolean() ? 3 : 4;
        }
        for (int i = 0; i < n; i++) {
            if (tokens[i] == null) {
                tokens[i] = "[PAD" + i + "]";
                types[i] = 5;
            }
        }
        List<String> merges = new ArrayList<>();
        for (JsonNode m : root.get("model").get("merges")) merges.add(m.isArray() ? m.get(0).asText() + " " + m.get(1).asText() : m.asText());
        GgufWriter w = new GgufWriter().put("general.architecture", "llama").put("tokenizer.ggml.model", "gpt2")
                .put("tokenizer.ggml.tokens", tokens).put("tokenizer.ggml.token_type", types)
                .put("tokenizer.ggml.merges", merges.toArray(String[]::new));
        extra.forEach(w::put);
        w.write(file);
        return tokens;
    }

    private static int[] ints(long[] ids) {
        return Arrays.stream(ids).mapToInt(Math::toIntExact).toArray();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesHuggingFaceTokenizersOnTheOriginalFile(Case c) throws Exception {
        Path json = Fixtures.write(dir.resolve(c.name), c.resource, c.edit);
        JsonNode root = Fixtures.MAPPER.readTree(json.toFile());
        Path ggufFile = dir.resolve(c.name).resolve("vocab.gguf");
        String[] tokens = writeGguf(ggufFile, root, c.padTo, c.gguf);
        try (TrackedArena arena = new TrackedArena("test");
             HuggingFaceTokenizer ref = HuggingFaceTokenizer.builder().optTokenizerPath(json).optPadding(false).optTruncation(false).build()) {
            Tokenizer tokenizer = GgufTokenizers.load(GgufFile.open(ggufFile, arena));
            HfTokenizer hf = assertInstanceOf(HfTokenizer.class, tokenizer);
            assertEquals(tokens.length, tokenizer.vocabularySize(), "vocabulary size: every GGUF token, padding included");
            assertEquals(c.bos, tokenizer.bos(), "bos");
            assertEquals(c.eos, tokenizer.eos(), "eos");
            int tokensSeen = 0, specialSeen = 0;
            for (String text : TEXTS) {
                String where = c.name + " text=" + HfTokenizerReferenceTest.escape(text);
                for (boolean addSpecial : new boolean[] {true, false}) {
                    int[] expected = ints(ref.encode(text, addSpecial, false).getIds());
                    int[] actual = tokenizer.encode(text, addSpecial);
                    assertEquals(Arrays.toString(expected), Arrays.toString(actual), "ids addSpecial=" + addSpecial + " of " + where);
                    tokensSeen += actual.length;
                    for (int id : actual) if (hf.isSpecial(id)) specialSeen++;
                    long[] ids = Arrays.stream(actual).asLongStream().toArray();
                    for (boolean skip : new boolean[] {true, false}) {
                        assertEquals(ref.decode(ids, skip), hf.decode(actual, skip), "decode skip=" + skip + " addSpecial=" + addSpecial + " of " + where);
                    }
                    // Token-by-token bytes add up to the reference's text with special tokens skipped.
                    assertEquals(ref.decode(ids, true), HfTokenizerReferenceTest.streamed(tokenizer, actual),
                            "streaming decode addSpecial=" + addSpecial + " of " + where);
                }
            }
            assertTrue(tokensSeen > 10 * TEXTS.size(), "the texts should produce tokens: " + tokensSeen);
            assertTrue(specialSeen > 10, "the texts should hit special tokens: " + specialSeen);
        }
    }

    /** The end-of-generation sets llama.cpp derives for Llama 3 and Qwen3 vocabularies (token texts and the file's EOS). */
    @org.junit.jupiter.api.Test
    void endOfGenerationAsLlamaCpp() throws Exception {
        record Eog(String resource, Map<String, Object> gguf, int padTo, List<String> expected) {}
        for (Eog e : List.of(
                new Eog(Fixtures.LLAMA3, Map.of("tokenizer.ggml.pre", "llama-bpe", "tokenizer.ggml.bos_token_id", 128000,
                        "tokenizer.ggml.eos_token_id", 128001), 0, List.of("<|end_of_text|>", "<|eot_id|>")), // Llama 3.0 has no <|eom_id|> yet
                new Eog(Fixtures.QWEN3, Map.of("tokenizer.ggml.pre", "qwen2", "tokenizer.ggml.bos_token_id", 151643,
                        "tokenizer.ggml.eos_token_id", 151645, "tokenizer.ggml.add_bos_token", false), 151936,
                        List.of("<|endoftext|>", "<|im_end|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>")))) {
            Path json = Fixtures.write(dir.resolve("eog-" + e.resource), e.resource, null);
            Path ggufFile = dir.resolve("eog-" + e.resource).resolve("vocab.gguf");
            writeGguf(ggufFile, Fixtures.MAPPER.readTree(json.toFile()), e.padTo, e.gguf);
            try (TrackedArena arena = new TrackedArena("test")) {
                HfTokenizer t = (HfTokenizer) GgufTokenizers.load(GgufFile.open(ggufFile, arena));
                java.util.Set<Integer> expected = new java.util.TreeSet<>();
                for (String text : e.expected) expected.add(t.tokenToId(text));
                assertEquals(expected, new java.util.TreeSet<>(t.endOfGeneration()), e.resource);
            }
        }
        // A file's own EOT id counts even when its text is not one llama.cpp knows.
        Path json = Fixtures.write(dir.resolve("eog-gpt2"), Fixtures.GPT2, null);
        Path ggufFile = dir.resolve("eog-gpt2").resolve("vocab.gguf");
        writeGguf(ggufFile, Fixtures.MAPPER.readTree(json.toFile()), 0, Map.of("tokenizer.ggml.eos_token_id", GPT2_EOT,
                "tokenizer.ggml.eot_token_id", 13));
        try (TrackedArena arena = new TrackedArena("test")) {
            assertEquals(java.util.Set.of(13, GPT2_EOT), GgufTokenizers.load(GgufFile.open(ggufFile, arena)).endOfGeneration());
        }
    }
}
