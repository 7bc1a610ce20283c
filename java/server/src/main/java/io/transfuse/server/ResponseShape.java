package io.transfuse.server;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.transfuse.GenerationResult;

/**
 * The JSON a generation endpoint answers with: the whole response, or the chunks of a stream. Completions and
 * chat completions differ only here (object names, {@code text} versus {@code message} / {@code delta}).
 */
interface ResponseShape {
    /** The whole (non-streamed) response. */
    ObjectNode whole(String id, long created, String model, GenerationResult r);

    /** The chunk that opens a stream (chat names the role there), or null. */
    ObjectNode opening(String id, long created, String model);

    /** A chunk carrying {@code text}. */
    ObjectNode text(String id, long created, String model, String text);

    /** The chunk that ends the choice with its finish reason. */
    ObjectNode finish(String id, long created, String model, String finishReason);

    /** The prefix of response ids ("cmpl-", "chatcmpl-"). */
    String idPrefix();

    /** The object name of stream chunks, for the usage chunk. */
    String chunkObject();

    /** {@code stream_options.include_usage}'s last chunk: no choices, the token counts. */
    default ObjectNode usageChunk(String id, long created, String model, GenerationResult r) {
        ObjectNode o = header(id, chunkObject(), created, model);
        o.putArray("choices");
        o.set("usage", usage(r));
        return o;
    }

    static ObjectNode header(String id, String object, long created, String model) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("id", id);
        o.put("object", object);
        o.put("created", created);
        o.put("model", model);
        return o;
    }

    static ObjectNode usage(GenerationResult r) {
        ObjectNode u = JsonNodeFactory.instance.objectNode();
        u.put("prompt_tokens", r.promptTokens());
        u.put("completion_tokens", r.generatedTokens());
        u.put("total_tokens", r.promptTokens() + r.generatedTokens());
        return u;
    }

    /** /v1/completions: {@code text_completion} objects, {@code choices[].text}. */
    ResponseShape COMPLETION = new ResponseShape() {
        @Override
        public ObjectNode whole(String id, long created, String model, GenerationResult r) {
            ObjectNode o = header(id, "text_completion", created, model);
            choice(o, r.text(), FinishReason.of(r.stopReason()));
            o.set("usage", usage(r));
            return o;
        }

        @Override
        public ObjectNode opening(String id, long created, String model) { return null; }

        @Override
        public ObjectNode text(String id, long created, String model, String text) {
            ObjectNode o = header(id, "text_completion", created, model);
            choice(o, text, null);
            return o;
        }

        @Override
        public ObjectNode finish(String id, long created, String model, String finishReason) {
            ObjectNode o = header(id, "text_completion", created, model);
            choice(o, "", finishReason);
            return o;
        }

        private static void choice(ObjectNode o, String text, String finishReason) {
            ObjectNode c = o.putArray("choices").addObject();
            c.put("index", 0);
            c.put("text", text);
            c.putNull("logprobs");
            c.put("finish_reason", finishReason);
        }

        @Override
        public String idPrefix() { return "cmpl-"; }

        @Override
        public String chunkObject() { return "text_completion"; }
    };

    /** /v1/chat/completions: {@code chat.completion} with {@code message}, {@code chat.completion.chunk} with {@code delta}. */
    ResponseShape CHAT = new ResponseShape() {
        @Override
        public ObjectNode whole(String id, long created, String model, GenerationResult r) {
            ObjectNode o = header(id, "chat.completion", created, model);
            ObjectNode c = o.putArray("choices").addObject();
            c.put("index", 0);
            ObjectNode m = c.putObject("message");
            m.put("role", "assistant");
            m.put("content", r.text());
            m.putNull("refusal");
            c.putNull("logprobs");
            c.put("finish_reason", FinishReason.of(r.stopReason()));
            o.set("usage", usage(r));
            return o;
        }

        @Override
        public ObjectNode opening(String id, long created, String model) {
            ObjectNode o = header(id, "chat.completion.chunk", created, model);
            ObjectNode delta = delta(o, null);
            delta.put("role", "assistant");
            delta.put("content", "");
            return o;
        }

        @Override
        public ObjectNode text(String id, long created, String model, String text) {
            ObjectNode o = header(id, "chat.completion.chunk", created, model);
            delta(o, null).put("content", text);
            return o;
        }

        @Override
        public ObjectNode finish(String id, long created, String model, String finishReason) {
            ObjectNode o = header(id, "chat.completion.chunk", created, model);
            delta(o, finishReason);
            return o;
        }

        private static ObjectNode delta(ObjectNode o, String finishReason) {
            ObjectNode c = o.putArray("choices").addObject();
            c.put("index", 0);
            ObjectNode d = c.putObject("delta");
            c.putNull("logprobs");
            c.put("finish_reason", finishReason);
            return d;
        }

        @Override
        public String idPrefix() { return "chatcmpl-"; }

        @Override
        public String chunkObject() { return "chat.completion.chunk"; }
    };
}
