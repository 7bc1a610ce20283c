package io.transfuse.server;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.GenerateOptions;
import io.transfuse.SamplingOptions;

import java.time.Duration;
import java.util.List;

/**
 * The fields /v1/completions and /v1/chat/completions share, read and checked: how many tokens, how to sample,
 * where to stop, and whether to stream. Defaults follow the OpenAI reference (temperature 1, top_p 1); a
 * request without a seed gets a fresh one.
 *
 * @param options      what the engine is asked for
 * @param stream       answer with server-sent events
 * @param includeUsage {@code stream_options.include_usage}: a last chunk with the token counts
 */
record SamplingRequest(GenerateOptions options, boolean stream, boolean includeUsage) {
    /** OpenAI accepts at most four stop sequences. */
    static final int MAX_STOP = 4;

    /**
     * @param defaultMaxTokens max tokens when the request names none
     * @param timeout          the server's per-request deadline (null: none)
     */
    static SamplingRequest read(RequestBody body, int defaultMaxTokens, Duration timeout) {
        Unsupported.check(body);
        long n = body.integer("n", 1, Integer.MIN_VALUE, Integer.MAX_VALUE);
        if (n != 1) throw ApiError.invalid("n", "only n = 1 is supported, got " + n);
        // Chat clients send max_completion_tokens (the newer name); both mean the same here.
        String maxName = body.get("max_completion_tokens") != null ? "max_completion_tokens" : "max_tokens";
        int maxTokens = (int) body.integer(maxName, defaultMaxTokens, 0, Integer.MAX_VALUE);
        double temperature = body.number("temperature", 1.0);
        if (temperature < 0 || temperature > 2) throw ApiError.invalid("temperature", "'temperature' must be in [0, 2], got " + temperature);
        double topP = body.number("top_p", 1.0);
        if (!(topP > 0 && topP <= 1)) throw ApiError.invalid("top_p", "'top_p' must be in (0, 1], got " + topP);
        int topK = (int) body.integer("top_k", 0, 0, Integer.MAX_VALUE); // not OpenAI's, but llama.cpp's and vLLM's servers take it
        // OpenAI's penalties, in its range; Transfuse counts occurrences over the last 64 tokens (prompt included).
        double frequencyPenalty = body.number("frequency_penalty", 0.0);
        if (!(frequencyPenalty >= -2 && frequencyPenalty <= 2)) throw ApiError.invalid("frequency_penalty", "'frequency_penalty' must be in [-2, 2], got " + frequencyPenalty);
        double presencePenalty = body.number("presence_penalty", 0.0);
        if (!(presencePenalty >= -2 && presencePenalty <= 2)) throw ApiError.invalid("presence_penalty", "'presence_penalty' must be in [-2, 2], got " + presencePenalty);
        long seed = body.integer("seed", System.nanoTime(), Long.MIN_VALUE, Long.MAX_VALUE);
        List<String> stop = body.strings("stop");
        if (stop.size() > MAX_STOP) throw ApiError.invalid("stop", "'stop' takes at most " + MAX_STOP + " sequences, got " + stop.size());
        for (String s : stop) if (s.isEmpty()) throw ApiError.invalid("stop", "a stop sequence must not be empty");
        boolean stream = body.bool("stream", false);
        boolean includeUsage = false;
        JsonNode so = body.get("stream_options");
        if (so != null) {
            if (!so.isObject()) throw ApiError.invalid("stream_options", "'stream_options' must be an object");
            JsonNode iu = so.get("include_usage");
            if (iu != null && !iu.isNull() && !iu.isBoolean()) throw ApiError.invalid("stream_options.include_usage", "must be true or false");
            includeUsage = iu != null && iu.asBoolean(false);
        }
        SamplingOptions sampling = SamplingOptions.builder().temperature(temperature).topK(topK).topP(topP)
                .frequencyPenalty(frequencyPenalty).presencePenalty(presencePenalty).seed(seed).build();
        return new SamplingRequest(new GenerateOptions(maxTokens, sampling, stop, timeout), stream, includeUsage);
    }
}
