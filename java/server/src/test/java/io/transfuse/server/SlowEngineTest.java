package io.transfuse.server;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.engine.EngineOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Overload and disconnects, on an engine made slow on purpose ({@link SlowPasses}: 20 ms after every forward pass)
 * and with room for one waiting request: a burst gets 429s with Retry-After while the
 * admitted requests complete; a streaming client that goes away has its generation cancelled and its KV blocks freed.
 */
class SlowEngineTest {
    static TestServer ts;

    @BeforeAll
    static void start() {
        ts = new TestServer(EngineOptions.defaults().withMaxQueued(1).withListener(new SlowPasses()), false, Duration.ofMillis(1500));
    }

    @AfterAll
    static void stop() throws Exception {
        ts.close();
    }

    static String request(String prompt, int maxTokens, boolean stream) throws Exception {
        return Http.JSON.writeValueAsString(Map.of("prompt", prompt, "max_tokens", maxTokens, "temperature", 0, "stream", stream));
    }

    @Test
    void aFullQueueAnswers429WithRetryAfter() throws Exception {
        List<Future<HttpResponse<String>>> burst = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            Future<HttpResponse<String>> longOne = pool.submit(() -> Http.post(ts.base() + "/v1/completions", request("Once upon a time", 30, false)));
            // wait until it runs (not a fixed sleep: on a busy machine the request may take a while to arrive);
            // each pass then takes 20 ms, in which the queue (room for one) fills
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (ts.server.engine().stats().running() < 1) {
                assertTrue(System.nanoTime() < deadline, "the long request started within 30 s");
                Thread.sleep(5);
            }
            for (int i = 0; i < 16; i++) burst.add(pool.submit(() -> Http.post(ts.base() + "/v1/completions", request("The dog", 3, false))));
            int ok = 0, rejected = 0;
            for (Future<HttpResponse<String>> f : burst) {
                HttpResponse<String> r = f.get();
                if (r.statusCode() == 200) {
                    ok++;
                    continue;
                }
                JsonNode e = Http.assertError(r, 429);
                assertEquals("rate_limit_exceeded", e.get("code").asText());
                assertEquals("1", r.headers().firstValue("retry-after").orElse(""), "429 carries Retry-After");
                rejected++;
            }
            assertTrue(rejected > 0, "a burst of 16 into a queue of 1 was refused in part (" + ok + " admitted)");
            assertTrue(ok > 0, "some of the burst were admitted");
            assertEquals(200, longOne.get().statusCode(), "the running request is not disturbed");
        }
        assertTrue(ts.server.engine().stats().rejected() > 0);
        ts.awaitIdle(0);
    }

    @Test
    void aClientThatDisconnectsMidStreamFreesItsSequence() throws Exception {
        ts.awaitIdle(0);
        double before = ts.clientDisconnects();
        // 400 tokens at >= 20 ms a pass: 8 s if it ran to the end; the client leaves after the first event.
        byte[] body = request("Once upon a time", 400, true).getBytes(StandardCharsets.UTF_8);
        try (Socket s = Http.rawPost(ts.server.port(), "/v1/completions", body)) {
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            boolean sawData = false;
            for (String line; !sawData && (line = in.readLine()) != null; ) sawData = line.contains("data: {");
            assertTrue(sawData, "the stream started");
            assertEquals(1, ts.server.engine().stats().running(), "the request runs while the client reads");
        } // the client goes away here
        ts.assertFreedAfterDisconnect(before, 4); // well before its 400 tokens (8 s) were done
    }

    @Test
    void theRequestTimeoutEndsAGenerationWithLength() throws Exception {
        ts.awaitIdle(0);
        long t0 = System.nanoTime();
        HttpResponse<String> r = Http.post(ts.base() + "/v1/completions", request("Once upon a time", 400, false));
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertEquals(200, r.statusCode(), r.body());
        JsonNode body = Http.json(r);
        int generated = body.get("usage").get("completion_tokens").asInt();
        assertTrue(generated > 0 && generated < 400, "cut short by the 1.5 s timeout at >= 20 ms a token: " + generated);
        assertEquals("length", body.get("choices").get(0).get("finish_reason").asText());
        assertTrue(seconds > 1.4 && seconds < 4, "answered at the deadline: " + seconds + " s");
        ts.awaitIdle(0);
    }
}
