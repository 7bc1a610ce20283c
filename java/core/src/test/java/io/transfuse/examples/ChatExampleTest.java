package io.transfuse.examples;

import io.transfuse.ChatMessage;
import io.transfuse.GgufCopies;
import io.transfuse.TestModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** Runs {@link ChatExample} on stories260K given a ChatML-style template (the replies are story words). */
class ChatExampleTest {
    @TempDir
    Path dir;

    @Test
    void runsTwoTurns() {
        Path model = GgufCopies.withMetadata(TestModels.storiesGguf(), dir.resolve("chat.gguf"), Map.of("tokenizer.chat_template",
                "{% for m in messages %}<s>{{ m.role }}\n{{ m.content }}</s>\n{% endfor %}{% if add_generation_prompt %}<s>assistant\n{% endif %}"));
        List<ChatMessage> history = ChatExample.run(model, "Once upon a time", "Then?");
        assertEquals(5, history.size());
        assertEquals("assistant", history.get(4).role());
        assertFalse(history.get(2).content().isEmpty());
    }
}
