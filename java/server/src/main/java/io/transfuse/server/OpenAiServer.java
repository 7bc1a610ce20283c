package io.transfuse.server;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.WebServer;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import io.transfuse.ChatMessage;
import io.transfuse.EmbeddingModel;
import io.transfuse.LanguageModel;
import io.transfuse.chat.ChatTemplate;
import io.transfuse.chat.ChatTemplateException;
import io.transfuse.engine.EmbeddingEngine;
import io.transfuse.engine.Engine;
import io.transfuse.engine.EngineOptions;
import io.transfuse.engine.EngineStats;

import java.util.List;

/**
 * The OpenAI-compatible HTTP server: Helidon routes over one {@link Engine} (generation) and, when an embedding
 * model is given, one {@link EmbeddingEngine}. It does not own the models: close the server, then the models.
 * Every request runs on its own virtual thread; a bad one is answered with OpenAI's error shape and touches
 * nothing shared.
 */
public final class OpenAiServer implements AutoCloseable {
    private final ServerConfig config;
    private final LanguageModel model;
    private final ChatTemplate chatTemplate;
    private final Engine engine;
    private final EmbeddingEngine embeddings;
    private final ServerMetrics metrics;
    private final GenerationEndpoint generation;
    private final EmbeddingsEndpoint embeddingsEndpoint;
    private final long started = System.currentTimeMillis() / 1000;
    private final WebServer server;

    private OpenAiServer(ServerConfig config, LanguageModel model, ChatTemplate chatTemplate, EngineOptions engineOptions,
                         EmbeddingModel embeddingModel) {
        if (embeddingModel != null && config.embeddingModelId() == null) {
            throw new IllegalArgumentException("an embedding model needs an id (ServerConfig.embeddingModelId)");
        }
        this.config = config;
        this.model = model;
        this.chatTemplate = chatTemplate;
        Engine[] holder = new Engine[1];
        this.metrics = new ServerMetrics(() -> holder[0] == null ? idle() : holder[0].stats());
        this.engine = Engine.start(model, engineOptions.withListener(new BothListeners(metrics, engineOptions.listener())));
        holder[0] = engine;
        this.embeddings = embeddingModel == null ? null : EmbeddingEngine.start(embeddingModel, config.embeddingBatch(), false);
        this.generation = new GenerationEndpoint(engine, metrics, config.modelId());
        this.embeddingsEndpoint = embeddings == null ? null : new EmbeddingsEndpoint(embeddings, config.embeddingModelId());
        try {
            this.server = WebServer.builder().host(config.host()).port(config.port()).routing(this::routes).build().start();
        } catch (RuntimeException e) {
            closeEngines();
            throw e;
        }
    }

    /**
     * Starts serving {@code model} (and {@code embeddingModel}, may be null) as {@code config} says.
     * @param chatTemplate the template for /v1/chat/completions (null: the model's own; chat requests fail with a 400 without one)
     */
    public static OpenAiServer start(ServerConfig config, LanguageModel model, ChatTemplate chatTemplate, EngineOptions engineOptions,
                                     EmbeddingModel embeddingModel) {
        return new OpenAiServer(config, model, chatTemplate != null ? chatTemplate : model.chatTemplate().orElse(null),
                engineOptions, embeddingModel);
    }

    /** The port the server listens on (the one chosen when the config said 0). */
    public int port() { return server.port(); }

    /** The generation engine (its stats, for tests and monitoring). */
    public Engine engine() { return engine; }

    private static EngineStats idle() {
        return new EngineStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    }

    private void routes(HttpRouting.Builder r) {
        r.post("/v1/completions", handler("/v1/completions", this::completions))
                .post("/v1/chat/completions", handler("/v1/chat/completions", this::chat))
                .post("/v1/embeddings", handler("/v1/embeddings", this::embed))
                .get("/v1/models", handler("/v1/models", (req, res) -> Responses.json(res, 200, models())))
                .get("/v1/models/{id}", handler("/v1/models/{id}", (req, res) -> Responses.json(res, 200, model(req.path().pathParameters().get("id")))))
                .get("/health", handler("/health", (req, res) -> Responses.json(res, 200, health())))
                .get("/metrics", handler("/metrics", (req, res) -> {
                    res.header(HeaderNames.CONTENT_TYPE, metrics.contentType());
                    res.send(metrics.scrape());
                }))
                .any(handler("unknown", (req, res) -> {
                    throw ApiError.notFound("no route " + req.prologue().method().text() + " " + req.path().path()
                            + " (this server answers POST /v1/completions, /v1/chat/completions, /v1/embeddings; GET /v1/models, /health, /metrics)");
                }));
    }

