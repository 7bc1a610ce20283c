package io.transfuse.chat;

import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;

/**
 * Python's str methods on Java strings inside Jinjava expressions. Chat templates are written for
 * Python's Jinja2, where {@code message.content.startswith('<tool_response>')},
 * {@code text.split('</think>')[-1].lstrip('\n')} or {@code name.upper()} call str methods;
 * Jinjava resolves method calls on the Java object, and java.lang.String has none of these names
 * (and its {@code split} takes a regex and drops trailing empty parts). This resolver answers those
 * calls with Python's semantics and leaves every other call to the resolvers after it.
 */
final class PythonStringMethods extends ELResolver {

    @Override
    public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
        if (!(base instanceof String s) || method == null) return null;
        Object[] a = params == null ? new Object[0] : params;
        Object result = call(s, method.toString(), a);
        if (result != NOT_HANDLED) context.setPropertyResolved(true);
        return result == NOT_HANDLED ? null : result;
    }

    private static final Object NOT_HANDLED = new Object();

    private static Object call(String s, String name, Object[] a) {
        return switch (name) {
            case "strip" -> a.length <= 1 ? rstrip(lstrip(s, chars(a)), chars(a)) : NOT_HANDLED;
            case "lstrip" -> a.length <= 1 ? lstrip(s, chars(a)) : NOT_HANDLED;
            case "rstrip" -> a.length <= 1 ? rstrip(s, chars(a)) : NOT_HANDLED;
            case "startswith" -> a.length == 1 ? anyMatch(a[0], s::startsWith) : NOT_HANDLED;
            case "endswith" -> a.length == 1 ? anyMatch(a[0], s::endsWith) : NOT_HANDLED;
            case "split" -> split(s, a);
            case "upper" -> a.length == 0 ? s.toUpperCase(Locale.ROOT) : NOT_HANDLED;
            case "lower" -> a.length == 0 ? s.toLowerCase(Locale.ROOT) : NOT_HANDLED;
            case "title" -> a.length == 0 ? title(s) : NOT_HANDLED;
            case "capitalize" -> a.length == 0 ? (s.isEmpty() ? s : s.substring(0, 1).toUpperCase(Locale.ROOT) + s.substring(1).toLowerCase(Locale.ROOT)) : NOT_HANDLED;
            case "replace" -> a.length == 2 ? s.replace(str(a[0]), str(a[1])) : NOT_HANDLED;
            case "find" -> a.length == 1 ? (long) s.indexOf(str(a[0])) : NOT_HANDLED;
            case "count" -> a.length == 1 ? count(s, str(a[0])) : NOT_HANDLED;
            case "join" -> a.length == 1 && a[0] instanceof Iterable<?> items ? join(s, items) : NOT_HANDLED;
            case "isspace" -> a.length == 0 ? !s.isEmpty() && s.isBlank() : NOT_HANDLED;
            default -> NOT_HANDLED;
        };
    }

    private static String str(Object o) {
        return o == null ? "None" : o.toString();
    }

    /** The characters to strip: null means whitespace (Python's default, also for an explicit None). */
    private static String chars(Object[] a) {
        return a.length == 0 || a[0] == null ? null : a[0].toString();
    }

    private static boolean strips(char c, String chars) {
        return chars == null ? Character.isWhitespace(c) : chars.indexOf(c) >= 0;
    }

    private static String lstrip(String s, String chars) {
        int i = 0;
        while (i < s.length() && strips(s.charAt(i), chars)) i++;
        return s.substring(i);
    }

    private static String rstrip(String s, String chars) {
        int i = s.length();
        while (i > 0 && strips(s.charAt(i - 1), chars)) i--;
        return s.substring(0, i);
    }

    /** startswith/endswith take a string or a tuple (list) of strings. */
    private static boolean anyMatch(Object arg, java.util.function.Predicate<String> test) {
        if (arg instanceof Collection<?> options) {
            for (Object o : options) if (test.test(str(o))) return true;
            return false;
        }
        return test.test(str(arg));
    }

    /** Python's split: by a literal separator keeping empty parts, or by whitespace runs with no argument. */
    private static Object split(String s, Object[] a) {
        if (a.length > 2) return NOT_HANDLED;
        int max = a.length == 2 && a[1] instanceof Number n ? n.intValue() : -1;
        List<String> parts = new ArrayList<>();
        if (a.length == 0 || a[0] == null) {
            int i = 0;
            while (true) {
                while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
                if (i == s.length()) break;
                if (max >= 0 && parts.size() == max) {
                    parts.add(rstrip(s.substring(i), null));
                    break;
                }
                int j = i;
                while (j < s.length() && !Character.isWhitespace(s.charAt(j))) j++;
                parts.add(s.substring(i, j));
                i = j;
            }
            return parts;
        }
        String sep = a[0].toString();
        if (sep.isEmpty()) throw new IllegalArgumentException("split: empty separator");
        int from = 0;
        while (max < 0 || parts.size() < max) {
            int at = s.indexOf(sep, from);
            if (at < 0) break;
            parts.add(s.substring(from, at));
            from = at + sep.length();
        }
        parts.add(s.substring(from));
        return parts;
    }

    private static String title(String s) {
        StringBuilder b = new StringBuilder(s.length());
        boolean previousCased = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            b.append(previousCased ? Character.toLowerCase(c) : Character.toUpperCase(c));
            previousCased = Character.isLetter(c);
        }
        return b.toString();
    }

    private static long count(String s, String sub) {
        if (sub.isEmpty()) return s.length() + 1;
        long n = 0;
        for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) n++;
        return n;
    }

    private static String join(String sep, Iterable<?> items) {
        StringBuilder b = new StringBuilder();
        Iterator<?> it = items.iterator();
        while (it.hasNext()) {
            b.append(str(it.next()));
            if (it.hasNext()) b.append(sep);
        }
        return b.toString();
    }

    // Property access is not this resolver's business: it answers nothing and lets the next one try.
    @Override
    public Object getValue(ELContext context, Object base, Object property) { return null; }

    @Override
    public Class<?> getType(ELContext context, Object base, Object property) { return null; }

    @Override
    public void setValue(ELContext context, Object base, Object property, Object value) {}

    @Override
    public boolean isReadOnly(ELContext context, Object base, Object property) { return true; }

    @Override
    public Iterator<java.beans.FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) { return null; }

    @Override
    public Class<?> getCommonPropertyType(ELContext context, Object base) { return null; }
}
