package io.transfuse.cli;

import io.transfuse.GgufCopies;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code transfuse chat} one-shot paths on the bundled stories260K model with a chat template
 * added to its GGUF metadata. The model tells stories rather than chats, so the replies are
 * nonsense; checked are the mechanics: the template renders the system message, each turn and
 * the earlier replies (history), the special tokens of the rendered text, greedy replies are
 * the same from --prompt and from stdin, and a model without a template fails in one line unless
 * --chat-template gives one.
 */
class ChatCommandTest {
    private static final String TEMPLATE = "{{ bos_token }}{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}{{ eos_token }}"
            + "{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";

    @TempDir
    Path dir;

    @AfterEach
    void restoreStdin() {
        ChatCommand.stdin = System.in;
    }

    private static Path stories() {
        return Path.of(System.getProperty("transfuse.root", "../..")).resolve("models/stories260K/stories260K-f32.gguf");
    }

    private Path chatModel() {
        return GgufCopies.withMetadata(stories(), dir.resolve("chat.gguf"),
                Map.of("tokenizer.chat_template", TEMPLATE));
    }

    @Test
    void repliesToEachPromptWithTheHistoryRendered() {
        Path model = chatModel();
        MainTest.Run r = MainTest.run("chat", "--model", model.toString(), "--system", "Tell a story.", "--prompt", "Once upon a time",
                "--prompt", "The end", "--temperature", "0", "--max-tokens", "12", "--show-prompt");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("--- prompt ---\n<s>system: Tell a story.</s>user: Once upon a time</s>assistant:\n--- end of prompt ---"), r.err());
        // The second prompt carries the system message, the first exchange (the reply as streamed) and the new turn.
        String opening = "--- prompt ---\n<s>system: Tell a story.</s>user: Once upon a time</s>assistant: ";
        String closing = "</s>user: The end</s>assistant:\n--- end of prompt ---";
        int from = r.err().indexOf(opening), to = r.err().indexOf(closing);
        assertTrue(from >= 0 && to > from, r.err());
        String first = r.err().substring(from + opening.length(), to);
        assertTrue(first.strip().length() > 3, "a reply: " + r.out());
        assertTrue(r.out().startsWith(first + "\n") && r.out().length() > first.length() + 4, "both replies streamed: " + r.out());
        assertTrue(r.err().contains("reply: 12 tokens"), r.err());

        // The same first turn from stdin gives the same greedy reply.
        ChatCommand.stdin = new ByteArrayInputStream("Once upon a time\n".getBytes(StandardCharsets.UTF_8));
        MainTest.Run piped = MainTest.run("chat", "--model", model.toString(), "--system", "Tell a story.", "--temperature", "0", "--max-tokens", "12");
        assertEquals(0, piped.code(), piped.err());
        assertEquals(first + "\n", piped.out());
    }

    @Test
    void aModelWithoutTemplateNeedsChatTemplate() throws Exception {
        Path plain = stories();
        MainTest.Run r = MainTest.run("chat", "--model", plain.toString(), "--prompt", "Hi");
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("transfuse: ") && r.err().contains("no chat template") && r.err().contains("--chat-template"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());

        Path template = Files.writeString(dir.resolve("template.jinja"), TEMPLATE);
        MainTest.Run withFile = MainTest.run("chat", "--model", plain.toString(), "--chat-template", template.toString(), "--prompt", "Once upon a time",
                "--temperature", "0", "--max-tokens", "12");
        MainTest.Run embedded = MainTest.run("chat", "--model", chatModel().toString(), "--prompt", "Once upon a time",
                "--temperature", "0", "--max-tokens", "12");
        assertEquals(0, withFile.code(), withFile.err());
        assertEquals(embedded.out(), withFile.out(), "the template from a file renders as the embedded one (bos/eos from the tokenizer)");

        MainTest.Run broken = MainTest.run("chat", "--model", plain.toString(), "--chat-template",
                Files.writeString(dir.resolve("broken.jinja"), "{% for m in messages %}{{ m.content }}").toString(), "--prompt", "Hi");
        assertEquals(1, broken.code());
        assertTrue(broken.err().contains("broken.jinja: the chat template failed to render"), broken.err());
    }
}
