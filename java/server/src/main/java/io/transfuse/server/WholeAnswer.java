package io.transfuse.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerResponse;
import io.transfuse.GenerationResult;
import io.transfuse.engine.Generation;

import java.io.OutputStream;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A non-streamed (whole JSON) answer whose client is watched while the generation runs, so that a client that
 * leaves has its generation cancelled instead of decoding on to max_tokens.
 *
 * <p>Why probes: Helidon SE 4 (HTTP/1.1) gives a handler no signal that the peer closed; its connection thread is
 * the one running the handler, so nothing reads the socket, and a closed connection shows only when something is
 * written to it (helidon-io/helidon#10834 asks for such detection, for HTTP/2, as an enhancement). So while the
 * result is outstanding, every {@link #PROBE_MILLIS} ms one space is written and flushed: JSON allows whitespace
 * before a value (RFC 8259, section 2), so clients parse the body as before. The first probe after the peer closed
 * is answered with a reset, the next write fails, and {@link #await} throws {@link ClientGone}. A result that comes
 * within the first interval is sent as before (status, Content-Length); once a probe went out the status (200) is
 * sent and the body is chunked, so a failure after that is told in the body, in OpenAI's error shape.
 */
final class WholeAnswer {
    /** How often an outstanding answer probes its connection: a gone client is noticed within about two of these. */
    static final long PROBE_MILLIS = 200;
    private static final byte[] PROBE = {' '};

    private final ServerResponse res;
    /** The response body once a probe went out (status and headers sent), else null. */
    private OutputStream out;

    WholeAnswer(ServerResponse res) {
        this.res = res;
    }

    /**
     * The generation's result, probing the connection while it runs.
     *
     * @throws ClientGone          the client left (the caller cancels the generation)
     * @throws ExecutionException  the generation failed
     * @throws java.util.concurrent.CancellationException it was cancelled (the engine closed)
     */
    GenerationResult await(Generation g) throws ClientGone, ExecutionException, InterruptedException {
        while (true) {
            try {
                return g.result().get(PROBE_MILLIS, TimeUnit.MILLISECONDS);
            } catch (TimeoutException stillRunning) {
                probe();
            }
        }
    }

    private void probe() throws ClientGone {
        ClientGone.writing(() -> {
            if (out == null) {
                res.status(200);
                res.header(HeaderNames.CONTENT_TYPE, "application/json");
                out = res.outputStream();
            }
            out.write(PROBE);
            out.flush();
        });
    }

    /** Sends {@code body} with {@code status}, or in the body already begun (whose status is 200) after a probe. */
    void send(int status, JsonNode body) throws ClientGone {
        if (out == null) {
            Responses.json(res, status, body);
            return;
        }
        byte[] bytes;
        try {
            bytes = RequestBody.JSON.writeValueAsBytes(body);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("could not write a JSON response", e); // a tree always serialises
        }
        ClientGone.writing(() -> {
            out.write(bytes);
            out.close();
        });
    }

    /** After {@link ClientGone}: lets go of the body begun, if any (the connection is dead; nothing to tell). */
    void abandon() {
        if (out == null) return;
        try {
            out.close();
        } catch (java.io.IOException | RuntimeException ignored) {
            // the client is gone already
        }
    }

    /** Sends an error: with its own status and headers (Retry-After) while nothing was sent, else in the body begun. */
    void sendError(ApiError e) throws ClientGone {
        if (out == null) Responses.error(res, e);
        else send(e.status, e.body());
    }
}
