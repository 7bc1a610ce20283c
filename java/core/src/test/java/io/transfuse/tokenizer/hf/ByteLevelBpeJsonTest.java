package io.transfuse.tokenizer.hf;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The small byte-level BPE tokenizer.json that random-weight models ship is a valid tokenizer for
 * the Hugging Face tokenizers library itself, and HfTokenizer reads it to the same ids and text.
 */
class ByteLevelBpeJsonTest {
    @TempDir
    Path dir;

    @Test
    void huggingFaceTokenizersAgree() throws Exception {
        Path file = dir.resolve("tokenizer.json");
        Files.writeString(file, ByteLevelBpeJson.build(ByteLevelBpeJson.ENGLISH_MERGES));
        HfTokenizer ours = HfTokenizer.load(file);
        assertEquals(ByteLevelBpeJson.vocabularySize(ByteLevelBpeJson.ENGLISH_MERGES), ours.vocabularySize());
        assertEquals(ours.vocabularySize() - 1, ours.eos());
        try (HuggingFaceTokenizer ref = HuggingFaceTokenizer.builder().optTokenizerPath(file).optPadding(false).optTruncation(false).build()) {
            for (String text : new String[] {"the weather in the south", "Thé wörld, 42 ünïcode ✓ 日本", "  spaces\tand\nlines  ",
                    "<|endoftext|>then more", "another other ending"}) {
                int[] expected = Arrays.stream(ref.encode(text, true, false).getIds()).mapToInt(Math::toIntExact).toArray();
                assertArrayEquals(expected, ours.encode(text, true), text);
                assertEquals(text, ours.decode(expected, false), text);
            }
        }
        assertThrows(IllegalArgumentException.class, () -> ByteLevelBpeJson.build(java.util.List.of("Ġ qq")));
    }
}
