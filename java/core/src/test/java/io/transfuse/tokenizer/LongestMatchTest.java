package io.transfuse.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The trie against the scan it replaces: try every string at the position, keep the longest (the first of equals). */
class LongestMatchTest {
    private static int plain(List<String> strings, String text, int at) {
        int best = -1;
        for (int i = 0; i < strings.size(); i++) {
            String s = strings.get(i);
            if (text.startsWith(s, at) && (best < 0 || s.length() > strings.get(best).length())) best = i;
        }
        return best;
    }

    @Test
    void equalsTryingEveryStringOnRandomTexts() {
        Random random = new Random(3);
        String alphabet = "<>|a b\n\u2581🤗";
        int hits = 0;
        for (int trial = 0; trial < 50; trial++) {
            List<String> strings = new ArrayList<>();
            LongestMatch trie = new LongestMatch();
            int count = 1 + random.nextInt(40);
            for (int i = 0; i < count; i++) {
                String s = randomText(random, alphabet, 1 + random.nextInt(5));
                strings.add(s); // duplicates included: the first index must win
                trie.add(s, i);
            }
            String text = randomText(random, alphabet, 300);
            for (int at = 0; at <= text.length(); at++) {
                int expected = plain(strings, text, at);
                assertEquals(expected, trie.longestAt(text, at), "trial " + trial + " at " + at + " strings " + strings);
                if (expected >= 0) hits++;
            }
        }
        assertTrue(hits > 1000, "the texts should hold the strings often: " + hits);
    }

    private static String randomText(Random random, String alphabet, int length) {
        int[] cps = alphabet.codePoints().toArray();
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < length; i++) sb.appendCodePoint(cps[random.nextInt(cps.length)]);
        return sb.toString();
    }

    @Test
    void emptyTrieAndBadArguments() {
        LongestMatch trie = new LongestMatch();
        assertTrue(trie.isEmpty());
        assertEquals(-1, trie.longestAt("abc", 0));
        assertThrows(IllegalArgumentException.class, () -> trie.add("", 0));
        assertThrows(IllegalArgumentException.class, () -> trie.add("x", -1));
    }
}
