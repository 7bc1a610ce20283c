package io.transfuse.tokenizer;

import io.transfuse.GenerateOptions;
import io.transfuse.GenerationResult;
import io.transfuse.LanguageModel;
import io.transfuse.LoadOptions;
import io.transfuse.TestModels;
import io.transfuse.Transfuse;
import io.transfuse.loader.GgufFile;
import io.transfuse.loader.GgufWriter;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.RandomLlamaModel;
import io.transfuse.memory.TrackedArena;
import io.transfuse.SamplingOptions;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;
import io.transfuse.tokenizer.hf.HfTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@link GgufTokenizers}: which tokenizer each tokenizer.ggml.model gets, what {@code addBos}
 * adds for byte-level files, the errors for malformed byte-level vocabularies (each naming the
 * file and the key), and a Llama GGUF with a byte-level vocabulary running through
 * {@link Transfuse#load}. A tiny hand-built vocabulary: the 256 bytes (id = byte value, as
 * characters of GPT-2's byte alphabet), "Ġt" 256, "he" 257, "Ġthe" 258, control
 * {@code <|endoftext|>} 259, user-defined {@code <tool>} 260, and "ab" 261, which no merge makes.
 */
class GgufTokenizersTest {
    private static final int EOT = 259, TOOL = 260, AB = 261, N = 262;

    @TempDir
    Path dir;

    /** GPT-2's byte-to-character map (bytes_to_unicode), written out here independently of the main code. */
    static String byteChar(int b) {
        boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        if (printable) return String.valueOf((char) b);
        int n = 0;
        for (int x = 0; x < b; x++) if (!((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF))) n++;
        return String.valueOf((char) (256 + n));
    }

    static Map<String, Object> tinyVocabulary() {
        String[] tokens = new String[N];
        int[] types = new int[N];
        for (int b = 0; b < 256; b++) tokens[b] = byteChar(b);
        tokens[256] = "Ġt";
        tokens[257] = "he";
        tokens[258] = "Ġthe";
        tokens[EOT] = "<|endoftext|>";
        tokens[TOOL] = "<tool>";
        tokens[AB] = "ab";
        java.util.Arrays.fill(types, 1);
        types[EOT] = 3;
        types[TOOL] = 4;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("general.architecture", "llama");
        m.put("tokenizer.ggml.model", "gpt2");
        m.put("tokenizer.ggml.pre", "gpt2");
        m.put("tokenizer.ggml.tokens", tokens);
        m.put("tokenizer.ggml.token_type", types);
        m.put("tokenizer.ggml.merges", new String[] {"Ġ t", "h e", "Ġt he"});
        m.put("tokenizer.ggml.bos_token_id", EOT);
        m.put("tokenizer.ggml.eos_token_id", EOT);
        return m;
    }

    private Path write(String name, Consumer<Map<String, Object>> edit) {
        Map<String, Object> m = tinyVocabulary();
        edit.accept(m);
        GgufWriter w = new GgufWriter();
        m.forEach(w::put);
        Path file = dir.resolve(name + ".gguf");
        w.write(file);
        return file;
    }

    private Tokenizer load(String name, Consumer<Map<String, Object>> edit) {
        Path file = write(name, edit);
        try (TrackedArena arena = new TrackedArena("test")) {
            return GgufTokenizers.load(GgufFile.open(file, arena)); // the tokenizer keeps nothing of the mapping
        }
    }

    private ModelFormatException error(String name, Consumer<Map<String, Object>> edit, String... expected) {
        Path file = write(name, edit);
        try (TrackedArena arena = new TrackedArena("test")) {
            GgufFile gguf = GgufFile.open(file, arena);
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> GgufTokenizers.load(gguf), name);
            assertTrue(e.getMessage().contains(file.toString()), name + ": the message names the file: " + e.getMessage());
            for (String s : expected) assertTrue(e.getMessage().contains(s), name + ": the message names " + s + ": " + e.getMessage());
            return e;
        }
    }

    @Test
    void byteLevelVocabularyEncodesAndDecodes() {
        Tokenizer t = load("tiny", m -> { });
        assertInstanceOf(HfTokenizer.class, t);
        assertEquals(N, t.vocabularySize());
        assertEquals(EOT, t.bos());
        assertEquals(EOT, t.eos());
        // "the" + " the" (GPT-2 words) -> t|he, Ġthe; the control and user-defined tokens are cut out first.
        assertArrayEquals(new int[] {'t', 257, 258}, t.encode("the the", false));
        assertArrayEquals(new int[] {'t', 257, EOT, 'a', TOOL, 258, ' ', ' '}, t.encode("the<|endoftext|>a<tool> the  ", false));
        // Control tokens print nothing, user-defined ones their text, others their bytes.
        assertEquals("", new String(t.decode('t', EOT)));
        assertEquals("<tool>", new String(t.decode('t', TOOL)));
        assertEquals(" the", new String(t.decode(EOT, 258)));
        assertArrayEquals(new byte[] {(byte) 0xE2}, t.decode(-1, 0xE2));
    }

    @Test
    void addBosAddsWhatTheFileAsks() {
        int[] plain = {'t', 257, 258};
        // GPT-2 names <|endoftext|> as BOS but never adds it: addBos=true adds nothing.
        assertArrayEquals(plain, load("gpt2", m -> { }).encode("the the", true));
        assertArrayEquals(plain, load("gpt2-absent-pre", m -> m.remove("tokenizer.ggml.pre")).encode("the the", true));
        // Llama 3 adds BOS by default, unless the file says not to; a GPT-2 file can ask for it.
        assertArrayEquals(new int[] {EOT, 't', 257, 258}, load("llama3", m -> m.put("tokenizer.ggml.pre", "llama-bpe")).encode("the the", true));
        Tokenizer llama3NoBos = load("llama3-no-bos", m -> {
            m.put("tokenizer.ggml.pre", "llama-bpe");
            m.put("tokenizer.ggml.add_bos_token", false);
        });
        assertArrayEquals(plain, llama3NoBos.encode("the the", true));
        assertEquals(EOT, llama3NoBos.bos());
        assertArrayEquals(new int[] {EOT, 't', 257, 258}, load("gpt2-bos", m -> m.put("tokenizer.ggml.add_bos_token", true)).encode("the the", true));
        assertArrayEquals(new int[] {'t', 257, 258, TOOL}, load("gpt2-eos", m -> {
            m.put("tokenizer.ggml.eos_token_id", TOOL);
            m.put("tokenizer.ggml.add_eos_token", true);
        }).encode("the the", true));
        // Llama 3 takes a word that is itself a token whole (ignore_merges); GPT-2 merges it.
        assertArrayEquals(new int[] {AB, 258}, load("llama3-ab", m -> m.put("tokenizer.ggml.pre", "llama-bpe")).encode("ab the", false));
        assertArrayEquals(new int[] {'a', 'b', 258}, load("gpt2-ab", m -> { }).encode("ab the", false));
        // addBos=false never adds anything.
        assertArrayEquals(plain, load("llama3-false", m -> m.put("tokenizer.ggml.pre", "llama-bpe")).encode("the the", false));
        // Without special ids, bos() and eos() are -1.
        Tokenizer none = load("no-ids", m -> {
            m.remove("tokenizer.ggml.bos_token_id");
            m.remove("tokenizer.ggml.eos_token_id");
        });
        assertEquals(-1, none.bos());
        assertEquals(-1, none.eos());
        assertArrayEquals(plain, none.encode("the the", true));
    }

    @Test
    void malformedByteLevelVocabulariesNameTheFileAndTheKey() {
        error("unknown-pre", m -> m.put("tokenizer.ggml.pre", "deepseek-llm"), "tokenizer.ggml.pre", "'deepseek-llm'", "gpt2", "llama-bpe", "qwen2");
        error("no-merges", m -> m.remove("tokenizer.ggml.merges"), "tokenizer.ggml.merges");
        error("merge-of-unknown-tokens", m -> m.put("tokenizer.ggml.merges", new String[] {"Ġ t", "q z"}), "tokenizer.ggml.merges[1]", "'q z'");
        error("merge-without-space", m -> m.put("tokenizer.ggml.merges", new String[] {"Ġt"}), "tokenizer.ggml.merges[0]");
        error("short-token-types", m -> m.put("tokenizer.ggml.token_type", new int[N - 1]), "tokenizer.ggml.token_type", String.valueOf(N - 1), String.valueOf(N));
        error("long-scores", m -> m.put("tokenizer.ggml.scores", new float[N + 1]), "tokenizer.ggml.scores", String.valueOf(N + 1));
        error("bos-outside", m -> m.put("tokenizer.ggml.bos_token_id", N), "tokenizer.ggml.bos_token_id", String.valueOf(N));
        error("eos-outside", m -> m.put("tokenizer.ggml.eos_token_id", N + 7), "tokenizer.ggml.eos_token_id", String.valueOf(N + 7));
        error("bos-needed", m -> {
            m.remove("tokenizer.ggml.bos_token_id");
            m.put("tokenizer.ggml.pre", "llama-bpe");
        }, "tokenizer.ggml.bos_token_id");
        error("unsupported-model", m -> m.put("tokenizer.ggml.model", "bert"), "tokenizer.ggml.model", "'bert'", "llama, gpt2");
        error("t5-without-scores", m -> {
            m.put("tokenizer.ggml.model", "t5"); // Unigram (GgufUnigram) needs each piece's score
            m.remove("tokenizer.ggml.scores");
        }, "tokenizer.ggml.scores", "missing");
        error("no-model", m -> m.remove("tokenizer.ggml.model"), "tokenizer.ggml.model");
        assertNull(load("no-tokens", m -> m.keySet().removeIf(k -> k.startsWith("tokenizer."))));
    }

    @Test
    void llamaModelStaysSentencePiece() {
        try (TrackedArena arena = new TrackedArena("test")) {
            GgufFile gguf = GgufFile.open(TestModels.storiesGguf(), arena);
            Tokenizer t = GgufTokenizers.load(gguf);
            assertInstanceOf(SentencePieceBpe.class, t);
            SentencePieceBpe direct = SentencePieceBpe.fromGguf(gguf);
            String prompt = TestModels.reference().get("prompt").asText();
            assertArrayEquals(TestModels.ints(TestModels.reference().get("prompt_ids")), t.encode(prompt, true));
            assertArrayEquals(direct.encode("Once upon a time, 42 cats.", false), t.encode("Once upon a time, 42 cats.", false));
        }
    }

    /** A random-weight Llama GGUF whose tokenizer is the tiny byte-level vocabulary loads and generates through Transfuse.load. */
    @Test
    void transfuseLoadsAByteLevelGguf() {
        RandomLlamaModel.Shape shape = new RandomLlamaModel.Shape(64, 1, 2, 2, 128, N, 64);
        Path random = dir.resolve("random.gguf"), file = dir.resolve("byte-level.gguf");
        RandomLlamaModel.writeGguf(random, shape, DType.F32, 7, s -> { });
        try (TrackedArena arena = new TrackedArena("test")) {
            GgufFile source = GgufFile.open(random, arena);
            GgufWriter w = new GgufWriter();
            source.metadata().forEach((k, v) -> { if (!k.startsWith("tokenizer.")) w.put(k, v); });
            tinyVocabulary().forEach((k, v) -> { if (k.startsWith("tokenizer.")) w.put(k, v); });
            for (Tensor t : source.tensors().values()) {
                assertEquals(DType.F32, t.dtype());
                w.addTensor(t.name(), DType.F32, t.shape(), t.data().toArray(ValueLayout.JAVA_FLOAT));
            }
            w.write(file);
        }
        try (LanguageModel lm = Transfuse.load(file, LoadOptions.defaults())) {
            assertInstanceOf(HfTokenizer.class, lm.tokenizer());
            assertArrayEquals(new int[] {'t', 257, 258}, lm.tokenizer().encode("the the", true));
            GenerationResult r = lm.generate("the the", new GenerateOptions(5, SamplingOptions.greedy()), s -> { });
            assertEquals(3, r.promptTokens());
            assertArrayEquals(new int[] {'t', 257, 258}, java.util.Arrays.copyOf(r.tokens(), 3));
        }
    }
}
