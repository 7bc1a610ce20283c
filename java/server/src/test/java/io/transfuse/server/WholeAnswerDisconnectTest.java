package io.transfuse.server;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.GenerateOptions;
import io.transfuse.SingleSessionGeneration;
import io.transfuse.engine.EngineOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Non-streamed requests ({@code stream: false}) on an engine made slow on purpose ({@link SlowPasses}) and with no
 * request timeout: a client that closes its connection before the answer has its generation cancelled and its KV
 * blocks freed (it would otherwise decode on to max_tokens), and an answer that outlives many connection probes is
 * still one JSON body, the same as the single-session greedy generation ({@link SingleSessionGeneration}).
 */
class WholeAnswerDisconnectTest {
    static TestServer ts;

    @BeforeAll
    static void start() {
        ts = new TestServer(EngineOptions.defaults().withListener(new SlowPasses()), false, null);
    }

    @AfterAll
    static void stop() throws Exception {
        ts.close();
    }

    static String request(String prompt, int maxTokens) throws Exception {
        return Http.JSON.writeValueAsString(Map.of("prompt", prompt, "max_tokens", maxTokens, "temperature", 0, "stream", false));
    }

    @Test
    void aClientThatLeavesBeforeTheAnswerFreesItsSequence() throws Exception {
        ts.awaitIdle(0);
        double before = ts.clientDisconnects();
        // 400 tokens at >= 20 ms a pass: 8 s if it ran to the end.
        byte[] body = request("Once upon a time", 400).getBytes(StandardCharsets.UTF_8);
        try (Socket s = Http.rawPost(ts.server.port(), "/v1/completions", body)) {
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (ts.server.engine().stats().running() < 1) {
                assertTrue(System.nanoTime() < deadline, "the request started within 30 s");
                Thread.sleep(5);
            }
            Thread.sleep(300); // a few passes (and a probe or two) while the client is still there
            assertEquals(1, ts.server.engine().stats().running(), "the request runs while the client waits");
            assertTrue(ts.server.engine().stats().kvBlocksUsed() > 0, "it holds KV blocks");
        } // the client goes away here, without reading anything
        ts.assertFreedAfterDisconnect(before, 3); // well before its 400 tokens (8 s) were done
    }

    @Test
    void anAnswerThatOutlivesManyProbesIsStillOneJsonBody() throws Exception {
        ts.awaitIdle(0);
        // 60 tokens at >= 20 ms a pass: over a second, several probe intervals.
        long t0 = System.nanoTime();
        HttpResponse<String> r = Http.post(ts.base() + "/v1/completions", request("Once upon a time", 60));
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertTrue(seconds > 3 * WholeAnswer.PROBE_MILLIS / 1e3, "the answer took several probe intervals: " + seconds + " s");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("application/json", r.headers().firstValue("content-type").orElse(""));
        assertTrue(r.body().startsWith(" "), "probes went out before the answer");
        JsonNode body = Http.json(r);
        assertEquals(60, body.get("usage").get("completion_tokens").asInt());
        assertEquals("length", body.get("choices").get(0).get("finish_reason").asText());
        String expected = SingleSessionGeneration.run(ts.model, "Once upon a time", GenerateOptions.defaults().withMaxTokens(60)).text();
        assertEquals(expected, body.get("choices").get(0).get("text").asText(), "the same text as a single session's greedy generation");
        ts.awaitIdle(0);
    }
}
