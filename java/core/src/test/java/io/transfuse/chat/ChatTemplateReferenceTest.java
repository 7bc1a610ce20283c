package io.transfuse.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.transfuse.ChatMessage;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Real chat templates (Llama 2 / 3 / 3.1, Qwen3, Gemma 3, Mistral, Phi-3, SmolLM2: resources
 * chat/templates) rendered by {@link ChatTemplate} (Jinjava) over the conversations of
 * chat/conversations.json, compared character for character with the renderings that
 * {@code @huggingface/jinja}, an independent Jinja engine, made of the same inputs
 * (chat/renderings.json, written by {@code ci/chat-template-fixtures.mjs}). A conversation the
 * reference refuses (raise_exception: roles that do not alternate) must be refused here too, with
 * the template's own message.
 */
class ChatTemplateReferenceTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    static JsonNode resource(String name) {
        try (InputStream in = ChatTemplateReferenceTest.class.getResourceAsStream("/chat/" + name)) {
            if (in == null) throw new IllegalStateException("missing test resource chat/" + name);
            return JSON.readTree(in);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static ChatTemplate template(String name) {
        JsonNode t = resource("templates/" + name + ".json");
        return new ChatTemplate(t.get("chat_template").asText(), "templates/" + name + ".json",
                t.get("bos_token").asText(), t.get("eos_token").asText());
    }

    static List<ChatMessage> messages(JsonNode conversation) {
        List<ChatMessage> list = new ArrayList<>();
        for (JsonNode m : conversation.get("messages")) list.add(new ChatMessage(m.get("role").asText(), m.get("content").asText()));
        return list;
    }

    static Stream<Arguments> cases() {
        JsonNode renderings = resource("renderings.json").get("renderings");
        List<Arguments> cases = new ArrayList<>();
        renderings.fieldNames().forEachRemaining(t -> {
            for (JsonNode c : resource("conversations.json")) {
                cases.add(Arguments.of(t, c.get("name").asText(), c, renderings.get(t).get(c.get("name").asText())));
            }
        });
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} / {1}")
    @MethodSource("cases")
    void rendersAsHuggingFaceJinja(String templateName, String conversationName, JsonNode conversation, JsonNode expected) {
        ChatTemplate template = template(templateName);
        List<ChatMessage> messages = messages(conversation);
        boolean addGenerationPrompt = conversation.get("add_generation_prompt").asBoolean();
        if (expected.has("error")) {
            ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> template.render(messages, addGenerationPrompt));
            assertTrue(e.getMessage().contains(expected.get("error").asText()), e.getMessage());
            assertTrue(e.getMessage().contains("templates/" + templateName + ".json"), "names the template: " + e.getMessage());
        } else {
            assertEquals(expected.get("text").asText(), template.render(messages, addGenerationPrompt));
        }
    }
}
