package io.transfuse.chat;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The two source rewrites that let Jinjava parse chat templates written for Python's Jinja2, each
 * turning Jinja2 syntax Jinjava misreads into an equivalent it reads right:
 * <ul>
 * <li>{@code x[::-1]} (a reversed copy; Jinjava's parser has no extended slices) becomes
 *     {@code (x|reverse|list)}.
 * <li>keyword arguments of {@code namespace(...)} get parentheses around their values:
 *     Jinjava binds {@code namespace(n=messages|length - 1)} as {@code (n=messages|length) - 1}
 *     (Qwen2.5 / Qwen3 templates), Jinja2 as {@code n=(messages|length - 1)}.
 * </ul>
 * String literals are left alone. Besides, one newline ending the source is dropped, as Jinja2
 * does by default. Nothing else is changed.
 */
final class JinjaRewrites {
    private JinjaRewrites() {}

    private static final Pattern REVERSED = Pattern.compile("([A-Za-z_][A-Za-z0-9_.]*)\\[\\s*::\\s*-1\\s*]");
    private static final Pattern NAMESPACE = Pattern.compile("\\bnamespace\\s*\\(");
    private static final Pattern KEYWORD = Pattern.compile("^\\s*[A-Za-z_][A-Za-z0-9_]*\\s*=(?!=)");

    private static final Pattern TAG = Pattern.compile("\\{\\{.*?}}|\\{%.*?%}", Pattern.DOTALL);
    private static final Pattern STRING = Pattern.compile("'(?:[^'\\\\]|\\\\.)*'|\"(?:[^\"\\\\]|\\\\.)*\"");
    private static final Pattern FILTER = Pattern.compile("\\|\\s*([A-Za-z_][A-Za-z0-9_]*)");

    /**
     * The filter names the template uses ({@code x | trim}), read from its {@code {{ }}} and
     * {@code {% %}} tags outside string literals. Jinja2 rejects an unknown filter when it compiles
     * a template; Jinjava skips it silently, so {@link ChatTemplate} checks these names itself.
     */
    static java.util.Set<String> filterNames(String source) {
        java.util.Set<String> names = new java.util.TreeSet<>();
        Matcher tag = TAG.matcher(source);
        while (tag.find()) {
            Matcher f = FILTER.matcher(STRING.matcher(tag.group()).replaceAll("''"));
            while (f.find()) names.add(f.group(1));
        }
        return names;
    }

    static String apply(String source) {
        // Jinja2's default (keep_trailing_newline=False, as Hugging Face renders): one final newline of the source is dropped.
        String s = source.endsWith("\r\n") ? source.substring(0, source.length() - 2)
                : source.endsWith("\n") ? source.substring(0, source.length() - 1) : source;
        return wrapNamespaceArguments(REVERSED.matcher(s).replaceAll("($1|reverse|list)"));
    }

    private static String wrapNamespaceArguments(String s) {
        StringBuilder out = new StringBuilder(s.length() + 16);
        Matcher m = NAMESPACE.matcher(s);
        int copied = 0;
        while (m.find(copied)) {
            int open = m.end(); // just after '('
            int close = matchingParen(s, open);
            if (close < 0) break; // unbalanced: leave it for the parser to report
            out.append(s, copied, open);
            int start = open;
            for (int i = open; i <= close; i++) {
                if (i == close || (s.charAt(i) == ',' && depthBetween(s, open, i) == 0)) {
                    out.append(wrapKeyword(s.substring(start, i)));
                    if (i < close) out.append(',');
                    start = i + 1;
                } else if (s.charAt(i) == '\'' || s.charAt(i) == '"') {
                    i = endOfString(s, i);
                }
            }
            out.append(')');
            copied = close + 1;
        }
        out.append(s, copied, s.length());
        return out.toString();
    }

    private static String wrapKeyword(String argument) {
        Matcher k = KEYWORD.matcher(argument);
        if (!k.find()) return argument;
        String value = argument.substring(k.end());
        if (value.isBlank()) return argument;
        return argument.substring(0, k.end()) + "(" + value + ")";
    }

    /** Index of the ')' closing the '(' just before {@code from}, skipping strings; -1 if none. */
    private static int matchingParen(String s, int from) {
        int depth = 1;
        for (int i = from; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\'' || c == '"') i = endOfString(s, i);
            else if (c == '(' || c == '[' || c == '{') depth++;
            else if (c == ')' || c == ']' || c == '}') {
                if (--depth == 0) return c == ')' ? i : -1;
            }
        }
        return -1;
    }

    /** Bracket depth at {@code to}, counted from {@code from} (inside the call's parentheses), skipping strings. */
    private static int depthBetween(String s, int from, int to) {
        int depth = 0;
        for (int i = from; i < to; i++) {
            char c = s.charAt(i);
            if (c == '\'' || c == '"') i = endOfString(s, i);
            else if (c == '(' || c == '[' || c == '{') depth++;
            else if (c == ')' || c == ']' || c == '}') depth--;
        }
        return depth;
    }

    /** Index of the quote closing the string literal that opens at {@code at} (backslash escapes honoured). */
    private static int endOfString(String s, int at) {
        char q = s.charAt(at);
        for (int i = at + 1; i < s.length(); i++) {
            if (s.charAt(i) == '\\') i++;
            else if (s.charAt(i) == q) return i;
        }
        return s.length() - 1;
    }
}
