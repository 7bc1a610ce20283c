package io.transfuse.springai;

import io.transfuse.internal.Internals;
import io.transfuse.ChatMessage;
import io.transfuse.GenerateOptions;
import io.transfuse.GenerationResult;
import io.transfuse.LanguageModel;
import io.transfuse.TestModels;
import io.transfuse.engine.Engine;
import io.transfuse.engine.EngineOptions;
import io.transfuse.SamplingOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.ai.chat.client.ChatClient;
import org.springframework.ai.chat.messages.AssistantMessage;
import org.springframework.ai.chat.messages.SystemMessage;
import org.springframework.ai.chat.messages.ToolResponseMessage;
import org.springframework.ai.chat.messages.UserMessage;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.ai.chat.prompt.ChatOptions;
import org.springframework.ai.chat.prompt.Prompt;
import reactor.core.Disposable;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.*;

/**
 * TransfuseChatModel through Spring AI's own ChatClient and ChatModel APIs on stories260K, against Transfuse's
 * {@link LanguageModel#chat} (the single-session generator) for the same conversation and options.
 */
class TransfuseChatModelTest {
    static LanguageModel model;
    static Engine engine;
    static TransfuseChatModel chatModel;

    @BeforeAll
    static void start() {
        model = StoriesChat.load();
        engine = Engine.start(model, EngineOptions.defaults());
        chatModel = TransfuseChatModel.builder().engine(engine).chatTemplate(StoriesChat.TEMPLATE)
                .defaultOptions(GenerateOptions.defaults().withMaxTokens(40)).build();
    }

    @AfterAll
    static void stop() {
        chatModel.close();
        engine.close();
        model.close();
    }

    static GenerationResult reference(List<ChatMessage> messages, GenerateOptions options) {
        return model.chat(StoriesChat.TEMPLATE, messages, options, s -> {});
    }

    static final String SYSTEM = "Once upon a time, there was a little girl named Lily.";

    @Test
    void chatClientContentEqualsTransfuseChat() {
        String content = ChatClient.create(chatModel).prompt().system(SYSTEM).user("She liked to play").call().content();
        GenerationResult want = reference(List.of(ChatMessage.system(SYSTEM), ChatMessage.user("She liked to play")),
                GenerateOptions.defaults().withMaxTokens(40));
        assertFalse(want.text().isBlank());
        assertEquals(want.text(), content);
    }

    @Test
    void callReportsFinishReasonAndUsage() {
        ChatResponse r = chatModel.call(new Prompt(List.of(new UserMessage("Tom had a red ball."), new AssistantMessage("He threw it to his dog."),
                new UserMessage("The dog")), ChatOptions.builder().maxTokens(9).build()));
        GenerationResult want = reference(List.of(ChatMessage.user("Tom had a red ball."), ChatMessage.assistant("He threw it to his dog."),
                ChatMessage.user("The dog")), GenerateOptions.defaults().withMaxTokens(9));
        assertEquals(want.text(), r.getResult().getOutput().getText());
        assertEquals("LENGTH", r.getResult().getMetadata().getFinishReason());
        assertEquals(want.promptTokens(), r.getMetadata().getUsage().getPromptTokens());
        assertEquals(9, r.getMetadata().getUsage().getCompletionTokens());
        assertEquals(want.promptTokens() + 9, r.getMetadata().getUsage().getTotalTokens());
        assertEquals("stories260K-f32.gguf", r.getMetadata().getModel());
        assertTrue(r.getMetadata().getId().startsWith("transfuse-"), r.getMetadata().getId());
    }

    @Test
    void chatOptionsMapOntoGeneration() {
        String full = reference(List.of(ChatMessage.user("Once upon a time")), GenerateOptions.defaults().withMaxTokens(40)).text();
        String[] words = full.trim().split(" ");
        String stop = words[Math.min(4, words.length - 1)];
        ChatResponse r = ChatClient.create(chatModel).prompt().user("Once upon a time")
                .options(ChatOptions.builder().stopSequences(List.of(stop))).call().chatResponse();
        assertEquals(full.substring(0, full.indexOf(stop)), r.getResult().getOutput().getText());
        assertEquals("STOP", r.getResult().getMetadata().getFinishReason());

        // Each of temperature, topK and topP reaches the sampler: {temperature, topK, topP}, and the same without it.
        long seed = 1234;
        List<ChatMessage> conversation = List.of(ChatMessage.user("Once upon a time"));
        float[][][] cases = {{{1.5f, 0, 1}, {0, 0, 1}}, {{1.5f, 2, 1}, {1.5f, 0, 1}}, {{1.5f, 0, 0.3f}, {1.5f, 0, 1}}};
        try (TransfuseChatModel seeded = TransfuseChatModel.builder().engine(engine).chatTemplate(StoriesChat.TEMPLATE)
                .defaultOptions(GenerateOptions.defaults().withMaxTokens(30).withSampling(new SamplingOptions(0, 0, 1, seed))).build()) {
            for (float[][] c : cases) {
                float[] p = c[0];
                String sampled = ChatClient.create(seeded).prompt().user("Once upon a time")
                        .options(ChatOptions.builder().temperature((double) p[0]).topK((int) p[1]).topP((double) p[2])).call().content();
                String want = reference(conversation, GenerateOptions.defaults().withMaxTokens(30)
                        .withSampling(new SamplingOptions(p[0], (int) p[1], p[2], seed))).text();
                String without = reference(conversation, GenerateOptions.defaults().withMaxTokens(30)
                        .withSampling(new SamplingOptions(c[1][0], (int) c[1][1], c[1][2], seed))).text();
                assertEquals(want, sampled, java.util.Arrays.toString(p));
                assertNotEquals(without, want, "the parameter under test changes the text: " + java.util.Arrays.toString(p));
            }
        }
        ChatOptions d = chatModel.getDefaultOptions();
        assertEquals(40, d.getMaxTokens());
        assertEquals(0.0, d.getTemperature());
    }

