package io.transfuse.server;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A request the server refuses, with what the client gets: an HTTP status and OpenAI's error body
 * {@code {"error": {"message", "type", "param", "code"}}}.
 */
final class ApiError extends RuntimeException {
    final int status;
    final String type, param, code;
    /** Seconds for a Retry-After header (0 = none). */
    final int retryAfterSeconds;

    ApiError(int status, String type, String message, String param, String code, int retryAfterSeconds) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    /** 400: a malformed body or a value out of range; {@code param} names the field at fault (null if none). */
    static ApiError invalid(String param, String message) {
        return new ApiError(400, "invalid_request_error", message, param, null, 0);
    }

    static ApiError invalid(String param, String code, String message) {
        return new ApiError(400, "invalid_request_error", message, param, code, 0);
    }

    static ApiError notFound(String message) {
        return new ApiError(404, "invalid_request_error", message, null, "not_found", 0);
    }

    static ApiError overloaded(String message) {
        return new ApiError(429, "rate_limit_error", message, null, "rate_limit_exceeded", 1);
    }

    static ApiError internal(String message) {
        return new ApiError(500, "server_error", message, null, null, 0);
    }

    ObjectNode body() {
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        ObjectNode e = root.putObject("error");
        e.put("message", getMessage());
        e.put("type", type);
        e.put("param", param);
        e.put("code", code);
        return root;
    }
}
