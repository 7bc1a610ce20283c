package io.transfuse;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.GenerationResult.StopReason;
import io.transfuse.engine.Engine;
import io.transfuse.engine.EngineOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The language model's API on the bundled stories260K: {@code decode(int[])} against llama2.c's text for its ids,
 * cancellation through a {@link CancellationToken} (from the callback, another thread, before the call), the
 * penalties reaching the sampler, and NullPointerExceptions that name the argument.
 */
class GenerationApiTest {
    private static LanguageModel model;
    private static final Consumer<String> IGNORE = s -> { };

    @BeforeAll
    static void load() {
        model = Transfuse.load(TestModels.storiesGguf(), LoadOptions.defaults().withDevice(Device.CPU).withThreads(1));
    }

    @AfterAll
    static void close() {
        model.close();
    }

    @Test
    void decodeGivesLlama2cTextForItsIds() {
        JsonNode ref = TestModels.reference().get("greedy_from_bos_200_steps");
        assertEquals(ref.get("text").asText(), model.tokenizer().decode(TestModels.ints(ref.get("ids"))));
    }

    @Test
    void decodeUndoesEncodeWithByteFallbackCharacters() {
        for (String text : List.of("Once upon a time", "Lily said: \"hi!\"\nThe end.", "caf\u00e9 \u732b \ud83d\ude00 ok")) {
            assertEquals(text, model.tokenizer().decode(model.tokenizer().encode(text, true)), text);
            assertEquals(text, model.tokenizer().decode(model.tokenizer().encode(text, false)), text);
        }
        assertEquals("", model.tokenizer().decode(new int[0]));
    }