    private interface Route {
        void handle(ServerRequest req, ServerResponse res) throws Exception;
    }

    /** Answers ApiErrors with their status and body, anything else with a 500; counts every answer. */
    private io.helidon.webserver.http.Handler handler(String name, Route route) {
        return (req, res) -> {
            try {
                route.handle(req, res);
            } catch (ApiError e) {
                Responses.error(res, e);
            } catch (Exception e) {
                Responses.error(res, ApiError.internal("internal error: " + e));
            }
            metrics.request(name, res.status().code());
        };
    }

    private static RequestBody body(ServerRequest req) {
        if (!req.content().hasEntity()) throw ApiError.invalid(null, "the request has no body; send a JSON object");
        return RequestBody.parse(req.content().as(byte[].class));
    }

    private void checkModel(RequestBody body, String served) {
        String asked = body.string("model");
        if (asked != null && !asked.equals(served)) {
            throw ApiError.invalid("model", "model_not_found", "model '" + asked + "' is not served here; this server has '" + served + "'");
        }
    }

    private void completions(ServerRequest req, ServerResponse res) {
        RequestBody body = body(req);
        checkModel(body, config.modelId());
        if (body.get("prompt") == null) throw ApiError.invalid("prompt", "'prompt' is required");
        List<String> prompts = body.strings("prompt");
        if (prompts.size() != 1) throw ApiError.invalid("prompt", "'prompt' must be one string (or an array of one), got " + prompts.size());
        SamplingRequest s = SamplingRequest.read(body, 16, config.requestTimeout()); // OpenAI's default max_tokens for completions
        int[] tokens = model.tokenizer().encode(prompts.getFirst(), true);
        generation.run(res, tokens, "prompt", s, ResponseShape.COMPLETION);
    }

    private void chat(ServerRequest req, ServerResponse res) {
        RequestBody body = body(req);
        checkModel(body, config.modelId());
        List<ChatMessage> messages = ChatMessages.read(body);
        // Without a limit a reply may fill the context (the engine stops there with finish_reason "length").
        SamplingRequest s = SamplingRequest.read(body, model.contextLength(), config.requestTimeout());
        if (chatTemplate == null) {
            throw ApiError.invalid("messages", "chat_template_missing", "the model " + config.modelId()
                    + " has no chat template; start the server with --chat-template FILE, or use /v1/completions");
        }
        int[] tokens;
        try {
            tokens = model.chatPrompt(chatTemplate, messages);
        } catch (ChatTemplateException e) { // the template refused the conversation (roles out of order, say)
            throw ApiError.invalid("messages", "the chat template could not render the messages: " + e.getMessage());
        }
        generation.run(res, tokens, "messages", s, ResponseShape.CHAT);
    }

    private void embed(ServerRequest req, ServerResponse res) {
        RequestBody body = body(req);
        if (embeddingsEndpoint == null) {
            throw ApiError.invalid("model", "model_not_found", "no embedding model is served here; start the server with --embedding-model PATH");
        }
        checkModel(body, config.embeddingModelId());
        Responses.json(res, 200, embeddingsEndpoint.run(body));
    }

    private List<String> modelIds() {
        return embeddings == null ? List.of(config.modelId()) : List.of(config.modelId(), config.embeddingModelId());
    }

    private ObjectNode models() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("object", "list");
        ArrayNode data = o.putArray("data");
        for (String id : modelIds()) data.add(modelObject(id));
        return o;
    }

    private ObjectNode model(String id) {
        if (!modelIds().contains(id)) throw new ApiError(404, "invalid_request_error", "model '" + id + "' is not served here; this server has "
                + modelIds(), "model", "model_not_found", 0);
        return modelObject(id);
    }

    private ObjectNode modelObject(String id) {
        ObjectNode m = JsonNodeFactory.instance.objectNode();
        m.put("id", id);
        m.put("object", "model");
        m.put("created", started);
        m.put("owned_by", "transfuse");
        return m;
    }

    private ObjectNode health() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("status", "ok");
        EngineStats s = engine.stats();
        o.put("queued", s.queued());
        o.put("running", s.running());
        return o;
    }

    private void closeEngines() {
        engine.close();
        if (embeddings != null) embeddings.close();
    }

    /** Stops listening, then cancels what still runs. The models stay open. */
    @Override
    public void close() {
        try {
            server.stop();
        } finally {
            closeEngines();
        }
    }
}
