package io.transfuse.server;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * OpenAI request fields this server does not implement, refused with a 400 naming the field rather than ignored
 * (a client asking for log-probabilities or tools would otherwise get an answer that silently differs
 * from what it asked for). A field set to its neutral value (null, false, 0, 1 for best_of, "text" format) is fine.
 */
final class Unsupported {
    private Unsupported() {}

    static void check(RequestBody body) {
        refuseIf(body, "echo", n -> n.asBoolean(false), "echoing the prompt");
        refuseIf(body, "logprobs", n -> n.isBoolean() ? n.booleanValue() : !n.isNull(), "log-probabilities");
        refuseIf(body, "top_logprobs", n -> n.asInt(0) != 0, "log-probabilities");
        refuseIf(body, "best_of", n -> n.asInt(1) != 1, "best_of");
        refuseIf(body, "suffix", n -> !n.asText("").isEmpty(), "suffix (insertion)");
        refuseIf(body, "tools", n -> n.size() > 0, "tools");
        refuseIf(body, "functions", n -> n.size() > 0, "functions");
        refuseIf(body, "logit_bias", n -> n.size() > 0, "logit_bias");
        refuseIf(body, "response_format", n -> !"text".equals(n.path("type").asText("text")), "response_format other than text");
    }

    private static void refuseIf(RequestBody body, String field, java.util.function.Predicate<JsonNode> set, String what) {
        JsonNode n = body.get(field);
        if (n != null && set.test(n)) throw ApiError.invalid(field, "unsupported_parameter", "this server does not support " + what + " ('" + field + "')");
    }
}
