package io.transfuse.langchain4j;

import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.RateLimitException;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import io.transfuse.ChatMessage;
import io.transfuse.GenerateOptions;
import io.transfuse.GenerationResult;
import io.transfuse.LanguageModel;
import io.transfuse.TestModels;
import io.transfuse.TransfuseException;
import io.transfuse.engine.Engine;
import io.transfuse.engine.EngineOptions;
import io.transfuse.SamplingOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.*;

/**
 * TransfuseChatModel through langchain4j's own ChatModel API on stories260K, against Transfuse's
 * {@link LanguageModel#chat} (the single-session generator) for the same conversation and options.
 */
class TransfuseChatModelTest {
    static LanguageModel model;
    static Engine engine;
    static TransfuseChatModel chat;

    @BeforeAll
    static void start() {
        model = StoriesChat.load();
        engine = Engine.start(model, EngineOptions.defaults());
        chat = TransfuseChatModel.builder().engine(engine).chatTemplate(StoriesChat.TEMPLATE)
                .defaultOptions(GenerateOptions.defaults().withMaxTokens(40)).build();
    }

    @AfterAll
    static void stop() {
        chat.close();
        engine.close();
        model.close();
    }

    static GenerationResult reference(List<ChatMessage> messages, GenerateOptions options) {
        return model.chat(StoriesChat.TEMPLATE, messages, options, s -> {});
    }

    @Test
    void systemAndUserMessagesGreedyEqualTransfuseChat() {
        ChatResponse r = chat.chat(SystemMessage.from("Once upon a time, there was a little girl named Lily."),
                UserMessage.from("She liked to play"));
        GenerationResult want = reference(List.of(ChatMessage.system("Once upon a time, there was a little girl named Lily."),
                ChatMessage.user("She liked to play")), GenerateOptions.defaults().withMaxTokens(40));
        assertFalse(want.text().isBlank());
        assertEquals(want.text(), r.aiMessage().text());
        assertEquals(want.promptTokens(), r.tokenUsage().inputTokenCount());
        assertEquals(want.generatedTokens(), r.tokenUsage().outputTokenCount());
        assertEquals(want.promptTokens() + want.generatedTokens(), r.tokenUsage().totalTokenCount());
        assertEquals(want.stopReason() == GenerationResult.StopReason.MAX_TOKENS ? FinishReason.LENGTH : FinishReason.STOP, r.finishReason());
        assertEquals("stories260K-f32.gguf", r.modelName());
        assertTrue(r.id().startsWith("transfuse-"), r.id());
    }

    @Test
    void stringConvenienceAndAssistantTurns() {
        String answer = chat.chat("Once upon a time");
        assertEquals(reference(List.of(ChatMessage.user("Once upon a time")), GenerateOptions.defaults().withMaxTokens(40)).text(), answer);

        ChatResponse r = chat.chat(UserMessage.from("Tom had a red ball."), AiMessage.from("He threw it to his dog."),
                UserMessage.from("The dog"));
        assertEquals(reference(List.of(ChatMessage.user("Tom had a red ball."), ChatMessage.assistant("He threw it to his dog."),
                ChatMessage.user("The dog")), GenerateOptions.defaults().withMaxTokens(40)).text(), r.aiMessage().text());
    }

    @Test
    void maxOutputTokensAndStopSequences() {
        ChatResponse r = chat.chat(ChatRequest.builder().messages(UserMessage.from("Once upon a time")).maxOutputTokens(5).build());
        assertEquals(5, r.tokenUsage().outputTokenCount());
        assertEquals(FinishReason.LENGTH, r.finishReason());
        assertEquals(reference(List.of(ChatMessage.user("Once upon a time")), GenerateOptions.defaults().withMaxTokens(5)).text(),
                r.aiMessage().text());

        // Stop at a word the greedy continuation reaches: the text ends just before it.
        String full = reference(List.of(ChatMessage.user("Once upon a time")), GenerateOptions.defaults().withMaxTokens(40)).text();
        String[] words = full.trim().split(" ");
        String stop = words[Math.min(4, words.length - 1)];
        ChatResponse s = chat.chat(ChatRequest.builder().messages(UserMessage.from("Once upon a time")).stopSequences(List.of(stop)).build());
        assertEquals(full.substring(0, full.indexOf(stop)), s.aiMessage().text());
        assertEquals(FinishReason.STOP, s.finishReason());
    }

    /**
     * Each of temperature, topK and topP reaches the sampler: the reply equals Transfuse's for the same sampling
     * options (same seed), and each configuration is one where leaving that parameter out changes the text.
     */
    @Test
    void samplingParametersReachTheSampler() {
        long seed = 1234;
        List<ChatMessage> conversation = List.of(ChatMessage.user("Once upon a time"));
        try (TransfuseChatModel seeded = TransfuseChatModel.builder().engine(engine).chatTemplate(StoriesChat.TEMPLATE)
                .defaultOptions(GenerateOptions.defaults().withMaxTokens(30).withSampling(new SamplingOptions(0, 0, 1, seed))).build()) {
            // {temperature, topK, topP}, and the same without the parameter under test
            float[][][] cases = {
                    {{1.5f, 0, 1}, {0, 0, 1}},     // temperature
                    {{1.5f, 2, 1}, {1.5f, 0, 1}},  // topK
                    {{1.5f, 0, 0.3f}, {1.5f, 0, 1}}, // topP
            };
            for (float[][] c : cases) {
                float[] p = c[0];
                ChatResponse r = seeded.chat(ChatRequest.builder().messages(UserMessage.from("Once upon a time"))
                        .temperature((double) p[0]).topK((int) p[1]).topP((double) p[2]).build());
                String want = reference(conversation, GenerateOptions.defaults().withMaxTokens(30)
                        .withSampling(new SamplingOptions(p[0], (int) p[1], p[2], seed))).text();
                String without = reference(conversation, GenerateOptions.defaults().withMaxTokens(30)
                        .withSampling(new SamplingOptions(c[1][0], (int) c[1][1], c[1][2], seed))).text();
                assertEquals(want, r.aiMessage().text(), java.util.Arrays.toString(p));
                assertNotEquals(without, want, "the parameter under test changes the text: " + java.util.Arrays.toString(p));
            }
        }
    }