    @Test
    void decodeRejectsIdsOutsideTheVocabularyNamingThem() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> model.tokenizer().decode(new int[] {1, 400, 100_000}));
        assertTrue(e.getMessage().contains("ids[2] = 100000"), e.getMessage());
        assertEquals("ids", assertThrows(NullPointerException.class, () -> model.tokenizer().decode(null)).getMessage());
    }

    @Test
    void generateFromTokensFollowsLlama2cAndTheTextOverload() {
        int[] ref = TestModels.ints(TestModels.reference().get("greedy_from_bos_200_steps").get("ids"));
        GenerateOptions forty = GenerateOptions.builder().maxTokens(40).build();
        GenerationResult fromBos = model.generate(new int[] {ref[0]}, forty, IGNORE);
        assertEquals(41, fromBos.tokens().length);
        assertArrayEquals(Arrays.copyOf(ref, 41), fromBos.tokens());
        // The ids the tokenizer gives for a text, fed as ids, continue as the text does.
        String prompt = "Once upon a time";
        GenerationResult fromText = model.generate(prompt, forty, IGNORE);
        GenerationResult fromIds = model.generate(model.tokenizer().encode(prompt, true), forty, IGNORE);
        assertArrayEquals(fromText.tokens(), fromIds.tokens());
        assertEquals(fromText.text(), fromIds.text());
        assertEquals(fromText.promptTokens(), fromIds.promptTokens());
    }

    @Test
    void generateFromTokensRejectsIdsOutsideTheVocabularyNamingThem() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> model.generate(new int[] {1, 400, 100_000}, GenerateOptions.defaults(), IGNORE));
        assertTrue(e.getMessage().contains("100000") && e.getMessage().contains("index 2"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> model.generate(new int[] {-1}, GenerateOptions.defaults(), IGNORE));
    }

    @Test
    void theCallbackCancelsThroughTheToken() {
        CancellationToken cancel = new CancellationToken();
        List<String> pieces = new ArrayList<>();
        GenerationResult r = model.generate("Once upon a time", GenerateOptions.defaults(), piece -> {
            pieces.add(piece);
            if (pieces.size() == 3) cancel.cancel();
        }, cancel);
        assertEquals(StopReason.CANCELLED, r.stopReason());
        assertEquals(3, pieces.size());
        assertEquals(String.join("", pieces), r.text());
        // The tokens so far are those of the uncancelled greedy run.
        GenerationResult full = model.generate("Once upon a time", GenerateOptions.defaults().withMaxTokens(20), IGNORE);
        assertTrue(full.text().startsWith(r.text()), r.text() + " / " + full.text());
        assertArrayEquals(Arrays.copyOf(full.tokens(), r.tokens().length), r.tokens());
    }

    @Test
    void anotherThreadCancels() throws Exception {
        CancellationToken cancel = new CancellationToken();
        CountDownLatch started = new CountDownLatch(1);
        Thread canceller = Thread.ofPlatform().start(() -> {
            try {
                if (started.await(30, TimeUnit.SECONDS)) cancel.cancel();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        // The callback holds the generation at its first token until the other thread has cancelled (or 30 s pass),
        // so the check before the next token sees the other thread's cancel however the machine schedules them.
        GenerationResult r = model.generate("Once", GenerateOptions.defaults(), piece -> {
            started.countDown();
            long until = System.nanoTime() + 30_000_000_000L;
            while (!cancel.isCancelled() && System.nanoTime() < until) Thread.onSpinWait();
        }, cancel);
        canceller.join();
        assertEquals(StopReason.CANCELLED, r.stopReason());
        assertEquals(1, r.generatedTokens());
    }

    @Test
    void aTokenCancelledBeforehandGeneratesNothing() {
        CancellationToken cancel = new CancellationToken();
        cancel.cancel();
        GenerationResult r = model.generate("Once upon a time", GenerateOptions.defaults(), s -> { throw new AssertionError(s); }, cancel);
        assertEquals(StopReason.CANCELLED, r.stopReason());
        assertEquals(0, r.generatedTokens());
        assertEquals("", r.text());
    }

    @Test
    void aPresencePenaltyReachesTheSampler() {
        // Greedy stories260K repeats itself within 200 tokens (llama2.c's reference text does); a huge presence
        // penalty over a 200-token window forbids any token of the window, so no generated token repeats there.
        GenerationResult plain = model.generate("Once", GenerateOptions.builder().maxTokens(120).build(), IGNORE);
        int[] plainGenerated = Arrays.copyOfRange(plain.tokens(), plain.promptTokens(), plain.tokens().length);
        assertTrue(Arrays.stream(plainGenerated).distinct().count() < plainGenerated.length, "greedy output has repeats");
        GenerationResult r = model.generate("Once", GenerateOptions.builder().maxTokens(120).presencePenalty(1000)
                .penaltyWindow(200).build(), IGNORE);
        int[] all = r.tokens();
        assertEquals(all.length, Arrays.stream(all).distinct().count(), "a token repeated: " + Arrays.toString(all));
    }

    @Test
    void nullArgumentsAreNamed() {
        GenerateOptions o = GenerateOptions.defaults();
        assertNpe("prompt", () -> model.generate((String) null, o, IGNORE));
        assertNpe("promptTokens", () -> model.generate((int[]) null, o, IGNORE));
        assertNpe("options", () -> model.generate("x", null, IGNORE));
        assertNpe("onText", () -> model.generate("x", o, null));
        assertNpe("cancel", () -> model.generate("x", o, IGNORE, null));
        assertNpe("messages", () -> model.chat(new io.transfuse.chat.ChatTemplate("{{ messages[0].content }}", "test", "", ""), null, o, IGNORE));
        assertNpe("template", () -> model.chatPrompt(null, List.of(ChatMessage.user("hi"))));
        assertNpe("path", () -> Transfuse.load(null));
        assertNpe("options", () -> Transfuse.load(TestModels.storiesGguf(), null));
        try (Session s = model.newSession()) {
            assertNpe("tokens", () -> s.feed(null, new float[model.vocabSize()]));
            assertNpe("logits", () -> s.feed(new int[] {1}, null));
        }
        try (Engine engine = Engine.start(model, EngineOptions.defaults())) {
            assertNpe("prompt", () -> engine.generate(null, o, IGNORE));
            assertNpe("options", () -> engine.generate("x", null, IGNORE));
            assertNpe("onText", () -> engine.generate("x", o, null));
            assertNpe("messages", () -> engine.chat(null, o, IGNORE));
        }
        assertNpe("model", () -> Engine.start(null, EngineOptions.defaults()));
    }

    private static void assertNpe(String name, Runnable call) {
        NullPointerException e = assertThrows(NullPointerException.class, call::run);
        assertEquals(name, e.getMessage());
    }
}
