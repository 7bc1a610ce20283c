package io.transfuse.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Raw HTTP for the tests (java.net.http): posts, SSE frames, and the OpenAI error shape. */
final class Http {
    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    private Http() {}

    static HttpResponse<String> post(String url, String body) throws IOException, InterruptedException {
        return CLIENT.send(HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> get(String url) throws IOException, InterruptedException {
        return CLIENT.send(HttpRequest.newBuilder(URI.create(url)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    /**
     * A POST of {@code body} (JSON) written by hand on a raw loopback socket, left open for the caller to read from or
     * to close early: a client that goes away, which java.net.http cannot be made to be.
     */
    static Socket rawPost(int port, String path, byte[] body) throws IOException {
        Socket s = new Socket("127.0.0.1", port);
        OutputStream out = s.getOutputStream();
        out.write(("POST " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: "
                + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
        return s;
    }

    static JsonNode json(HttpResponse<String> r) throws IOException {
        return JSON.readTree(r.body());
    }

    /** Checks an OpenAI error response: the status and {"error": {"message", "type", "param", "code"}}; returns the error. */
    static JsonNode assertError(HttpResponse<String> r, int status) throws IOException {
        assertEquals(status, r.statusCode(), r.body());
        assertEquals("application/json", r.headers().firstValue("content-type").orElse(""));
        JsonNode e = json(r).get("error");
        for (String field : List.of("message", "type", "param", "code")) assertTrue(e.has(field), "error has '" + field + "': " + r.body());
        assertTrue(e.get("message").asText().length() > 10, r.body());
        return e;
    }

    /**
     * Splits an SSE body into its events' data, checking OpenAI's framing: every event is exactly one
     * {@code data: } line followed by a blank line, and the last is {@code [DONE]} (left out of the result).
     */
    static List<JsonNode> sseEvents(String body) throws IOException {
        assertTrue(body.endsWith("data: [DONE]\n\n"), "the stream ends with data: [DONE]: " + body.substring(Math.max(0, body.length() - 100)));
        String[] frames = body.substring(0, body.length() - "data: [DONE]\n\n".length()).split("\n\n", -1);
        assertEquals("", frames[frames.length - 1], "every event ends with a blank line");
        List<JsonNode> out = new ArrayList<>();
        for (int i = 0; i < frames.length - 1; i++) {
            String f = frames[i];
            assertTrue(f.startsWith("data: ") && !f.contains("\n"), "event " + i + " is one data line: " + f);
            out.add(JSON.readTree(f.substring("data: ".length())));
        }
        return out;
    }
}