    @Test
    void streamConcatenatesToTheCallText() {
        List<String> threads = new CopyOnWriteArrayList<>();
        List<String> pieces = ChatClient.create(chatModel).prompt().system(SYSTEM).user("She liked to play").stream().content()
                .doOnNext(s -> threads.add(Thread.currentThread().getName())).collectList().block(Duration.ofSeconds(30));
        String want = reference(List.of(ChatMessage.system(SYSTEM), ChatMessage.user("She liked to play")),
                GenerateOptions.defaults().withMaxTokens(40)).text();
        assertEquals(want, String.join("", pieces));
        assertTrue(pieces.size() > 5, "streamed in pieces: " + pieces);
        assertFalse(threads.contains("transfuse-engine"), "subscribers never run on the engine's thread");

        List<ChatResponse> responses = chatModel.stream(new Prompt("Once upon a time", ChatOptions.builder().maxTokens(6).build()))
                .collectList().block(Duration.ofSeconds(30));
        ChatResponse last = responses.get(responses.size() - 1);
        assertEquals("", last.getResult().getOutput().getText());
        assertEquals("LENGTH", last.getResult().getMetadata().getFinishReason());
        assertEquals(6, last.getMetadata().getUsage().getCompletionTokens());
        StringBuilder text = new StringBuilder();
        for (ChatResponse c : responses) text.append(c.getResult().getOutput().getText());
        assertEquals(reference(List.of(ChatMessage.user("Once upon a time")), GenerateOptions.defaults().withMaxTokens(6)).text(), text.toString());
    }

    @Test
    void disposingTheStreamCancelsTheGeneration() throws Exception {
        awaitIdle(-1);
        int before = Internals.decoder(model).blockPool().held();
        List<String> got = new CopyOnWriteArrayList<>();
        Disposable d = chatModel.stream(new Prompt("Once upon a time", ChatOptions.builder().maxTokens(200).build()))
                .subscribe(r -> got.add(r.getResult().getOutput().getText()));
        long until = System.nanoTime() + 10_000_000_000L;
        while (got.isEmpty()) {
            assertTrue(System.nanoTime() < until, "no text streamed");
            Thread.sleep(1);
        }
        d.dispose();
        awaitIdle(before);
        int n = got.size();
        assertTrue(n < 200, "cancelled before the end: " + n);
    }

    /** Waits until nothing runs or waits in the engine and (unless -1) the model's KV pool holds {@code blocks} blocks. */
    static void awaitIdle(int blocks) throws InterruptedException {
        long until = System.nanoTime() + 10_000_000_000L;
        while (engine.stats().running() + engine.stats().queued() > 0 || blocks >= 0 && Internals.decoder(model).blockPool().held() != blocks) {
            assertTrue(System.nanoTime() < until, "the engine is not idle: " + engine.stats() + ", pool holds " + Internals.decoder(model).blockPool().held());
            Thread.sleep(5);
        }
    }

    @Test
    void concurrentCallers() throws Exception {
        String[] prompts = {"Once upon a time", "The cat", "Lily and Tom went to the park.", "A big dog", "The sun was hot", "One day"};
        List<Thread> threads = new ArrayList<>();
        String[] got = new String[prompts.length];
        for (int i = 0; i < prompts.length; i++) {
            int k = i;
            threads.add(Thread.ofVirtual().start(() -> got[k] = chatModel.call(prompts[k])));
        }
        for (Thread t : threads) t.join();
        for (int i = 0; i < prompts.length; i++) {
            assertEquals(reference(List.of(ChatMessage.user(prompts[i])), GenerateOptions.defaults().withMaxTokens(40)).text(), got[i], prompts[i]);
        }
    }

    @Test
    void unsupportedInputsAreRefusedByName() {
        var tool = assertThrows(UnsupportedOperationException.class, () -> chatModel.call(new Prompt(List.of(new UserMessage("hi"),
                ToolResponseMessage.builder().responses(List.of(new ToolResponseMessage.ToolResponse("1", "weather", "sunny"))).build()))));
        assertTrue(tool.getMessage().contains("message 1"), tool.getMessage());
    }

    /** frequencyPenalty and presencePenalty reach the sampler: the reply is Transfuse's with the same penalties. */
    @Test
    void penaltiesReachTheSampler() {
        List<ChatMessage> conversation = List.of(ChatMessage.user("Once upon a time"));
        String got = chatModel.call(new Prompt("Once upon a time", ChatOptions.builder().maxTokens(30)
                .frequencyPenalty(1.5).presencePenalty(3.0).build())).getResult().getOutput().getText();
        String want = reference(conversation, GenerateOptions.builder().maxTokens(30).frequencyPenalty(1.5).presencePenalty(3).build()).text();
        String without = reference(conversation, GenerateOptions.defaults().withMaxTokens(30)).text();
        assertEquals(want, got);
        assertNotEquals(without, want, "the penalties change the greedy text");
    }

    @Test
    void modelPathBuilderOwnsItsEngine() {
        try (TransfuseChatModel own = TransfuseChatModel.builder().modelPath(TestModels.storiesGguf()).chatTemplate(StoriesChat.TEMPLATE)
                .defaultOptions(GenerateOptions.defaults().withMaxTokens(12)).build()) {
            assertEquals(reference(List.of(ChatMessage.user("The cat")), GenerateOptions.defaults().withMaxTokens(12)).text(),
                    own.call(new Prompt(new SystemMessage(""), new UserMessage("The cat"))).getResult().getOutput().getText());
        }
    }
}
