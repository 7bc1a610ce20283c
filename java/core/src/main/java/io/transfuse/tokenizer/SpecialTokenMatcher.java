package io.transfuse.tokenizer;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds special tokens written in text ("&lt;|im_start|&gt;", "[INST]") so that they become those
 * tokens instead of being split into pieces: at each position the longest token text that starts
 * there wins; the text between matches is left for the tokenizer's model.
 */
final class SpecialTokenMatcher {
    /** A stretch of text ({@code token} -1) or one matched special token. */
    record Fragment(String text, int token) {}

    private final Map<Character, List<int[]>> byFirstChar = new HashMap<>(); // {id, length}, longest first
    private final String[] texts;

    SpecialTokenMatcher(String[] texts, List<Integer> ids) {
        this.texts = texts;
        for (int id : ids) byFirstChar.computeIfAbsent(texts[id].charAt(0), c -> new ArrayList<>()).add(new int[] {id, texts[id].length()});
        for (List<int[]> list : byFirstChar.values()) list.sort(Comparator.comparingInt((int[] e) -> -e[1]).thenComparingInt(e -> e[0]));
    }

    List<Fragment> split(String text) {
        List<Fragment> out = new ArrayList<>();
        if (byFirstChar.isEmpty()) {
            if (!text.isEmpty()) out.add(new Fragment(text, -1));
            return out;
        }
        int start = 0;
        for (int i = 0; i < text.length(); ) {
            int matched = match(text, i);
            if (matched < 0) {
                i++;
                continue;
            }
            if (i > start) out.add(new Fragment(text.substring(start, i), -1));
            out.add(new Fragment(texts[matched], matched));
            i += texts[matched].length();
            start = i;
        }
        if (start < text.length()) out.add(new Fragment(text.substring(start), -1));
        return out;
    }

    private int match(String text, int at) {
        List<int[]> candidates = byFirstChar.get(text.charAt(at));
        if (candidates == null) return -1;
        for (int[] c : candidates) if (text.startsWith(texts[c[0]], at)) return c[0];
        return -1;
    }
}
