package io.transfuse.langchain4j;

import io.transfuse.internal.Internals;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.output.FinishReason;
import io.transfuse.ChatMessage;
import io.transfuse.GenerateOptions;
import io.transfuse.GenerationResult;
import io.transfuse.LanguageModel;
import io.transfuse.engine.Engine;
import io.transfuse.engine.EngineOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** TransfuseStreamingChatModel through langchain4j's StreamingChatModel API, against Transfuse's LanguageModel.chat. */
class TransfuseStreamingChatModelTest {
    static LanguageModel model;
    static Engine engine;
    static TransfuseStreamingChatModel streaming;

    @BeforeAll
    static void start() {
        model = StoriesChat.load();
        engine = Engine.start(model, EngineOptions.defaults());
        streaming = TransfuseStreamingChatModel.builder().engine(engine).chatTemplate(StoriesChat.TEMPLATE)
                .defaultOptions(GenerateOptions.defaults().withMaxTokens(60)).build();
    }

    @AfterAll
    static void stop() {
        streaming.close();
        engine.close();
        model.close();
    }

    /** Collects what the handler is told, with the thread each partial response arrived on. */
    static final class Collector implements StreamingChatResponseHandler {
        final List<String> partials = new CopyOnWriteArrayList<>();
        final List<String> threads = new CopyOnWriteArrayList<>();
        final CompletableFuture<ChatResponse> done = new CompletableFuture<>();

        @Override
        public void onPartialResponse(String text) {
            partials.add(text);
            threads.add(Thread.currentThread().getName());
        }

        @Override
        public void onCompleteResponse(ChatResponse response) { done.complete(response); }

        @Override
        public void onError(Throwable error) { done.completeExceptionally(error); }
    }

    @Test
    void partialResponsesConcatenateToTheFinalText() throws Exception {
        StreamingChatModel m = streaming;
        Collector c = new Collector();
        m.chat(List.of(SystemMessage.from("Once upon a time, there was a little girl named Lily."), UserMessage.from("She liked to play")), c);
        ChatResponse r = c.done.get(30, TimeUnit.SECONDS);
        GenerationResult want = model.chat(StoriesChat.TEMPLATE, List.of(ChatMessage.system("Once upon a time, there was a little girl named Lily."),
                ChatMessage.user("She liked to play")), GenerateOptions.defaults().withMaxTokens(60), s -> {});
        assertEquals(want.text(), r.aiMessage().text());
        assertEquals(r.aiMessage().text(), String.join("", c.partials));
        assertTrue(c.partials.size() > 5, "streamed in pieces: " + c.partials);
        assertEquals(want.generatedTokens(), r.tokenUsage().outputTokenCount());
        assertEquals(want.promptTokens(), r.tokenUsage().inputTokenCount());
        assertNotNull(r.finishReason());
        assertFalse(c.threads.contains("transfuse-engine"), "handlers never run on the engine's thread");
    }

    @Test
    void requestParametersApply() throws Exception {
        Collector c = new Collector();
        streaming.chat(ChatRequest.builder().messages(UserMessage.from("Once upon a time")).maxOutputTokens(7).build(), c);
        ChatResponse r = c.done.get(30, TimeUnit.SECONDS);
        assertEquals(7, r.tokenUsage().outputTokenCount());
        assertEquals(FinishReason.LENGTH, r.finishReason());
        assertEquals(model.chat(StoriesChat.TEMPLATE, List.of(ChatMessage.user("Once upon a time")),
                GenerateOptions.defaults().withMaxTokens(7), s -> {}).text(), String.join("", c.partials));
    }

    @Test
    void cancellingFromThePartialResponseStopsTheStream() throws Exception {
        awaitIdle(-1); // earlier tests' cancelled requests are let go first
        int before = Internals.decoder(model).blockPool().held();
        CompletableFuture<Void> cancelled = new CompletableFuture<>();
        List<String> after = new CopyOnWriteArrayList<>();
        CompletableFuture<Object> terminal = new CompletableFuture<>();
        streaming.chat(ChatRequest.builder().messages(UserMessage.from("Once upon a time")).maxOutputTokens(200).build(),
                new StreamingChatResponseHandler() {
                    @Override
                    public void onPartialResponse(PartialResponse partial, PartialResponseContext context) {
                        if (cancelled.isDone()) after.add(partial.text());
                        context.streamingHandle().cancel();
                        assertTrue(context.streamingHandle().isCancelled());
                        cancelled.complete(null);
                    }

                    @Override
                    public void onCompleteResponse(ChatResponse response) { terminal.complete(response); }

                    @Override
                    public void onError(Throwable error) { terminal.complete(error); }
                });
        cancelled.get(30, TimeUnit.SECONDS);
        awaitIdle(before);
        Thread.sleep(50);
        assertEquals(List.of(), after, "no partial response after cancel");
        assertFalse(terminal.isDone(), "no completion or error after cancel: " + terminal.getNow(null));
    }

    /**
     * Waits until nothing runs or waits in the engine and (unless -1) the model's KV pool holds {@code blocks} blocks
     * (read from the pool: the engine's stats are as of its last pass, and a cancel that leaves it idle runs none).
     */
    static void awaitIdle(int blocks) throws InterruptedException {
        long until = System.nanoTime() + 10_000_000_000L;
        while (engine.stats().running() + engine.stats().queued() > 0 || blocks >= 0 && Internals.decoder(model).blockPool().held() != blocks) {
            assertTrue(System.nanoTime() < until, "the engine is not idle: " + engine.stats() + ", pool holds " + Internals.decoder(model).blockPool().held());
            Thread.sleep(5);
        }
    }

    @Test
    void aFailingHandlerGetsOnError() throws Exception {
        CompletableFuture<Throwable> error = new CompletableFuture<>();
        streaming.chat("The cat", new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String text) { throw new IllegalStateException("client gone"); }

            @Override
            public void onCompleteResponse(ChatResponse response) { error.completeExceptionally(new AssertionError("completed")); }

            @Override
            public void onError(Throwable e) { error.complete(e); }
        });
        assertEquals("client gone", error.get(30, TimeUnit.SECONDS).getMessage());
    }
}
