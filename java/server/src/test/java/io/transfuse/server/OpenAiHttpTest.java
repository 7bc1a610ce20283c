package io.transfuse.server;

import io.transfuse.internal.Internals;
import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.GenerateOptions;
import io.transfuse.GenerationResult;
import io.transfuse.engine.EngineOptions;
import io.transfuse.engine.EngineStats;
import io.transfuse.SamplingOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The server through raw HTTP: SSE framing, error shapes, /metrics, and 64 concurrent requests against serial outputs. */
class OpenAiHttpTest {
    static TestServer ts;

    @BeforeAll
    static void start() {
        ts = new TestServer(EngineOptions.defaults(), false);
    }

    @AfterAll
    static void stop() throws Exception {
        ts.close();
    }

    static String completion(String prompt, int maxTokens, boolean stream) throws Exception {
        return Http.JSON.writeValueAsString(Map.of("model", TestServer.MODEL_ID, "prompt", prompt, "max_tokens", maxTokens,
                "temperature", 0, "stream", stream, "stream_options", Map.of("include_usage", stream)));
    }

    @Test
    void streamedCompletionIsFramedAsOpenAiSse() throws Exception {
        HttpResponse<String> whole = Http.post(ts.base() + "/v1/completions", completion("Lily and Tom", 30, false));
        assertEquals(200, whole.statusCode(), whole.body());
        HttpResponse<String> r = Http.post(ts.base() + "/v1/completions", completion("Lily and Tom", 30, true));
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("text/event-stream"));
        List<JsonNode> events = Http.sseEvents(r.body());
        StringBuilder text = new StringBuilder();
        String id = events.getFirst().get("id").asText();
        assertTrue(id.startsWith("cmpl-"), id);
        for (int i = 0; i < events.size() - 1; i++) {
            JsonNode e = events.get(i);
            assertEquals("text_completion", e.get("object").asText());
            assertEquals(id, e.get("id").asText(), "one id for the whole stream");
            JsonNode c = e.get("choices").get(0);
            text.append(c.get("text").asText());
            boolean last = i == events.size() - 2;
            assertEquals(last, !c.get("finish_reason").isNull(), "only the last choice chunk has a finish reason: " + e);
        }
        JsonNode usage = events.getLast(); // stream_options.include_usage: no choices, the counts
        assertEquals(0, usage.get("choices").size());
        JsonNode expected = Http.json(whole);
        assertEquals(expected.get("choices").get(0).get("text").asText(), text.toString());
        assertEquals(expected.get("usage"), usage.get("usage"));
        assertEquals("length", events.get(events.size() - 2).get("choices").get(0).get("finish_reason").asText());
    }

    @Test
    void badRequestsGetOpenAiErrors() throws Exception {
        String url = ts.base() + "/v1/completions";
        JsonNode e = Http.assertError(Http.post(url, "{\"model\": \"stories260K-f32\", \"prompt\": "), 400);
        assertEquals("invalid_request_error", e.get("type").asText());
        Http.assertError(Http.post(url, "[1, 2]"), 400);
        Http.assertError(Http.post(url, ""), 400);
        assertEquals("temperature", Http.assertError(Http.post(url, "{\"prompt\": \"a\", \"temperature\": -0.5}"), 400).get("param").asText());
        assertEquals("temperature", Http.assertError(Http.post(url, "{\"prompt\": \"a\", \"temperature\": \"hot\"}"), 400).get("param").asText());
        assertEquals("top_p", Http.assertError(Http.post(url, "{\"prompt\": \"a\", \"top_p\": 0}"), 400).get("param").asText());
        assertEquals("top_p", Http.assertError(Http.post(url, "{\"prompt\": \"a\", \"top_p\": 1.5}"), 400).get("param").asText());
        assertEquals("n", Http.assertError(Http.post(url, "{\"prompt\": \"a\", \"n\": 2}"), 400).get("param").asText());
        assertEquals("max_tokens", Http.assertError(Http.post(url, "{\"prompt\": \"a\", \"max_tokens\": -1}"), 400).get("param").asText());
        assertEquals("prompt", Http.assertError(Http.post(url, "{\"max_tokens\": 3}"), 400).get("param").asText());
        assertEquals("prompt", Http.assertError(Http.post(url, "{\"prompt\": [\"a\", \"b\"]}"), 400).get("param").asText());
        assertEquals("stop", Http.assertError(Http.post(url, "{\"prompt\": \"a\", \"stop\": [\"1\",\"2\",\"3\",\"4\",\"5\"]}"), 400).get("param").asText());
        assertEquals("frequency_penalty", Http.assertError(Http.post(url, "{\"prompt\": \"a\", \"frequency_penalty\": 2.5}"), 400).get("param").asText());
        assertEquals("presence_penalty", Http.assertError(Http.post(url, "{\"prompt\": \"a\", \"presence_penalty\": -3}"), 400).get("param").asText());
        JsonNode model = Http.assertError(Http.post(url, "{\"prompt\": \"a\", \"model\": \"llama-70b\"}"), 400);
        assertEquals("model", model.get("param").asText());
        assertEquals("model_not_found", model.get("code").asText());
        JsonNode tooLong = Http.assertError(Http.post(url, Http.JSON.writeValueAsString(Map.of("prompt", "Once upon a time ".repeat(300)))), 400);
        assertEquals("context_length_exceeded", tooLong.get("code").asText());
        String chat = ts.base() + "/v1/chat/completions";
        assertEquals("messages", Http.assertError(Http.post(chat, "{\"messages\": []}"), 400).get("param").asText());
        assertEquals("messages[0].role", Http.assertError(Http.post(chat, "{\"messages\": [{\"content\": \"hi\"}]}"), 400).get("param").asText());
        assertEquals("logprobs", Http.assertError(Http.post(url, "{\"prompt\": \"a\", \"logprobs\": 2}"), 400).get("param").asText());
        assertEquals("unsupported_parameter", Http.assertError(Http.post(chat, "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], "
                + "\"tools\": [{\"type\": \"function\"}]}"), 400).get("code").asText());
        JsonNode chatTooLong = Http.assertError(Http.post(chat, Http.JSON.writeValueAsString(Map.of("messages",
                List.of(Map.of("role", "user", "content", "Once upon a time ".repeat(300)))))), 400);
        assertEquals("context_length_exceeded", chatTooLong.get("code").asText());
        // No embedding model on this server.
        Http.assertError(Http.post(ts.base() + "/v1/embeddings", "{\"input\": \"hi\"}"), 400);
        Http.assertError(Http.post(ts.base() + "/v1/nothing", "{}"), 404);
        Http.assertError(Http.get(ts.base() + "/v1/completions"), 404);
        // The server still answers properly.
        assertEquals(200, Http.post(url, completion("The sun", 5, false)).statusCode());
    }

    @Test
    void healthAndModels() throws Exception {
        HttpResponse<String> h = Http.get(ts.base() + "/health");
        assertEquals(200, h.statusCode());
        assertEquals("ok", Http.json(h).get("status").asText());
        JsonNode models = Http.json(Http.get(ts.base() + "/v1/models"));
        assertEquals(1, models.get("data").size());
        assertEquals(TestServer.MODEL_ID, models.get("data").get(0).get("id").asText());
        assertEquals(TestServer.MODEL_ID, Http.json(Http.get(ts.base() + "/v1/models/" + TestServer.MODEL_ID)).get("id").asText());
        Http.assertError(Http.get(ts.base() + "/v1/models/gpt-4"), 404);
    }

    @Test
    void stopStringsEndWithStopAsTheLibraryDoes() throws Exception {
        List<String> stop = List.of(" Lily", "park");
        GenerationResult expected = ts.model.generate("Once upon a time", new GenerateOptions(60, SamplingOptions.greedy()).withStop(stop), s -> {});
        assertEquals(GenerationResult.StopReason.STOP_STRING, expected.stopReason(), "the reference stops at a stop string: " + expected.text());
        JsonNode r = Http.json(Http.post(ts.base() + "/v1/completions", Http.JSON.writeValueAsString(Map.of(
                "prompt", "Once upon a time", "max_tokens", 60, "temperature", 0, "stop", stop))));
        assertEquals(expected.text(), r.get("choices").get(0).get("text").asText());
        assertEquals("stop", r.get("choices").get(0).get("finish_reason").asText());
    }

    /** OpenAI's frequency_penalty and presence_penalty reach the sampler: the text is the library's with the same penalties. */
    @Test
    void penaltiesGiveTheLibrarysText() throws Exception {
        GenerateOptions options = GenerateOptions.builder().maxTokens(30).frequencyPenalty(1.5).presencePenalty(2).build();
        GenerationResult expected = ts.model.generate("Once upon a time", options, s -> {});
        GenerationResult plain = ts.model.generate("Once upon a time", GenerateOptions.defaults().withMaxTokens(30), s -> {});
        assertNotEquals(plain.text(), expected.text(), "the penalties change the greedy text");
        JsonNode r = Http.json(Http.post(ts.base() + "/v1/completions", Http.JSON.writeValueAsString(Map.of(
                "prompt", "Once upon a time", "max_tokens", 30, "temperature", 0, "frequency_penalty", 1.5, "presence_penalty", 2))));
        assertEquals(expected.text(), r.get("choices").get(0).get("text").asText());
    }

    /** A sample line of the Prometheus text format: name, optional {labels}, value (parsed here, independently of the writer). */
    static final Pattern SAMPLE = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*})? (\\S+)");

    @Test
    void metricsParseAsPrometheusText() throws Exception {
        assertEquals(200, Http.post(ts.base() + "/v1/completions", completion("A big dog", 12, false)).statusCode());
        HttpResponse<String> r = Http.get(ts.base() + "/metrics");
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("text/plain"), r.headers().toString());
        Map<String, Double> samples = new HashMap<>();
        Map<String, String> types = new HashMap<>();
        for (String line : r.body().split("\n")) {
            if (line.isEmpty()) continue;
            if (line.startsWith("# TYPE ")) {
                String[] p = line.split(" ");
                types.put(p[2], p[3]);
                continue;
            }
            if (line.startsWith("#")) continue;
            Matcher m = SAMPLE.matcher(line);
            assertTrue(m.matches(), "a sample line: " + line);
            double v = Double.parseDouble(m.group(3).replace("+Inf", "Infinity"));
            samples.merge(m.group(1), v, Double::sum);
        }
        assertEquals("histogram", types.get("transfuse_time_to_first_token_seconds"));
        assertEquals("histogram", types.get("transfuse_inter_token_latency_seconds"));
        assertEquals("histogram", types.get("transfuse_step_duration_seconds"));
        assertEquals("histogram", types.get("transfuse_step_tokens"));
        for (String g : List.of("transfuse_queue_length", "transfuse_running_sequences", "transfuse_kv_blocks_used", "transfuse_kv_blocks_total")) {
            assertEquals("gauge", types.get(g), g);
            assertTrue(samples.containsKey(g), g);
        }
        for (String c : List.of("transfuse_prefix_cache_hit_blocks", "transfuse_prefix_cache_query_blocks", "transfuse_generated_tokens",
                "transfuse_prompt_tokens", "transfuse_rejected_requests")) {
            // The Prometheus text format (unlike OpenMetrics) names a counter with its _total suffix in # TYPE.
            assertEquals("counter", types.get(c + "_total"), c);
            assertTrue(samples.containsKey(c + "_total"), c);
        }
        assertTrue(samples.get("transfuse_generated_tokens_total") >= 12, "tokens counted: " + samples);
        assertTrue(samples.get("transfuse_time_to_first_token_seconds_count") >= 1);
        assertTrue(samples.get("transfuse_inter_token_latency_seconds_count") >= 11);
        assertTrue(samples.get("transfuse_kv_blocks_total") > 0);
    }

    static final String SHARED = "Once upon a time, there was a little girl named Lily. She liked to play outside in the sun with her friends. ";
    static final String[] PROMPTS = {"Once upon a time", SHARED + "One day", "Lily and Tom went to the park. They", SHARED + "The cat",
            "A big dog", SHARED + "Tim had a red ball", "The sun was hot", ""};

    @Test
    void sixtyFourConcurrentRequestsEqualSerial() throws Exception {
        int n = 64;
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            GenerationResult r = ts.model.generate(PROMPTS[i % PROMPTS.length], new GenerateOptions(maxTokens(i), SamplingOptions.greedy()), s -> {});
            expected.add(r.text());
        }
        int baseline = Internals.decoder(ts.model).blockPool().held(); // the model's own generate session keeps its blocks
        List<Future<String>> results = new ArrayList<>();
        List<Future<HttpResponse<String>>> bad = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < n; i++) {
                int k = i;
                results.add(pool.submit(() -> run(k)));
                // Bad requests in between: answered with 400s, never disturbing the others.
                if (i % 8 == 0) bad.add(pool.submit(() -> Http.post(ts.base() + "/v1/completions", "{\"prompt\": \"x\", \"top_p\": -3}")));
            }
            for (int i = 0; i < n; i++) assertEquals(expected.get(i), results.get(i).get(), "request " + i);
            for (Future<HttpResponse<String>> b : bad) Http.assertError(b.get(), 400);
        }
        EngineStats s = ts.awaitIdle(baseline);
        assertTrue(s.prefixHitBlocks() > 0, "requests sharing a prompt reuse its blocks: " + s);
    }

    static int maxTokens(int i) {
        return 5 + 11 * (i % 7);
    }

    /** Request i: a completion, streamed for odd i; returns its text. */
    static String run(int i) throws Exception {
        boolean stream = i % 2 == 1;
        HttpResponse<String> r = Http.post(ts.base() + "/v1/completions", completion(PROMPTS[i % PROMPTS.length], maxTokens(i), stream));
        assertEquals(200, r.statusCode(), r.body());
        if (!stream) return Http.json(r).get("choices").get(0).get("text").asText();
        StringBuilder sb = new StringBuilder();
        for (JsonNode e : Http.sseEvents(r.body())) {
            if (e.get("choices").isEmpty()) continue; // the usage chunk
            sb.append(e.get("choices").get(0).get("text").asText());
        }
        assertFalse(sb.isEmpty() && maxTokens(i) == 0);
        return sb.toString();
    }
}
