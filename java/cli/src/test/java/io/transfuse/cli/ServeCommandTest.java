package io.transfuse.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code transfuse serve} in-process on an ephemeral port: it answers /health and the OpenAI routes, and stops cleanly. */
class ServeCommandTest {
    @AfterEach
    void reset() {
        ServeCommand.onListening = port -> {};
    }

    @Test
    void servesTheBundledModelUntilStopped(@TempDir Path tmp) throws Exception {
        Path template = Files.writeString(tmp.resolve("chat.jinja"),
                "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}assistant:");
        CompletableFuture<Integer> port = new CompletableFuture<>();
        ServeCommand.onListening = port::complete;
        CompletableFuture<MainTest.Run> run = CompletableFuture.supplyAsync(() -> MainTest.run("serve", "--model",
                MainTest.ROOT.resolve("models/stories260K/stories260K-f32.gguf").toString(), "--device", "cpu", "--port", "0",
                "--max-sequences", "4", "--chat-template", template.toString()));
        int p = port.get(60, TimeUnit.SECONDS);
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        ObjectMapper json = new ObjectMapper();
        HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + p + "/health")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, health.statusCode());
        assertEquals("ok", json.readTree(health.body()).get("status").asText());
        HttpResponse<String> chat = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + p + "/v1/chat/completions"))
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\": \"stories260K-f32\", \"max_tokens\": 8, "
                        + "\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, chat.statusCode(), chat.body());
        JsonNode usage = json.readTree(chat.body()).get("usage");
        assertTrue(usage.get("completion_tokens").asInt() > 0, chat.body());
        ServeCommand.stop.countDown();
        MainTest.Run r = run.get(30, TimeUnit.SECONDS);
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("serving stories260K-f32 at http://127.0.0.1:" + p + "/v1"), r.err());
    }

    @Test
    void aBadPortIsAOneLineError() {
        MainTest.Run r = MainTest.run("serve", "--model", MainTest.ROOT.resolve("models/stories260K/stories260K-f32.gguf").toString(),
                "--device", "cpu", "--port", "70000");
        MainTest.assertOneLineError(r, 2, "port", "70000");
    }
}
