package io.transfuse.tokenizer.hf;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.LanguageModel;
import io.transfuse.GenerateOptions;
import io.transfuse.GenerationResult;
import io.transfuse.LoadOptions;
import io.transfuse.TestModels;
import io.transfuse.Transfuse;
import io.transfuse.loader.GgufFile;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.memory.TrackedArena;
import io.transfuse.SamplingOptions;
import io.transfuse.tokenizer.SentencePieceBpe;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A tokenizer.json built from stories260K's GGUF vocabulary encodes and decodes exactly like the
 * GGUF's own SentencePiece BPE (llama2.c's algorithm) on a corpus, and Transfuse.load picks it up
 * from a Hugging Face directory (the bundled models/stories260K/hf carries it): greedy generation
 * there gives llama2.c's reference tokens.
 */
class SentencePieceTokenizerJsonTest {

    static List<String> corpus() {
        JsonNode ref = TestModels.reference();
        List<String> texts = new ArrayList<>(List.of(ref.get("prompt").asText(), ref.get("greedy_from_bos_200_steps").get("text").asText(),
                "", " ", "  two  spaces  ", "a", "Lily and Tom went to the park. They saw a big, red ball!",
                "\"Hello,\" said the dog. 'Can I play?' The cat said: no.", "numbers 0123456789 and symbols #$%&*+-/=@",
                "Café naïve — unicode: 你好, emoji 😀, tab\tnewline\n end", "ONCE UPON A TIME", "onceuponatimethereweretwo"));
        String story = ref.get("greedy_from_bos_200_steps").get("text").asText();
        Random r = new Random(5);
        for (int i = 0; i < 300; i++) { // random substrings of the story: every kind of word boundary
            int a = r.nextInt(story.length()), b = Math.min(story.length(), a + 1 + r.nextInt(60));
            texts.add(story.substring(a, b));
        }
        for (int i = 0; i < 100; i++) { // random letter soup, including merges of equal-score pieces
            StringBuilder sb = new StringBuilder();
            for (int k = r.nextInt(30); k > 0; k--) sb.append(" abcdeehilmnoorstty.,!".charAt(r.nextInt(22)));
            texts.add(sb.toString());
        }
        return texts;
    }

    @Test
    void encodesAndDecodesLikeTheGgufTokenizer() {
        try (TrackedArena arena = new TrackedArena("test")) {
            GgufFile gguf = GgufFile.open(TestModels.storiesGguf(), arena);
            SentencePieceBpe sp = SentencePieceBpe.fromGguf(gguf);
            HfTokenizer hf = HfTokenizer.load(new ByteArrayInputStream(SentencePieceTokenizerJson.fromGguf(gguf).getBytes(StandardCharsets.UTF_8)), "generated");
            assertEquals(sp.vocabularySize(), hf.vocabularySize());
            for (String text : corpus()) {
                int[] want = sp.encode(text, true), got = hf.encode(text, true, 0).ids();
                assertArrayEquals(want, got, "encoding of '" + text + "'");
                ByteArrayOutputStream bytes = new ByteArrayOutputStream();
                for (int i = 1; i < want.length; i++) bytes.writeBytes(sp.decode(want[i - 1], want[i]));
                assertEquals(bytes.toString(StandardCharsets.UTF_8), hf.decode(got, true), "decoding of '" + text + "'");
            }
        }
    }

    @Test
    void loadUsesTheTokenizerJsonOfAnHfDirectory(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("hf");
        Files.createDirectories(dir);
        try (Stream<Path> files = Files.list(TestModels.storiesHf())) {
            for (Path f : files.toList()) Files.copy(f, dir.resolve(f.getFileName()));
        }
        try (TrackedArena arena = new TrackedArena("test")) {
            // the bundled hf/tokenizer.json is exactly what the generator writes (see models/stories260K/README.md)
            String generated = SentencePieceTokenizerJson.fromGguf(GgufFile.open(TestModels.storiesGguf(), arena));
            assertEquals(generated, Files.readString(dir.resolve("tokenizer.json")));
        }
        JsonNode ref = TestModels.reference();
        int[] greedy = TestModels.ints(ref.get("greedy_40").get("ids"));
        try (LanguageModel lm = Transfuse.load(dir, LoadOptions.defaults())) {
            assertInstanceOf(HfTokenizer.class, lm.tokenizer());
            assertArrayEquals(TestModels.ints(ref.get("prompt_ids")), lm.tokenizer().encode(ref.get("prompt").asText(), true));
            GenerationResult r = lm.generate(ref.get("prompt").asText(),
                    new GenerateOptions(greedy.length - 5, new SamplingOptions(0, 0, 1, 1)), s -> { });
            assertArrayEquals(greedy, r.tokens(), "greedy tokens of llama2.c");
            assertTrue(ref.get("greedy_40").get("text").asText().endsWith(r.text()), "text: " + r.text());
        }
        // a tokenizer larger than the model's vocabulary is refused, naming both sizes
        Files.copy(Path.of("src/test/resources/tokenizers/llama2-tokenizer.json.gz"), tmp.resolve("x.gz"));
        try (var in = new java.util.zip.GZIPInputStream(Files.newInputStream(tmp.resolve("x.gz")))) {
            Files.write(dir.resolve("tokenizer.json"), in.readAllBytes());
        }
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Transfuse.load(dir, LoadOptions.defaults()));
        assertTrue(e.getMessage().contains("32000") && e.getMessage().contains("512"), e.getMessage());
    }
}
