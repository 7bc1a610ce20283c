package io.transfuse.tokenizer;

import io.transfuse.loader.GgufFile;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.rwkv.RwkvFixture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The RWKV world tokenizer against llama.cpp's (llm_tokenizer_rwkv, through node-llama-cpp: make_rwkv_fixtures.mjs)
 * on the small world vocabulary of RandomRwkvModel: texts with English pieces, multi-byte UTF-8 (accents, CJK,
 * emoji: bytes of characters the vocabulary lacks as tokens), escapes (backslash, quotes, tabs, CR LF) and the
 * control token's own text.
 */
class RwkvWorldTokenizerTest {
    @TempDir
    Path dir;

    @Test
    void tokenizesAsLlamaCpp() {
        for (String preset : new String[] {"rwkv6-tiny", "rwkv7-tiny"}) {
            RwkvFixture f = RwkvFixture.load(preset);
            try (TrackedArena arena = new TrackedArena("test")) {
                RwkvWorldTokenizer t = RwkvWorldTokenizer.fromGguf(GgufFile.open(f.writeModel(dir), arena));
                for (int i = 0; i < f.texts().length; i++) {
                    assertArrayEquals(f.tokens()[i], t.encode(f.texts()[i], true), preset + " text " + i + ": " + f.texts()[i]);
                    // "<s>" in a text becomes the control token, which prints nothing
                    String expected = f.texts()[i].replace("<s>", "");
                    assertEquals(expected, t.decode(t.encode(f.texts()[i], false)), "round trip of text " + i);
                }
                assertEquals(0, t.eos());
                assertEquals(Set.of(0, 261), t.endOfGeneration(), "eos and the eot id the file names (\"\\n\\n\")");
                assertEquals("\\n\\n", t.tokenText(261));
                assertEquals(0, t.decode(-1, 0).length, "the control token <s> prints nothing");
            }
        }
    }

    @Test
    void unescapesAsLlamaCpp() {
        assertArrayEquals(new byte[] {'\n', '\t', '\r', (byte) 0xe4, '\\', '\''}, RwkvWorldTokenizer.unescape("\\n\\t\\r\\xe4\\\\\\'"));
        assertArrayEquals("caf\u00e9".getBytes(StandardCharsets.UTF_8), RwkvWorldTokenizer.unescape("caf\\xc3\\xa9"));
    }

    @Test
    void greedyLongestMatchNotBestSegmentation() {
        // "ab" + "cd" would cover "abcd" in two tokens; greedy takes "abc" first, then "d"
        String[] tokens = {"<s>", "a", "b", "c", "d", "ab", "cd", "abc"};
        RwkvWorldTokenizer t = new RwkvWorldTokenizer("test", tokens, new int[] {3, 1, 1, 1, 1, 1, 1, 1}, 0, 0, java.util.List.of());
        assertArrayEquals(new int[] {7, 4}, t.encode("abcd", false));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.encode("abx", false));
        assertTrue(e.getMessage().contains("0x78") && e.getMessage().contains("offset 2"), e.getMessage());
    }
}
