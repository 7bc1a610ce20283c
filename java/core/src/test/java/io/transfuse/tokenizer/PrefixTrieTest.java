package io.transfuse.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** {@link PrefixTrie} against a map of the same strings: every prefix of a text that is a key, shortest first. */
class PrefixTrieTest {
    /** The values of the keys that text[at...] begins with, shortest first, walking the trie. */
    private static List<Integer> walk(PrefixTrie trie, String text, int at) {
        List<Integer> out = new ArrayList<>();
        int node = PrefixTrie.root();
        for (int i = at; i < text.length(); i++) {
            node = trie.child(node, text.charAt(i));
            if (node < 0) break;
            if (trie.value(node) >= 0) out.add(trie.value(node));
        }
        return out;
    }

    @Test
    void findsEveryPrefixThatIsAKeyAndGrowsFromATinyTable() {
        Random random = new Random(5);
        String alphabet = "ab\u00e9\u4e2d\ud83e\udd17\u2581";
        Map<String, Integer> keys = new HashMap<>();
        PrefixTrie trie = new PrefixTrie(1); // forces many rehashes
        for (int i = 0; i < 5000; i++) {
            StringBuilder sb = new StringBuilder();
            for (int k = 1 + random.nextInt(6); k > 0; k--) sb.append(alphabet.charAt(random.nextInt(alphabet.length())));
            String key = sb.toString();
            keys.put(key, i); // a key added again takes the new value
            trie.put(key, i);
        }
        for (int t = 0; t < 500; t++) {
            StringBuilder sb = new StringBuilder();
            for (int k = 0; k < 12; k++) sb.append(alphabet.charAt(random.nextInt(alphabet.length())));
            String text = sb.toString();
            for (int at = 0; at < text.length(); at++) {
                List<Integer> want = new ArrayList<>();
                for (int end = at + 1; end <= text.length(); end++) {
                    Integer v = keys.get(text.substring(at, end));
                    if (v != null) want.add(v);
                }
                assertEquals(want, walk(trie, text, at), "text " + text + " at " + at);
            }
        }
    }

    @Test
    void refusesEmptyKeysAndNegativeValues() {
        PrefixTrie trie = new PrefixTrie(4);
        assertThrows(IllegalArgumentException.class, () -> trie.put("", 1));
        assertThrows(IllegalArgumentException.class, () -> trie.put("a", -1));
        assertEquals(-1, trie.child(PrefixTrie.root(), 'a'));
    }
}
