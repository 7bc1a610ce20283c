package io.transfuse.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.TestModels;
import io.transfuse.loader.GgufFile;
import io.transfuse.memory.TrackedArena;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SentencePieceBpeTest {
    static final JsonNode REF = TestModels.reference();
    static TrackedArena arena;
    static SentencePieceBpe tokenizer;

    @BeforeAll
    static void load() {
        arena = new TrackedArena("test");
        tokenizer = SentencePieceBpe.fromGguf(GgufFile.open(TestModels.storiesGguf(), arena));
    }

    @AfterAll
    static void close() {
        arena.close();
    }

    @Test
    void encodesThePromptLikeLlama2c() {
        assertArrayEquals(TestModels.ints(REF.get("prompt_ids")), tokenizer.encode(REF.get("prompt").asText(), true));
    }

    @Test
    void decodesTheReferenceGenerationToItsText() {
        JsonNode gen = REF.get("greedy_from_bos_200_steps");
        assertEquals(gen.get("text").asText(), decode(TestModels.ints(gen.get("ids"))));
    }

    @Test
    void byteFallbackRoundTripsTextOutsideTheVocabulary() {
        String text = "Grüße, naïve café — 日本語 ☃ and emoji 🚀!";
        int[] ids = tokenizer.encode(text, true);
        assertTrue(ids.length > text.length() / 2, "expected byte-fallback tokens");
        assertEquals(text, decode(ids));
    }

    @Test
    void emptyTextIsJustBos() {
        assertArrayEquals(new int[] {1}, tokenizer.encode("", true));
        assertArrayEquals(new int[0], tokenizer.encode("", false));
    }

    private static String decode(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 1; i < ids.length; i++) out.writeBytes(tokenizer.decode(ids[i - 1], ids[i]));
        return out.toString(StandardCharsets.UTF_8);
    }
}
