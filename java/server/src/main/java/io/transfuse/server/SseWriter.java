package io.transfuse.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Server-sent events as OpenAI streams them: each event one {@code data: <json>} line and a blank line,
 * flushed at once, and {@code data: [DONE]} at the end. A failed write (the client went away) is thrown
 * as {@link ClientGone} so the caller can cancel the generation behind the stream.
 */
final class SseWriter {
    private final OutputStream out;

    SseWriter(OutputStream out) {
        this.out = out;
    }

    void event(JsonNode json) throws ClientGone {
        try {
            write("data: " + RequestBody.JSON.writeValueAsString(json) + "\n\n");
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("could not write a JSON event", e); // a tree always serialises
        }
    }

    void done() throws ClientGone {
        write("data: [DONE]\n\n");
    }

    private void write(String frame) throws ClientGone {
        ClientGone.writing(() -> {
            out.write(frame.getBytes(StandardCharsets.UTF_8));
            out.flush();
        });
    }

    void close() {
        try {
            out.close();
        } catch (IOException | RuntimeException ignored) {
            // the client is gone already; nothing to tell it
        }
    }
}
