package io.transfuse.server;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.transfuse.GenerationResult;
import io.transfuse.engine.EngineListener;
import io.transfuse.engine.EngineStats;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * The server's Prometheus metrics: latency histograms fed by the engine as it runs (an {@link EngineListener},
 * called on the engine's thread: each call is one lock-free observation) and the engine's load and counters
 * read from {@link EngineStats} at scrape time. Series are prefixed {@code transfuse_}.
 */
final class ServerMetrics implements EngineListener {
    private static final double[] LATENCY_SECONDS = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
    private static final double[] STEP_TOKENS = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048};

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final Histogram timeToFirstToken, interToken, stepSeconds, stepTokens, stepSequences;
    private final Counter finished, disconnects, requests;
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();

    /** @param stats the engine's stats now (read at each scrape) */
    ServerMetrics(Supplier<EngineStats> stats) {
        timeToFirstToken = Histogram.builder().name("transfuse_time_to_first_token_seconds")
                .help("Time from a request's submission to its first generated token")
                .classicOnly().classicUpperBounds(LATENCY_SECONDS).register(registry);
        interToken = Histogram.builder().name("transfuse_inter_token_latency_seconds")
                .help("Time between two consecutive tokens of one request").classicOnly().classicUpperBounds(LATENCY_SECONDS).register(registry);
        stepSeconds = Histogram.builder().name("transfuse_step_duration_seconds")
                .help("Duration of one forward pass of the engine").classicOnly().classicUpperBounds(LATENCY_SECONDS).register(registry);
        stepTokens = Histogram.builder().name("transfuse_step_tokens")
                .help("Tokens (decode plus prefill chunks) in one forward pass").classicOnly().classicUpperBounds(STEP_TOKENS).register(registry);
        stepSequences = Histogram.builder().name("transfuse_step_sequences")
                .help("Sequences in one forward pass").classicOnly().classicUpperBounds(STEP_TOKENS).register(registry);
        finished = Counter.builder().name("transfuse_requests_finished")
                .help("Generation requests that ended with a result, by OpenAI finish reason").labelNames("finish_reason").register(registry);
        disconnects = Counter.builder().name("transfuse_client_disconnects")
                .help("Streams whose client went away; their generation was cancelled").register(registry);
        requests = Counter.builder().name("transfuse_http_requests")
                .help("HTTP requests answered, by route and status").labelNames("route", "status").register(registry);
        gauge("transfuse_queue_length", "Requests waiting to start", stats, EngineStats::queued);
        gauge("transfuse_running_sequences", "Sequences being prefilled or decoded", stats, EngineStats::running);
        gauge("transfuse_kv_blocks_used", "KV cache blocks held by sequences", stats, EngineStats::kvBlocksUsed);
        gauge("transfuse_kv_blocks_total", "KV cache blocks of the model", stats, EngineStats::kvBlocksTotal);
        counter("transfuse_prefix_cache_query_blocks", "Full prompt blocks looked up in the prefix cache", stats, EngineStats::prefixQueryBlocks);
        counter("transfuse_prefix_cache_hit_blocks", "Prompt blocks found in the prefix cache", stats, EngineStats::prefixHitBlocks);
        counter("transfuse_prompt_tokens", "Prompt tokens computed (prefix-cache hits not counted)", stats, EngineStats::promptTokens);
        counter("transfuse_generated_tokens", "Tokens generated", stats, EngineStats::generatedTokens);
        counter("transfuse_engine_steps", "Forward passes run", stats, EngineStats::steps);
        counter("transfuse_preemptions", "Sequences preempted to free KV blocks (recomputed later)", stats, EngineStats::preemptions);
        counter("transfuse_rejected_requests", "Requests refused because the queue was full", stats, EngineStats::rejected);
    }

    private void gauge(String name, String help, Supplier<EngineStats> stats, ToDoubleFunction<EngineStats> value) {
        Consumer<GaugeWithCallback.Callback> cb = c -> c.call(value.applyAsDouble(stats.get()));
        GaugeWithCallback.builder().name(name).help(help).callback(cb).register(registry);
    }

    private void counter(String name, String help, Supplier<EngineStats> stats, ToDoubleFunction<EngineStats> value) {
        Consumer<CounterWithCallback.Callback> cb = c -> c.call(value.applyAsDouble(stats.get()));
        CounterWithCallback.builder().name(name).help(help).callback(cb).register(registry);
    }

    @Override
    public void step(int sequences, int tokens, long nanos) {
        stepSeconds.observe(nanos / 1e9);
        stepTokens.observe(tokens);
        stepSequences.observe(sequences);
    }

    @Override
    public void firstToken(long nanos) {
        timeToFirstToken.observe(nanos / 1e9);
    }

    @Override
    public void interToken(long nanos) {
        interToken.observe(nanos / 1e9);
    }

    @Override
    public void finished(GenerationResult result) {
        finished.labelValues(FinishReason.of(result.stopReason())).inc();
    }

    void clientDisconnected() {
        disconnects.inc();
    }

    void request(String route, int status) {
        requests.labelValues(route, Integer.toString(status)).inc();
    }

    String contentType() {
        return writer.getContentType();
    }

    /** The Prometheus text exposition of every series. */
    byte[] scrape() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            writer.write(out, registry.scrape());
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a byte array does not fail
        }
        return out.toByteArray();
    }
}
