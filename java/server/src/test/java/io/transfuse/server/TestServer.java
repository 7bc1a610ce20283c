package io.transfuse.server;

import io.transfuse.Device;
import io.transfuse.EmbeddingModel;
import io.transfuse.LanguageModel;
import io.transfuse.LoadOptions;
import io.transfuse.TestModels;
import io.transfuse.Transfuse;
import io.transfuse.chat.ChatTemplate;
import io.transfuse.engine.EngineOptions;
import io.transfuse.engine.EngineStats;
import io.transfuse.model.bert.RandomEncoder;
import io.transfuse.tensor.DType;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A server on a loopback ephemeral port over the bundled stories260K model (CPU, 64 sequences), with a plain chat
 * template (the model has none) and a small random BERT (written by core's RandomEncoder) for /v1/embeddings.
 */
final class TestServer implements AutoCloseable {
    static final String MODEL_ID = "stories260K-f32";
    static final String EMBEDDING_ID = "random-bert";

    final LanguageModel model;
    final EmbeddingModel encoder;
    final ChatTemplate template;
    final OpenAiServer server;
    private final Path dir;

    TestServer(EngineOptions engineOptions, boolean withEncoder) {
        this(engineOptions, withEncoder, null);
    }

    /** @param requestTimeout the server's deadline per generation request (null: none) */
    TestServer(EngineOptions engineOptions, boolean withEncoder, Duration requestTimeout) {
        try {
            dir = Files.createTempDirectory("transfuse-server-test");
            model = Transfuse.load(TestModels.storiesGguf(), LoadOptions.defaults().withDevice(Device.CPU).withMaxSequences(64));
            template = plainTemplate();
            encoder = withEncoder ? Transfuse.loadEncoder(RandomEncoder.bert(32, 2, 4, 64, 40)
                    .write(dir.resolve(EMBEDDING_ID), 7, DType.F32), LoadOptions.defaults().withDevice(Device.CPU)) : null;
            server = OpenAiServer.start(new ServerConfig("127.0.0.1", 0, MODEL_ID, withEncoder ? EMBEDDING_ID : null, requestTimeout, 64),
                    model, template, engineOptions, encoder);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static ChatTemplate plainTemplate() {
        try (InputStream in = TestServer.class.getResourceAsStream("/plain-chat.jinja")) {
            return new ChatTemplate(new String(in.readAllBytes(), StandardCharsets.UTF_8), "plain-chat.jinja", null, null);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    String base() {
        return "http://127.0.0.1:" + server.port();
    }

    /** Waits until the engine has nothing queued or running and holds no more KV blocks than {@code blocks}. */
    EngineStats awaitIdle(int blocks) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        EngineStats s = server.engine().stats();
        while (System.nanoTime() < deadline) {
            s = server.engine().stats();
            if (s.queued() == 0 && s.running() == 0 && s.kvBlocksUsed() <= blocks) return s;
            Thread.sleep(10);
        }
        return fail("the engine did not return to idle: " + s);
    }

    private static final Pattern DISCONNECTS = Pattern.compile("(?m)^transfuse_client_disconnects_total (\\S+)$");

    /** The server's count of clients that left before their answer, from /metrics. */
    double clientDisconnects() throws IOException, InterruptedException {
        Matcher m = DISCONNECTS.matcher(Http.get(base() + "/metrics").body());
        if (!m.find()) fail("/metrics has no transfuse_client_disconnects_total");
        return Double.parseDouble(m.group(1));
    }

    /**
     * After a client left: the engine is idle with no KV block held within {@code seconds}, and the server counted one
     * more disconnect than {@code disconnectsBefore}.
     */
    void assertFreedAfterDisconnect(double disconnectsBefore, double seconds) throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        awaitIdle(0);
        double took = (System.nanoTime() - t0) / 1e9;
        assertTrue(took < seconds, "the generation was cancelled: idle after " + took + " s (at most " + seconds + " s)");
        assertEquals(0, server.engine().stats().kvBlocksUsed(), "its KV blocks went back to the pool");
        assertEquals(disconnectsBefore + 1, clientDisconnects(), 0, "counted as a client disconnect");
    }

    @Override
    public void close() throws IOException {
        server.close();
        if (encoder != null) encoder.close();
        model.close();
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) Files.delete(p);
        }
    }
}
