package io.transfuse.tokenizer.hf;

import io.transfuse.loader.GgufFile;
import io.transfuse.loader.GgufWriter;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tokenizer.GgufTokenizers;
import io.transfuse.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The GGUF vocabulary {@link TokenizerJsonToGguf} writes from a real tokenizer.json, read back by
 * {@link GgufTokenizers} (what Transfuse and llama.cpp load), encodes every text as {@link HfTokenizer} does on the
 * original file (itself checked against Hugging Face's library in HfTokenizerReferenceTest): Llama 3 (byte-level,
 * "llama-bpe", 256 special tokens, no BOS template in this copy so no BOS added). Gemma 3 (SentencePiece-style) is
 * converted the same way in SentencePieceGgufReferenceTest and checked against Hugging Face's library itself.
 */
class TokenizerJsonToGgufTest {
    @TempDir
    static Path dir;

    private static void check(String resource, int vocabSize, String model, String pre) throws Exception {
        Path d = dir.resolve(resource.replace(".json.gz", ""));
        Path json = Fixtures.write(d, resource, null);
        Map<String, Object> meta = TokenizerJsonToGguf.metadata(d, vocabSize, null);
        assertEquals(model, meta.get("tokenizer.ggml.model"));
        assertEquals(pre, meta.get("tokenizer.ggml.pre"));
        assertEquals(vocabSize, ((String[]) meta.get("tokenizer.ggml.tokens")).length);
        Path file = d.resolve("vocab.gguf");
        GgufWriter w = new GgufWriter().put("general.architecture", "llama");
        meta.forEach(w::put);
        w.write(file);
        HfTokenizer reference = HfTokenizer.load(json);
        try (TrackedArena arena = new TrackedArena("test")) {
            Tokenizer t = GgufTokenizers.load(GgufFile.open(file, arena));
            int specials = 0;
            for (String text : ByteLevelBpeGgufReferenceTest.texts()) {
                for (boolean add : new boolean[] {true, false}) {
                    int[] expected = reference.encode(text, add), actual = t.encode(text, add);
                    assertEquals(Arrays.toString(expected), Arrays.toString(actual),
                            resource + " addSpecial=" + add + " text=" + HfTokenizerReferenceTest.escape(text));
                    for (int id : actual) if (reference.isSpecial(id)) specials++;
                }
            }
            assertTrue(specials > 4, resource + ": the texts should hit special tokens: " + specials);
        }
    }

    @Test
    void llama3() throws Exception {
        check(Fixtures.LLAMA3, 128256, "gpt2", "llama-bpe");
    }

    @Test
    void unknownPreTokenizerAndModelTypeAreNamed() {
        Path d = dir.resolve("odd-pre");
        Fixtures.write(d, Fixtures.GPT2, root -> root.set("pre_tokenizer", Fixtures.MAPPER.createObjectNode().put("type", "Whitespace")));
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> TokenizerJsonToGguf.metadata(d, 50257, null));
        assertTrue(e.getMessage().contains("tokenizer.json") && e.getMessage().contains("Whitespace"), e.getMessage());
        Path bert = dir.resolve("bert");
        Fixtures.write(bert, Fixtures.BGE, null);
        e = assertThrows(ModelFormatException.class, () -> TokenizerJsonToGguf.metadata(bert, 30522, null));
        assertTrue(e.getMessage().contains("tokenizer.json") && e.getMessage().contains("WordPiece"), e.getMessage());
    }
}
