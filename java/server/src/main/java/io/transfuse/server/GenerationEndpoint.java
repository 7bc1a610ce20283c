package io.transfuse.server;

import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerResponse;
import io.transfuse.GenerationResult;
import io.transfuse.TransfuseException;
import io.transfuse.engine.Engine;
import io.transfuse.engine.EngineOverloadedException;
import io.transfuse.engine.Generation;

import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * Runs one generation request on the engine and answers it, whole or streamed. Streaming never blocks the
 * engine: its text goes to a {@link TextQueue} that this (virtual) request thread drains into SSE events;
 * when a write fails the client is gone and the generation is cancelled, which frees its KV blocks. A whole
 * answer probes its connection while it waits ({@link WholeAnswer}), so a client that leaves it is noticed too.
 */
final class GenerationEndpoint {
    private final Engine engine;
    private final ServerMetrics metrics;
    private final String modelId;

    GenerationEndpoint(Engine engine, ServerMetrics metrics, String modelId) {
        this.engine = engine;
        this.metrics = metrics;
        this.modelId = modelId;
    }

    /**
     * Checks that {@code prompt} fits the context, submits it and answers.
     * @param promptParam the request field the prompt came from, for errors ("prompt", "messages")
     */
    void run(ServerResponse res, int[] prompt, String promptParam, SamplingRequest request, ResponseShape shape) {
        int context = engine.model().contextLength();
        if (prompt.length >= context) {
            throw ApiError.invalid(promptParam, "context_length_exceeded", "the prompt is " + prompt.length
                    + " tokens; this model's context holds " + context + " (at least one must be left to generate)");
        }
        TextQueue queue = new TextQueue();
        Generation g;
        try {
            g = engine.submit(prompt, request.options(), request.stream() ? queue : piece -> {});
        } catch (EngineOverloadedException e) {
            throw ApiError.overloaded(e.getMessage());
        } catch (TransfuseException | IllegalArgumentException e) {
            throw ApiError.invalid(promptParam, e.getMessage());
        }
        String id = shape.idPrefix() + g.id();
        long created = System.currentTimeMillis() / 1000;
        if (!request.stream()) {
            whole(res, g, shape, id, created);
            return;
        }
        g.result().whenComplete((r, e) -> queue.end()); // on the engine's thread: only a non-blocking add
        stream(res, g, queue, request, shape, id, created);
    }

    private void stream(ServerResponse res, Generation g, TextQueue queue, SamplingRequest request, ResponseShape shape,
                        String id, long created) {
        res.status(200);
        res.header(HeaderNames.CONTENT_TYPE, "text/event-stream");
        res.header(HeaderNames.CACHE_CONTROL, "no-cache");
        SseWriter sse = new SseWriter(res.outputStream());
        try {
            var opening = shape.opening(id, created, modelId);
            if (opening != null) sse.event(opening);
            for (String piece; (piece = queue.next()) != null; ) sse.event(shape.text(id, created, modelId, piece));
            GenerationResult r;
            try {
                r = g.result().join();
            } catch (CancellationException | CompletionException e) {
                ApiError err = failure(e);
                sse.event(err.body()); // OpenAI reports an error inside a stream as an event of its error shape
                sse.done();
                return;
            }
            sse.event(shape.finish(id, created, modelId, FinishReason.of(r.stopReason())));
            if (request.includeUsage()) sse.event(shape.usageChunk(id, created, modelId, r));
            sse.done();
        } catch (ClientGone gone) {
            g.cancel();
            metrics.clientDisconnected();
        } catch (InterruptedException e) { // the server is stopping
            g.cancel();
            Thread.currentThread().interrupt();
        } finally {
            sse.close();
        }
    }

    /** Answers with the whole result; a client that leaves before it is ready has its generation cancelled. */
    private void whole(ServerResponse res, Generation g, ResponseShape shape, String id, long created) {
        WholeAnswer answer = new WholeAnswer(res);
        try {
            try {
                GenerationResult r = answer.await(g);
                answer.send(200, shape.whole(id, created, modelId, r));
            } catch (InterruptedException e) { // the server is stopping
                g.cancel();
                Thread.currentThread().interrupt();
                answer.sendError(ApiError.internal("the server is stopping"));
            } catch (ExecutionException | CancellationException e) {
                answer.sendError(failure(e));
            }
        } catch (ClientGone gone) {
            g.cancel();
            answer.abandon();
            metrics.clientDisconnected();
        }
    }

    private static ApiError failure(Exception e) {
        Throwable cause = e instanceof ExecutionException || e instanceof CompletionException ? e.getCause() : e;
        if (cause instanceof CancellationException) {
            return new ApiError(503, "server_error", "the request was cancelled: " + cause.getMessage(), null, null, 1);
        }
        return ApiError.internal("generation failed: " + cause);
    }
}
