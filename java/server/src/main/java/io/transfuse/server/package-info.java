/**
 * {@code transfuse serve}: an OpenAI-compatible HTTP API over the continuous-batching {@link io.transfuse.engine.Engine}
 * and the {@link io.transfuse.engine.EmbeddingEngine} (POST /v1/completions, /v1/chat/completions, /v1/embeddings;
 * GET /v1/models, /health, /metrics).
 *
 * <p>Why Helidon SE 4 (helidon-webserver): its server was written for virtual threads (every request runs on its
 * own virtual thread, with blocking reads and writes), so a streaming request is a plain loop that drains the
 * request's text queue and writes to the response's output stream; a write that fails is the client gone, and the
 * loop cancels the generation there. It has no servlet layer and few dependencies, which keeps the launcher's
 * class path and the GraalVM metadata small. Javalin 7 / Jetty 12 would serve as well; nothing here needed them.
 * SSE frames ({@code data: {json}\n\n}, then {@code data: [DONE]}) are written by hand ({@link SseWriter}) rather
 * than through helidon-webserver-sse, because OpenAI's framing is exactly that one line per event and the hand-written
 * form makes the write (and its failure) explicit.
 *
 * <p>JSON is Jackson's tree model; metrics are the Prometheus Java client 1.x (prometheus-metrics-core, text format),
 * fed by an {@link io.transfuse.engine.EngineListener} and read from {@link io.transfuse.engine.EngineStats}.
 * Field names and shapes follow the OpenAI API reference (https://platform.openai.com/docs/api-reference).
 */
package io.transfuse.server;
