package io.transfuse.chat;

import io.transfuse.ChatMessage;
import org.junit.jupiter.api.Test;

import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Jinja2 behaviours chat templates rely on that Jinjava lacks on its own, each against the
 * output Python's Jinja2 gives for the same expression (written out by hand from Python's str
 * semantics: split keeps empty parts, strip takes a set of characters, ...).
 */
class ChatTemplateTest {
    private static String render(String template, String content) {
        return new ChatTemplate(template, "test", "<s>", "</s>").render(List.of(ChatMessage.user(content)), false, Map.of());
    }

    @Test
    void pythonStringMethods() {
        assertEquals("[a, , b, ]", render("{{ messages[0].content.split(',') }}", "a,,b,"));
        assertEquals("3", render("{{ messages[0].content.split('|')|length }}", "x|y|z")); // a literal separator, not a regex
        assertEquals("[a, b c]", render("{{ messages[0].content.split(none, 1) }}", " a  b c "));
        assertEquals("b", render("{{ messages[0].content.split('</think>')[-1].lstrip('\\n') }}", "a</think>\n\nb"));
        assertEquals("xyx|--xy", render("{{ messages[0].content.strip('-') }}|{{ messages[0].content.rstrip('x-') }}", "--xyx--"));
        assertEquals("True False True", render("{{ messages[0].content.startswith('<tool') }} {{ messages[0].content.endswith('x') }} "
                + "{{ messages[0].content.startswith(('a', '<')) }}", "<tool_response>").replace("true", "True").replace("false", "False"));
        assertEquals("HELLO hello Hello World", render("{{ messages[0].content.upper() }} {{ messages[0].content.lower() }} "
                + "{{ 'hello world'.title() }}", "Hello"));
        assertEquals("a-b-c", render("{{ '-'.join(messages[0].content.split(' ')) }}", "a b c"));
    }

    @Test
    void namespaceReversedSliceAndNoNestedInterpretation() {
        assertEquals("2", render("{% set ns = namespace(i=messages|length + 1) %}{{ ns.i }}", "x"));
        assertEquals("cba", render("{% set parts = messages[0].content.split(',') %}{% for c in parts[::-1] %}{{ c }}{% endfor %}", "a,b,c"));
        assertEquals("{{ 7 * 6 }} {% if %}", render("{{ messages[0].content }}", "{{ 7 * 6 }} {% if %}"));
        assertEquals("<s>x</s>", render("{{ bos_token }}{{ messages[0].content }}{{ eos_token }}\n", "x"), "the final newline is dropped");
    }

    @Test
    void strftimeNowFormatsLikePython() {
        ZonedDateTime t = ZonedDateTime.of(2024, 7, 26, 9, 5, 3, 0, ZoneOffset.UTC);
        assertEquals("26 Jul 2024", Strftime.format("%d %b %Y", t));
        assertEquals("Friday, July 26 09:05:03 AM 208 %", Strftime.format("%A, %B %d %H:%M:%S %p %j %%", t));
        assertTrue(render("{{ strftime_now('%Y') }}", "x").matches("\\d{4}"));
    }

    @Test
    void errorsNameTheTemplate() {
        ChatTemplate bad = new ChatTemplate("{% for m in messages %}{{ m.content", "model.gguf: tokenizer.chat_template", "", "");
        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> bad.render(List.of(ChatMessage.user("x")), true));
        assertTrue(e.getMessage().startsWith("model.gguf: tokenizer.chat_template: the chat template failed to render ("), e.getMessage());
        assertTrue(e.getMessage().contains("{% for m in messages %}{{ m.content"), "the source: " + e.getMessage());
        assertThrows(ChatTemplateException.class, () -> new ChatTemplate("  ", "empty", "", ""));
    }
}
