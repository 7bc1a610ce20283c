package io.transfuse.tokenizer.hf;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SentencePiece GGUF vocabularies ({@code tokenizer.ggml.model = "llama"}) with special tokens in
 * the text, checked against the Hugging Face tokenizers library (Rust, through DJL) on the real
 * Llama 2 tokenizer.json. The GGUF file is written at test time as llama.cpp's converter lays a
 * SentencePiece vocabulary out: pieces in id order, byte tokens of type 6, &lt;unk&gt; type 2,
 * &lt;s&gt; / &lt;/s&gt; type 3; each merged piece scored minus the rank of the first merge in
 * tokenizer.json that makes it (Hugging Face's converter wrote those merges in the order of the
 * tokenizer.model scores, so highest-score-first SentencePiece merging and rank-ordered BPE merging
 * agree). Chat-format tokens are appended as control tokens
 * ("[INST]", "[/INST]", "&lt;start_of_turn&gt;", "&lt;end_of_turn&gt;", "&lt;|user|&gt;", "&lt;|end|&gt;") and one
 * user-defined token ("&lt;|custom|&gt;"), and to the reference file as added tokens (special / not).
 * Both sides must give the same ids for every text, with the dummy prefix (Llama, Mistral:
 * {@code add_space_prefix} true; tokenizer.json's Prepend normaliser runs on each stretch between
 * added tokens, as llama.cpp prefixes each) and without (Gemma: false; reference without Prepend).
 */
