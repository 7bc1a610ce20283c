package io.transfuse.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerResponse;

/** Writing whole JSON responses and OpenAI-shaped errors with Helidon. */
final class Responses {
    private Responses() {}

    static void json(ServerResponse res, int status, JsonNode body) {
        byte[] bytes;
        try {
            bytes = RequestBody.JSON.writeValueAsBytes(body);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("could not write a JSON response", e);
        }
        res.status(status);
        res.header(HeaderNames.CONTENT_TYPE, "application/json");
        res.send(bytes);
    }

    static void error(ServerResponse res, ApiError e) {
        if (res.isSent()) return; // a stream already under way reports errors in-band
        if (e.retryAfterSeconds > 0) res.header(HeaderNames.RETRY_AFTER, Integer.toString(e.retryAfterSeconds));
        json(res, e.status, e.body());
    }
}
