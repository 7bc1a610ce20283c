package io.transfuse.cli;

import io.transfuse.EmbeddingModel;
import io.transfuse.LanguageModel;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.chat.ChatTemplate;
import io.transfuse.engine.EngineOptions;
import io.transfuse.server.OpenAiServer;
import io.transfuse.server.ServerConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;

/**
 * {@code transfuse serve}: an OpenAI-compatible HTTP server (java/server) over one model, with continuous
 * batching, until interrupted (Ctrl-C, SIGTERM), which stops it and closes the models.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serves a model over an OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions, /v1/embeddings, "
                + "/v1/models, /health, /metrics), batching concurrent requests.")
final class ServeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    DeviceFlags where;

    @Option(names = "--model", paramLabel = "PATH", description = "GGUF file or Hugging Face directory (default: the bundled stories260K).")
    Path model;

    @Option(names = "--embedding-model", paramLabel = "PATH", description = "Encoder (BERT-family Hugging Face directory) for /v1/embeddings.")
    Path embeddingModel;

    @Option(names = "--chat-template", paramLabel = "FILE", description = "Jinja chat template for /v1/chat/completions instead of the model's.")
    Path chatTemplate;

    @Option(names = "--host", paramLabel = "ADDR", defaultValue = "127.0.0.1", description = "Address to listen on (default: ${DEFAULT-VALUE}; 0.0.0.0 for every interface).")
    String host;

    @Option(names = "--port", paramLabel = "N", defaultValue = "8080", description = "TCP port; 0 = any free one (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--max-sequences", paramLabel = "N", defaultValue = "0", description = "Requests generating at once; 0 = "
            + LoadOptions.DEFAULT_MAX_SEQUENCES + " (default: ${DEFAULT-VALUE}).")
    int maxSequences;

    @Option(names = "--max-batch-tokens", paramLabel = "N", defaultValue = "0", description = "Tokens per forward pass (decode plus prompt chunks); 0 = the model's (default: ${DEFAULT-VALUE}).")
    int maxBatchTokens;

    @Option(names = "--max-queued", paramLabel = "N", defaultValue = "1024", description = "Requests waiting to start before new ones get HTTP 429 (default: ${DEFAULT-VALUE}).")
    int maxQueued;

    @Option(names = "--context", paramLabel = "N", defaultValue = "0", description = "Context length per sequence; 0 = 4096, or the model's maximum when smaller (default: ${DEFAULT-VALUE}).")
    int context;

    @Option(names = "--request-timeout", paramLabel = "SECONDS", defaultValue = "0", description = "Deadline of each generation request; 0 = none (default: ${DEFAULT-VALUE}).")
    int requestTimeout;

    /** Tests: told the port once the server listens. */
    static volatile IntConsumer onListening = port -> {};
    /** Counted down to stop a running serve (tests; the shutdown hook stops the process otherwise). */
    static volatile CountDownLatch stop;

    @Override
    public Integer call() throws Exception {
        if (requestTimeout < 0) throw new IllegalArgumentException("--request-timeout must be >= 0, got " + requestTimeout);
        if (context < 0) throw new IllegalArgumentException("--context must be >= 0, got " + context);
        Path modelPath = model != null ? model : ModelHome.defaultModel();
        LoadOptions load = where.loadOptions()
                .withContextLength(context).withMaxSequences(maxSequences);
        EngineOptions engine = EngineOptions.defaults().withMaxSequences(maxSequences).withMaxBatchTokens(maxBatchTokens).withMaxQueued(maxQueued);
        PrintWriter err = spec.commandLine().getErr();
        CountDownLatch stopped = new CountDownLatch(1), closed = new CountDownLatch(1);
        stop = stopped;
        try (LanguageModel lm = Transfuse.load(modelPath, load);
             EmbeddingModel em = embeddingModel == null ? null : Transfuse.loadEncoder(embeddingModel, where.loadOptions())) {
            ChatTemplate template = chatTemplate == null ? null : fromFile(chatTemplate, lm);
            ServerConfig config = new ServerConfig(host, port, ServerConfig.idOf(modelPath),
                    embeddingModel == null ? null : ServerConfig.idOf(embeddingModel),
                    requestTimeout == 0 ? null : Duration.ofSeconds(requestTimeout), 64);
            try (OpenAiServer server = OpenAiServer.start(config, lm, template, engine, em)) {
                // On Ctrl-C / SIGTERM: stop, and let this thread close the server and the models before the JVM exits.
                Thread hook = Thread.ofPlatform().unstarted(() -> {
                    stopped.countDown();
                    try {
                        closed.await(10, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
                Runtime.getRuntime().addShutdownHook(hook);
                err.println("transfuse: serving " + config.modelId() + (em == null ? "" : " and " + config.embeddingModelId())
                        + " at http://" + host + ":" + server.port() + "/v1 (Ctrl-C stops)"
                        + (template == null ? "; no chat template, so /v1/chat/completions answers 400 (give --chat-template FILE)" : ""));
                err.flush();
                onListening.accept(server.port());
                stopped.await();
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException shuttingDown) {
                    // the hook itself stopped us
                }
            }
        } finally {
            closed.countDown();
        }
        return 0;
    }

    /** A template file, with the tokenizer's BOS and EOS texts as bos_token / eos_token (as chat --chat-template). */
    private static ChatTemplate fromFile(Path file, LanguageModel lm) throws IOException {
        String bos = lm.tokenizer().bos() >= 0 ? lm.tokenizer().tokenText(lm.tokenizer().bos()) : null;
        String eos = lm.tokenizer().eos() >= 0 ? lm.tokenizer().tokenText(lm.tokenizer().eos()) : null;
        return new ChatTemplate(Files.readString(file, StandardCharsets.UTF_8), file.toString(), bos, eos);
    }
}
