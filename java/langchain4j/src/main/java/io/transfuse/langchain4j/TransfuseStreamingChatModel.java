package io.transfuse.langchain4j;

import io.transfuse.engine.ChatEngine;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.chat.response.StreamingHandle;
import io.transfuse.ChatMessage;
import io.transfuse.GenerateOptions;
import io.transfuse.engine.Generation;

import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * A langchain4j {@link StreamingChatModel} over a Transfuse {@link io.transfuse.engine.Engine}: the reply's text
 * reaches {@link StreamingChatResponseHandler#onPartialResponse} piece by piece (whole characters), then
 * {@link StreamingChatResponseHandler#onCompleteResponse} with the whole text, finish reason and token usage.
 * The handler runs on a virtual thread of its own per request, never on the engine's thread, so a slow handler
 * slows only its own stream; {@link StreamingHandle#cancel()} (from the partial response's context) stops the
 * generation and no callback follows it. Request errors (unsupported messages or parameters) are thrown at once;
 * failures of the generation (engine overloaded, closed) go to {@link StreamingChatResponseHandler#onError}.
 */
public final class TransfuseStreamingChatModel implements StreamingChatModel, AutoCloseable {
    private final ChatEngine binding;
    private final GenerateOptions defaults;

    private TransfuseStreamingChatModel(Builder b) {
        this.defaults = b.defaults;
        this.binding = b.bind();
    }

    public static Builder builder() { return new Builder(); }

    @Override
    public void doChat(ChatRequest request, StreamingChatResponseHandler handler) {
        GenerateOptions options = ChatRequests.options(request, defaults);
        List<ChatMessage> messages = ChatRequests.messages(request.messages());
        Stream stream = new Stream(handler);
        try {
            stream.start(binding.submit(messages, options, stream.events::add));
        } catch (RuntimeException e) {
            handler.onError(Failures.map(e));
        }
    }

    @Override
    public ChatRequestParameters defaultRequestParameters() {
        return ChatRequests.parameters(defaults, binding.modelName());
    }

    /** Closes the engine and model when the builder loaded them ({@code modelPath}); otherwise does nothing. */
    @Override
    public void close() {
        binding.close();
    }

    /** One request's events (text pieces, then one terminal event) handed from the engine's thread to the handler's. */
    private final class Stream implements StreamingHandle {
        private record End(Runnable deliver) {}

        final LinkedBlockingQueue<Object> events = new LinkedBlockingQueue<>();
        private final StreamingChatResponseHandler handler;
        private volatile Generation generation;
        private volatile boolean cancelled;

        Stream(StreamingChatResponseHandler handler) {
            this.handler = handler;
        }

        void start(Generation g) {
            generation = g;
            if (cancelled) g.cancel(); // cancelled from a partial response delivered before submit returned
            // The result completes on the engine's thread after the last text piece was queued, so End comes last.
            g.result().whenComplete((r, e) -> events.add(new End(e == null
                    ? () -> handler.onCompleteResponse(ChatResponses.of(g.id(), binding.modelName(), r))
                    : () -> handler.onError(Failures.map(e)))));
            Thread.ofVirtual().name("transfuse-stream-" + g.id()).start(this::deliver);
        }

        private void deliver() {
            PartialResponseContext context = new PartialResponseContext(this);
            try {
                while (true) {
                    Object event = events.take();
                    if (cancelled) return;
                    if (event instanceof End end) {
                        end.deliver().run();
                        return;
                    }
                    try {
                        handler.onPartialResponse(new PartialResponse((String) event), context);
                    } catch (RuntimeException e) { // the handler's own failure ends its stream
                        cancelled = true;
                        generation.cancel();
                        handler.onError(e);
                        return;
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public void cancel() {
            cancelled = true;
            Generation g = generation;
            if (g != null) g.cancel();
        }

        @Override
        public boolean isCancelled() {
            return cancelled;
        }
    }

    public static final class Builder extends ChatModelBuilder<Builder> {
        private Builder() {}

        public TransfuseStreamingChatModel build() { return new TransfuseStreamingChatModel(this); }
    }
}
