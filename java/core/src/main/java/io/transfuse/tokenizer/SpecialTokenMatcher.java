package io.transfuse.tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * Finds special tokens written in text ("&lt;|im_start|&gt;", "[INST]") so that they become those
 * tokens instead of being split into pieces: at each position the longest token text that starts
 * there wins (found in a trie, {@link LongestMatch}); the text between matches is left for the tokenizer's model.
 */
final class SpecialTokenMatcher {
    /** A stretch of text ({@code token} -1) or one matched special token. */
    record Fragment(String text, int token) {}

    private final LongestMatch tokens = new LongestMatch(); // the lowest id of a text repeated in the vocabulary
    private final String[] texts;

    SpecialTokenMatcher(String[] texts, List<Integer> ids) {
        this.texts = texts;
        for (int id : ids.stream().sorted().toList()) tokens.add(texts[id], id);
    }

    List<Fragment> split(String text) {
        List<Fragment> out = new ArrayList<>();
        if (tokens.isEmpty()) {
            if (!text.isEmpty()) out.add(new Fragment(text, -1));
            return out;
        }
        int start = 0;
        for (int i = 0; i < text.length(); ) {
            int matched = tokens.longestAt(text, i);
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
}
