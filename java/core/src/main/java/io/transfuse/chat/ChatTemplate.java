package io.transfuse.chat;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import io.transfuse.ChatMessage;
import jinjava.javax.el.CompositeELResolver;

import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's chat template (Jinja source from GGUF {@code tokenizer.chat_template} or Hugging Face
 * {@code tokenizer_config.json}), rendered with Jinjava the way Hugging Face's
 * {@code apply_chat_template} renders it: the variables {@code messages} (maps with role and
 * content), {@code add_generation_prompt}, {@code bos_token} and {@code eos_token}; the function
 * {@code raise_exception(message)} (an error naming the template) and {@code strftime_now(format)};
 * {@code tools} and {@code documents} left undefined; blocks trimmed as Jinja2 with
 * {@code trim_blocks} and {@code lstrip_blocks}.
 *
 * <p>Where Jinjava differs from Python's Jinja2 the template still renders as Jinja2 would:
 * Python str methods ({@link PythonStringMethods}), natural operator precedence, and two source
 * rewrites ({@link JinjaRewrites}: {@code x[::-1]}, keyword values of {@code namespace(...)}).
 * Rendered text is not interpreted again (Jinjava's nested interpretation is off: a message
 * containing "{{ ... }}" stays literal text). A fatal render error (a bad expression, an unknown
 * function or tag) is an error naming the template's origin, Jinjava's message and the source,
 * never silently wrong text; so is a filter Jinjava does not have (Jinja2 rejects those when it
 * compiles a template, Jinjava would skip them). Jinjava's warnings (a property missing from a
 * value) are what Jinja2 renders as undefined, and pass.
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class ChatTemplate {
    private static final Jinjava JINJA = newEngine();

    private final String source;
    private final String origin;
    private final String jinjavaSource;
    private final String bosToken;
    private final String eosToken;
    private final List<String> unknownFilters;

    /**
     * @param source   the Jinja text
     * @param origin   where it came from, named in errors ("model.gguf: tokenizer.chat_template")
     * @param bosToken the text of the BOS token ({@code bos_token}), "" when the model has none
     * @param eosToken the text of the EOS token ({@code eos_token}), "" when the model has none
     */
    public ChatTemplate(String source, String origin, String bosToken, String eosToken) {
        if (source == null || source.isBlank()) throw new ChatTemplateException(origin + ": the chat template is empty");
        this.source = source;
        this.origin = origin;
        this.bosToken = bosToken == null ? "" : bosToken;
        this.eosToken = eosToken == null ? "" : eosToken;
        this.jinjavaSource = JinjaRewrites.apply(source);
        List<String> unknown = new ArrayList<>();
        for (String f : JinjaRewrites.filterNames(source)) if (JINJA.getGlobalContext().getFilter(f) == null) unknown.add(f);
        this.unknownFilters = List.copyOf(unknown);
    }

    public String source() { return source; }

    public String origin() { return origin; }

    public String bosToken() { return bosToken; }

    public String eosToken() { return eosToken; }

    /**
     * The prompt text for {@code messages}; {@code addGenerationPrompt} appends what opens the
     * assistant's turn (as in Hugging Face). Errors name the origin, the Jinja error and the source.
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, Map.of());
    }

    /** As {@link #render(List, boolean)}, with extra template variables (e.g. {@code enable_thinking}). */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt, Map<String, Object> extra) {
        if (!unknownFilters.isEmpty()) throw fail("no filter named " + String.join(", ", unknownFilters) + " in Jinjava", null);
        List<Map<String, Object>> list = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("role", m.role());
            map.put("content", m.content());
            list.add(map);
        }
        Map<String, Object> context = new HashMap<>(extra);
        context.put("messages", list);
        context.put("add_generation_prompt", addGenerationPrompt);
        context.put("bos_token", bosToken);
        context.put("eos_token", eosToken);
        RenderResult result;
        try {
            result = JINJA.renderForResult(jinjavaSource, context);
        } catch (TemplateRaisedException e) {
            throw new ChatTemplateException(origin + ": the chat template refused the conversation: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw fail(describe(e), e);
        }
        for (TemplateError error : result.getErrors()) {
            Throwable raised = error.getException();
            while (raised != null && !(raised instanceof TemplateRaisedException)) raised = raised.getCause();
            if (raised != null) throw new ChatTemplateException(origin + ": the chat template refused the conversation: " + raised.getMessage(), raised);
        }
        // Warnings (a property missing from a value) are what Jinja2 renders as undefined: only fatal errors fail.
        if (result.getErrors().stream().anyMatch(e -> e.getSeverity() == TemplateError.ErrorType.FATAL)) {
            StringBuilder why = new StringBuilder();
            for (TemplateError error : result.getErrors()) {
                if (error.getSeverity() != TemplateError.ErrorType.FATAL) continue;
                if (!why.isEmpty()) why.append("; ");
                why.append("line ").append(error.getLineno()).append(": ").append(error.getMessage());
            }
            throw fail(why.toString(), null);
        }
        return result.getOutput();
    }

    private ChatTemplateException fail(String why, Throwable cause) {
        return new ChatTemplateException(origin + ": the chat template failed to render (" + why + ")\n--- template ---\n"
                + source + "\n--- end of template ---", cause);
    }

    private static String describe(Throwable e) {
        String message = e.getMessage();
        return message == null ? e.getClass().getSimpleName() : message;
    }

    /** Thrown by the template's own {@code raise_exception(message)}. */
    static final class TemplateRaisedException extends RuntimeException {
        TemplateRaisedException(String message) {
            super(message);
        }
    }

    /** {@code raise_exception(message)}: the template refuses the conversation. */
    public static Object raiseException(Object message) {
        throw new TemplateRaisedException(String.valueOf(message));
    }

    /** {@code strftime_now(format)}: the current local time in Python's strftime format. */
    public static String strftimeNow(String format) {
        return Strftime.format(format, ZonedDateTime.now());
    }

    private static Jinjava newEngine() {
        CompositeELResolver resolver = new CompositeELResolver();
        resolver.add(new PythonStringMethods());
        resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withNestedInterpretationEnabled(false)
                .withElResolver(resolver)
                .withLegacyOverrides(LegacyOverrides.newBuilder().withUseNaturalOperatorPrecedence(true)
                        .withParseWhitespaceControlStrictly(true)
                        .withUseTrimmingForNotesAndExpressions(true).withKeepNullableLoopValues(true).build())
                .build();
        Jinjava jinjava = new Jinjava(config);
        try {
            jinjava.registerFunction(new ELFunctionDefinition("", "raise_exception", ChatTemplate.class.getMethod("raiseException", Object.class)));
            jinjava.registerFunction(new ELFunctionDefinition("", "strftime_now", ChatTemplate.class.getMethod("strftimeNow", String.class)));
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException(e);
        }
        return jinjava;
    }
}