class SentencePieceGgufReferenceTest {
    private static final List<String> CONTROL = List.of("[INST]", "[/INST]", "<start_of_turn>", "<end_of_turn>", "<|user|>", "<|end|>");
    private static final String USER_DEFINED = "<|custom|>";

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
                "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHello! [/INST] Hi there.</s><s>[INST] again? [/INST]",
                "[INST]no spaces[/INST]x", "  [INST]  two  [/INST]  ",
                "<start_of_turn>user\nWrite a poem.<end_of_turn>\n<start_of_turn>model\n",
                "<|user|>\nQuestion?<|end|>\n<|assistant|>\n", "a<|custom|>b <|custom|> c", "[INST][/INST]<end_of_turn>",
                "<unk> x <unk>", "[INST", "<start_of_turn", "tab\t[INST]\tnewline\n[/INST]\n"));
        return texts;
    }

    /** The Llama 2 tokenizer.json with the chat tokens added; {@code prefix} keeps its Prepend("▁") normaliser. */
    private static Path reference(String name, boolean prefix, int firstExtraId) {
        return Fixtures.write(dir.resolve(name), Fixtures.LLAMA2, root -> {
            ArrayNode added = (ArrayNode) root.get("added_tokens");
            int id = firstExtraId;
            for (String t : CONTROL) added.addObject().put("id", id++).put("content", t).put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", false).put("special", true);
            added.addObject().put("id", id).put("content", USER_DEFINED).put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", false).put("special", false);
            if (!prefix) {
                // Gemma's tokenizer.json: only spaces replaced, no dummy prefix.
                root.set("normalizer", Fixtures.MAPPER.createObjectNode().put("type", "Replace")
                        .set("pattern", Fixtures.MAPPER.createObjectNode().put("String", " ")));
                ((ObjectNode) root.get("normalizer")).put("content", "\u2581");
                // Its decoder keeps a leading space: no Strip step.
                ArrayNode decoders = Fixtures.MAPPER.createArrayNode();
                for (JsonNode d : root.get("decoder").get("decoders")) if (!"Strip".equals(d.path("type").asText())) decoders.add(d);
                ((ObjectNode) root.get("decoder")).set("decoders", decoders);
            }
        });
    }

    /** The vocabulary of {@code json} plus the chat tokens, as GGUF SentencePiece metadata. */
    private static Path gguf(String name, Path json, Map<String, Object> extra) throws Exception {
        JsonNode root = Fixtures.MAPPER.readTree(json.toFile());
        JsonNode vocab = root.get("model").get("vocab");
        int n = 0;
        for (JsonNode id : vocab) n = Math.max(n, id.intValue() + 1);
        int base = n;
        n += CONTROL.size() + 1;
        String[] tokens = new String[n];
        float[] scores = new float[n];
        int[] types = new int[n];
        for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            int id = e.getValue().intValue();
            tokens[id] = e.getKey();
            boolean isByte = e.getKey().matches("<0x[0-9A-F]{2}>");
            types[id] = id == 0 ? 2 : id <= 2 ? 3 : isByte ? 6 : 1;
        }
        Map<String, Integer> ids = new java.util.HashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            ids.put(e.getKey(), e.getValue().intValue());
        }
        boolean[] scored = new boolean[n];
        int rank = 0;
        for (JsonNode m : root.get("model").get("merges")) {
            String merged = m.isArray() ? m.get(0).asText() + m.get(1).asText() : m.asText().replace(" ", "");
            Integer id = ids.get(merged);
            if (id != null && !scored[id]) {
                scored[id] = true;
                scores[id] = -rank;
            }
            rank++;
        }
        for (int i = 0; i < base; i++) if (!scored[i]) scores[i] = -1e9f; // single characters: never the result of a merge
        for (int i = 0; i < CONTROL.size(); i++) {
            tokens[base + i] = CONTROL.get(i);
            types[base + i] = 3;
        }
        tokens[n - 1] = USER_DEFINED;
        types[n - 1] = 4;
        Path file = dir.resolve(name).resolve("vocab.gguf");
        GgufWriter w = new GgufWriter().put("general.architecture", "llama").put("tokenizer.ggml.model", "llama")
                .put("tokenizer.ggml.tokens", tokens).put("tokenizer.ggml.scores", scores).put("tokenizer.ggml.token_type", types)
                .put("tokenizer.ggml.bos_token_id", 1).put("tokenizer.ggml.eos_token_id", 2).put("tokenizer.ggml.unknown_token_id", 0);
        extra.forEach(w::put);
        w.write(file);
        return file;
    }

    @ParameterizedTest(name = "add_space_prefix={0}")
    @ValueSource(booleans = {true, false})
    void specialTokensInTextMatchHuggingFaceTokenizers(boolean prefix) throws Exception {
        String name = "llama2-prefix-" + prefix;
        Path json = reference(name, prefix, 32000);
        Path file = gguf(name, json, prefix ? Map.of() : Map.of("tokenizer.ggml.add_space_prefix", false));
        try (TrackedArena arena = new TrackedArena("test");
             HuggingFaceTokenizer ref = HuggingFaceTokenizer.builder().optTokenizerPath(json).optPadding(false).optTruncation(false).build()) {
            Tokenizer tokenizer = GgufTokenizers.load(GgufFile.open(file, arena));
            assertInstanceOf(SentencePieceBpe.class, tokenizer);
            int specialSeen = 0;
            for (String text : texts()) {
                String where = name + " text=" + HfTokenizerReferenceTest.escape(text);
                for (boolean addSpecial : new boolean[] {true, false}) {
                    int[] expected = Arrays.stream(ref.encode(text, addSpecial, false).getIds()).mapToInt(Math::toIntExact).toArray();
                    int[] actual = tokenizer.encode(text, addSpecial);
                    assertEquals(Arrays.toString(expected), Arrays.toString(actual), "ids addSpecial=" + addSpecial + " of " + where);
                    for (int id : actual) if (id >= 32000) specialSeen++;
                }
            }
            assertTrue(specialSeen > 20, "the texts should hit the chat tokens: " + specialSeen);
        }
    }

    @Test
    void addBosAddEosAndEndOfGenerationFollowTheFile() throws Exception {
        Path json = reference("flags", true, 32000);
        Path file = gguf("flags", json, Map.of("tokenizer.ggml.add_bos_token", false, "tokenizer.ggml.add_eos_token", true,
                "tokenizer.ggml.eot_token_id", 32003));
        try (TrackedArena arena = new TrackedArena("test")) {
            Tokenizer t = GgufTokenizers.load(GgufFile.open(file, arena));
            int[] ids = t.encode("Hello", true);
            assertEquals(2, ids[ids.length - 1], "EOS added");
            assertTrue(ids[0] != 1, "no BOS");
            // EOS, the file's EOT (<end_of_turn>, 32003) and <|end|> (32005) by its text, as llama.cpp.
            assertEquals(Set.of(2, 32003, 32005), t.endOfGeneration());
            // Control tokens print nothing; the reply after one loses its dummy-prefix space.
            assertEquals(0, t.decode(-1, 32003).length);
            assertEquals("Hello", new String(t.decode(32003, t.encode("Hello", false)[0]), java.nio.charset.StandardCharsets.UTF_8));
        }
    }

    /**
     * Gemma 3's real vocabulary (262144 pieces, 514906 merges, 6415 added tokens) as a SentencePiece
     * GGUF vocabulary the way {@code transfuse quantize} writes it from a Hugging Face directory
     * ({@link TokenizerJsonToGguf}: special added tokens as control, the others, "&lt;start_of_turn&gt;",
     * "\n\n", HTML tags, as user-defined; no dummy prefix; Gemma's tokenizer_config.json naming
     * &lt;bos&gt; and &lt;eos&gt;), against the reference on the original tokenizer.json.
     */
    @Test
    void gemma3VocabularyMatchesHuggingFaceTokenizers() throws Exception {
        Path json = Fixtures.write(dir.resolve("gemma3"), Fixtures.GEMMA3, null);
        java.nio.file.Files.writeString(dir.resolve("gemma3").resolve("tokenizer_config.json"), "{\"bos_token\": \"<bos>\", \"eos_token\": \"<eos>\"}");
        Map<String, Object> vocabulary = TokenizerJsonToGguf.metadata(dir.resolve("gemma3"), 262145, null); // <image_soft_token> lies past the pieces
        assertEquals(false, vocabulary.get("tokenizer.ggml.add_space_prefix"));
        assertEquals(3, vocabulary.get("tokenizer.ggml.unknown_token_id"));
        Path file = dir.resolve("gemma3").resolve("vocab.gguf");
        GgufWriter w = new GgufWriter().put("general.architecture", "gemma3");
        vocabulary.forEach(w::put);
        w.write(file);
        List<String> texts = new ArrayList<>(texts());
        texts.add("<bos><start_of_turn>user\nYou are helpful.\n\nWrite <b>bold</b> HTML.<end_of_turn>\n<start_of_turn>model\n");
        texts.add("    indented code\n\n\n\tx = [1, 2]  # comment\n");
        try (TrackedArena arena = new TrackedArena("test");
             HuggingFaceTokenizer ref = HuggingFaceTokenizer.builder().optTokenizerPath(json).optPadding(false).optTruncation(false).build()) {
            Tokenizer tokenizer = GgufTokenizers.load(GgufFile.open(file, arena));
            for (String text : texts) {
                for (boolean addSpecial : new boolean[] {true, false}) {
                    int[] expected = Arrays.stream(ref.encode(text, addSpecial, false).getIds()).mapToInt(Math::toIntExact).toArray();
                    assertEquals(Arrays.toString(expected), Arrays.toString(tokenizer.encode(text, addSpecial)),
                            "ids addSpecial=" + addSpecial + " of gemma3 text=" + HfTokenizerReferenceTest.escape(text));
                }
            }
            // <eos>, <end_of_turn>, and Gemma 3's unused "</s>" (212), which llama.cpp's list of end texts also catches.
            assertEquals(Set.of(1, 106, 212), tokenizer.endOfGeneration());
            assertEquals("</s>", tokenizer.tokenText(212));
        }
    }
}
