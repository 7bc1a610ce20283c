package io.transfuse.tokenizer;

import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;

/**
 * The longest of a set of strings that a text holds at a position: a trie over UTF-16 chars, for cutting special and
 * added tokens out of text. Gemma's vocabulary has thousands of added tokens, most of them opening with '&lt;' (HTML
 * tags, "&lt;unusedN&gt;"); trying each of them at every '&lt;' of a text took half a millisecond per '&lt;', while
 * the trie walks only as far as the text still matches some token. Build it once, then share it (lookups do not
 * change it).
 */
public final class LongestMatch {
    /** Child of (node, char), keyed node << 16 | char. */
    private final Map<Long, Integer> children = new HashMap<>();
    /** Chars some string opens with: most positions of a text are rejected with one bit test. */
    private final BitSet firstChars = new BitSet(1 << 16);
    private int[] values = {-1};
    private int nodes = 1;

    /**
     * Adds {@code text} with its value ({@code >= 0}); a text added twice keeps the first value, as a scan that takes
     * the first of equally long matches would.
     */
    public void add(String text, int value) {
        if (text.isEmpty()) throw new IllegalArgumentException("an empty string cannot be matched");
        if (value < 0) throw new IllegalArgumentException("value must be >= 0, got " + value);
        firstChars.set(text.charAt(0));
        int node = 0;
        for (int i = 0; i < text.length(); i++) {
            long key = ((long) node << 16) | text.charAt(i);
            Integer child = children.get(key);
            if (child == null) {
                child = nodes++;
                if (child == values.length) values = java.util.Arrays.copyOf(values, values.length * 2);
                values[child] = -1;
                children.put(key, child);
            }
            node = child;
        }
        if (values[node] < 0) values[node] = value;
    }

    public boolean isEmpty() {
        return nodes == 1;
    }

    /** The value of the longest added string that {@code text} holds at {@code at}, or -1 when none starts there. */
    public int longestAt(String text, int at) {
        if (at >= text.length() || !firstChars.get(text.charAt(at))) return -1;
        int node = 0, best = -1;
        for (int i = at; i < text.length(); i++) {
            Integer child = children.get(((long) node << 16) | text.charAt(i));
            if (child == null) break;
            node = child;
            if (values[node] >= 0) best = values[node];
        }
        return best;
    }
}
