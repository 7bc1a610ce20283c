package io.transfuse;

import io.transfuse.chat.ChatTemplateException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link LanguageModel#chat} on the bundled stories260K model given a chat template in its GGUF
 * metadata. The model knows no chat (its replies are story words); what is checked is the
 * mechanics: the template is rendered and its special tokens ("&lt;s&gt;", "&lt;/s&gt;") become those
 * token ids, the reply stops at an end-of-generation token the file names
 * ({@code tokenizer.ggml.eot_token_id}, set to a token the model is known to produce from a first,
 * unstopped run), and models without a template or with a broken one fail naming the template.
 */
class ChatTest {
    private static final String TEMPLATE = "{{ bos_token }}{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}{{ eos_token }}"
            + "{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";
    private static final GenerateOptions GREEDY = GenerateOptions.defaults().withMaxTokens(12).withSampling(SamplingOptions.greedy());
    private static final List<ChatMessage> CONVERSATION = List.of(ChatMessage.system("Tell a story."), ChatMessage.user("Once upon a time"));

    @TempDir
    Path dir;

    private Path model(String name, Map<String, Object> metadata) {
        return GgufCopies.withMetadata(TestModels.storiesGguf(), dir.resolve(name + ".gguf"), metadata);
    }

    @Test
    void rendersTheTemplateWithSpecialTokensAndStopsAtEndOfGeneration() {
        int[] firstRun;
        String firstText;
        try (LanguageModel lm = Transfuse.load(model("chat", Map.of("tokenizer.chat_template", TEMPLATE)))) {
            assertTrue(lm.chatTemplate().isPresent());
            int[] prompt = lm.chatPrompt(lm.chatTemplate().orElseThrow(), CONVERSATION);
            // <s> opens the text and each </s> closes a message: ids 1 and 2, not the pieces of "<", "/", "s", ">".
            assertEquals(1, prompt[0]);
            assertEquals(1, Arrays.stream(prompt).filter(id -> id == 1).count(), Arrays.toString(prompt));
            assertEquals(2, Arrays.stream(prompt).filter(id -> id == 2).count(), Arrays.toString(prompt));
            // The text between the special tokens is tokenized as plain text would be.
            int[] system = lm.tokenizer().encode("system: Tell a story.", false);
            assertEquals(Arrays.toString(system), Arrays.toString(Arrays.copyOfRange(prompt, 1, 1 + system.length)));
            StringBuilder streamed = new StringBuilder();
            GenerationResult r = lm.chat(CONVERSATION, GREEDY, streamed::append);
            assertEquals(12, r.generatedTokens(), "no end-of-generation token in the first run: " + r.text());
            assertEquals(r.text(), streamed.toString());
            assertEquals(prompt.length, r.promptTokens());
            firstRun = Arrays.copyOfRange(r.tokens(), r.promptTokens(), r.tokens().length);
            firstText = r.text();
        }
        // Name the first token that is new in the reply (not its first one) as the file's EOT: the reply must stop just before it.
        int stopAt = 1;
        while (stopAt < firstRun.length && contains(Arrays.copyOf(firstRun, stopAt), firstRun[stopAt])) stopAt++;
        assertTrue(stopAt < firstRun.length, "the reply repeats one token: " + Arrays.toString(firstRun));
        try (LanguageModel lm = Transfuse.load(model("eot", Map.of("tokenizer.chat_template", TEMPLATE,
                "tokenizer.ggml.eot_token_id", (long) firstRun[stopAt])))) {
            assertTrue(lm.tokenizer().endOfGeneration().contains(firstRun[stopAt]));
            GenerationResult r = lm.chat(CONVERSATION, GREEDY, s -> {});
            assertEquals(GenerationResult.StopReason.END_OF_SEQUENCE, r.stopReason());
            assertEquals(stopAt, r.generatedTokens());
            assertTrue(firstText.startsWith(r.text()), r.text() + " / " + firstText);
        }
    }

    private static boolean contains(int[] a, int v) {
        for (int x : a) if (x == v) return true;
        return false;
    }

    @Test
    void aModelWithoutTemplateOrWithABrokenOneSaysSo() {
        try (LanguageModel lm = Transfuse.load(TestModels.storiesGguf())) {
            TransfuseException e = assertThrows(TransfuseException.class, () -> lm.chat(CONVERSATION, GREEDY, s -> {}));
            assertTrue(e.getMessage().contains("no chat template") && e.getMessage().contains("stories260K-f32.gguf"), e.getMessage());
        }
        try (LanguageModel lm = Transfuse.load(model("broken", Map.of("tokenizer.chat_template", "{% for m in messages %}{{ m.content | nosuchfilter }}{% endfor %}")))) {
            ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> lm.chat(CONVERSATION, GREEDY, s -> {}));
            assertTrue(e.getMessage().contains("broken.gguf: tokenizer.chat_template"), e.getMessage());
            assertTrue(e.getMessage().contains("nosuchfilter"), "the Jinja error: " + e.getMessage());
            assertTrue(e.getMessage().contains("--- template ---"), "the template source: " + e.getMessage());
        }
        try (LanguageModel lm = Transfuse.load(model("refusing", Map.of("tokenizer.chat_template",
                "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}")))) {
            ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> lm.chat(CONVERSATION, GREEDY, s -> {}));
            assertTrue(e.getMessage().contains("refused the conversation: System role not supported"), e.getMessage());
        }
    }
}