    @Test
    void defaultRequestParametersReflectTheDefaults() {
        var p = chat.defaultRequestParameters();
        assertEquals(40, p.maxOutputTokens());
        assertEquals(0.0, p.temperature());
        assertEquals(1.0, p.topP());
        assertEquals(0, p.topK());
    }

    @Test
    void concurrentCallersGetTheirOwnGreedyAnswers() throws Exception {
        String[] prompts = {"Once upon a time", "The cat", "Lily and Tom went to the park.", "A big dog", "The sun was hot",
                "Tim had a toy car.", "Sue saw a bird", "One day"};
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<String>> answers = new ArrayList<>();
            for (String p : prompts) answers.add(pool.submit(() -> chat.chat(p)));
            for (int i = 0; i < prompts.length; i++) {
                assertEquals(reference(List.of(ChatMessage.user(prompts[i])), GenerateOptions.defaults().withMaxTokens(40)).text(),
                        answers.get(i).get(), prompts[i]);
            }
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void unsupportedFeaturesAreRefusedByName() {
        ChatModel m = chat;
        var tools = assertThrows(UnsupportedFeatureException.class, () -> m.chat(ChatRequest.builder().messages(UserMessage.from("hi"))
                .toolSpecifications(ToolSpecification.builder().name("weather").description("the weather").build()).build()));
        assertTrue(tools.getMessage().contains("tool"), tools.getMessage());
        var image = assertThrows(UnsupportedFeatureException.class, () -> m.chat(UserMessage.from(
                TextContent.from("what is this?"), ImageContent.from("https://example.invalid/cat.png"))));
        assertTrue(image.getMessage().contains("message 0"), image.getMessage());
    }

    /** frequencyPenalty and presencePenalty reach the sampler: the reply is Transfuse's with the same penalties. */
    @Test
    void penaltiesReachTheSampler() {
        List<ChatMessage> conversation = List.of(ChatMessage.user("Once upon a time"));
        try (TransfuseChatModel m = TransfuseChatModel.builder().engine(engine).chatTemplate(StoriesChat.TEMPLATE)
                .defaultOptions(GenerateOptions.defaults().withMaxTokens(30)).build()) {
            ChatResponse r = m.chat(ChatRequest.builder().messages(UserMessage.from("Once upon a time"))
                    .frequencyPenalty(1.5).presencePenalty(3.0).build());
            String want = reference(conversation, GenerateOptions.builder().maxTokens(30).frequencyPenalty(1.5).presencePenalty(3).build()).text();
            String without = reference(conversation, GenerateOptions.defaults().withMaxTokens(30)).text();
            assertEquals(want, r.aiMessage().text());
            assertNotEquals(without, want, "the penalties change the greedy text");
        }
    }

    /** A full queue is langchain4j's retriable RateLimitException, for the chat and the streaming model alike. */
    @Test
    void overloadIsARateLimit() throws Exception {
        try (Engine full = Engine.start(model, EngineOptions.defaults().withMaxQueued(0));
             TransfuseChatModel m = TransfuseChatModel.builder().engine(full).chatTemplate(StoriesChat.TEMPLATE).build();
             TransfuseStreamingChatModel s = TransfuseStreamingChatModel.builder().engine(full).chatTemplate(StoriesChat.TEMPLATE).build()) {
            var e = assertThrows(RateLimitException.class, () -> m.chat("Once upon a time"));
            assertTrue(e.getMessage().contains("queue is full"), e.getMessage());
            var error = new java.util.concurrent.CompletableFuture<Throwable>();
            s.chat("Once upon a time", new dev.langchain4j.model.chat.response.StreamingChatResponseHandler() {
                @Override
                public void onCompleteResponse(ChatResponse r) { error.completeExceptionally(new AssertionError("completed")); }

                @Override
                public void onError(Throwable t) { error.complete(t); }
            });
            assertInstanceOf(RateLimitException.class, error.get(10, java.util.concurrent.TimeUnit.SECONDS));
        }
    }

    @Test
    void modelPathBuilderOwnsItsEngineAndNeedsATemplate() {
        var e = assertThrows(TransfuseException.class, () -> TransfuseChatModel.builder().modelPath(TestModels.storiesGguf()).build());
        assertTrue(e.getMessage().contains("chat template"), e.getMessage());
        try (TransfuseChatModel own = TransfuseChatModel.builder().modelPath(TestModels.storiesGguf()).chatTemplate(StoriesChat.TEMPLATE)
                .defaultOptions(GenerateOptions.defaults().withMaxTokens(12)).build()) {
            assertEquals(reference(List.of(ChatMessage.user("The cat")), GenerateOptions.defaults().withMaxTokens(12)).text(),
                    own.chat("The cat"));
        }
        assertThrows(IllegalArgumentException.class, () -> TransfuseChatModel.builder().chatTemplate(StoriesChat.TEMPLATE).build());
    }
}
