package io.transfuse.tokenizer.hf;

import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link PrecompiledCharsMap} reads SentencePiece's compiled nmt_nfkc rules (from the T5-layout fixture) as
 * SentencePiece itself lists them: {@code spm_normalize --decompile} wrote every rule of the same model as
 * "source code points TAB target code points" (spm-nmt-nfkc-rules.tsv.gz keeps all one-character rules and every
 * 50th longer one; see the README).
 */
class PrecompiledCharsMapTest {
    private static PrecompiledCharsMap t5Map() {
        String base64 = Fixtures.json("spm-t5-unigram-tokenizer.json.gz").get("normalizer").get("precompiled_charsmap").asText();
        return PrecompiledCharsMap.parse(Base64.getDecoder().decode(base64), "t5");
    }

    private static String codePoints(String hex) {
        StringBuilder sb = new StringBuilder();
        for (String h : hex.trim().split(" ")) if (!h.isEmpty()) sb.appendCodePoint(Integer.parseInt(h, 16));
        return sb.toString();
    }

    private static Map<String, String> rules() throws IOException {
        Map<String, String> rules = new HashMap<>();
        try (InputStream in = Fixtures.class.getResourceAsStream("/tokenizers/spm-nmt-nfkc-rules.tsv.gz");
             BufferedReader r = new BufferedReader(new InputStreamReader(new GZIPInputStream(in), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                int tab = line.indexOf('\t');
                rules.put(codePoints(line.substring(0, tab)), codePoints(line.substring(tab + 1)));
            }
        }
        return rules;
    }

    @Test
    void everyRuleSentencePieceListsIsFound() throws IOException {
        PrecompiledCharsMap map = t5Map();
        Map<String, String> rules = rules();
        assertTrue(rules.size() > 9000, "rules " + rules.size());
        int multi = 0;
        for (Map.Entry<String, String> rule : rules.entrySet()) {
            String source = rule.getKey();
            byte[] utf8 = source.getBytes(StandardCharsets.UTF_8);
            String found = map.replacementOfPrefix(utf8, 0, utf8.length);
            if (source.codePointCount(0, source.length()) == 1) {
                assertEquals(rule.getValue(), found, "rule for " + HfTokenizerReferenceTest.escape(source));
            } else {
                // The lookup returns the shortest rule the text begins with: a longer source whose first characters
                // have a rule of their own gives that rule (the Rust library's behaviour), else its own target.
                multi++;
                String expected = rule.getValue();
                List<String> prefixes = prefixRules(source, map);
                if (!prefixes.isEmpty()) expected = prefixes.getFirst();
                assertEquals(expected, found, "rule for " + HfTokenizerReferenceTest.escape(source));
            }
        }
        assertTrue(multi > 3000, "multi-character rules " + multi);
    }

    /** Targets of the rules for proper prefixes of {@code source} (by code point), shortest first. */
    private static List<String> prefixRules(String source, PrecompiledCharsMap map) {
        List<String> out = new ArrayList<>();
        for (int end = source.offsetByCodePoints(0, 1); end < source.length(); end = source.offsetByCodePoints(end, 1)) {
            byte[] utf8 = source.substring(0, end).getBytes(StandardCharsets.UTF_8);
            String r = map.replacementOfPrefix(utf8, 0, utf8.length);
            if (r != null) {
                out.add(r);
                break;
            }
        }
        return out;
    }

    @Test
    void knownFoldings() {
        PrecompiledCharsMap map = t5Map();
        assertEquals("fi", lookup(map, "\uFB01"));          // ligature
        assertEquals("A", lookup(map, "\uFF21"));           // full-width A
        assertEquals("1", lookup(map, "\u2460"));           // circled one
        assertEquals(" ", lookup(map, "\u3000"));           // ideographic space
        assertEquals("", lookup(map, "\u0001"));            // control characters are dropped
        assertNull(lookup(map, "a"));
        assertNull(lookup(map, "\u00E9"));                  // already NFKC
        assertNull(lookup(map, ""));
    }

    private static String lookup(PrecompiledCharsMap map, String s) {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        return map.replacementOfPrefix(utf8, 0, utf8.length);
    }

    @Test
    void malformedMapsAreRefusedWithTheirSource() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PrecompiledCharsMap.parse(new byte[] {1, 0}, "x.json"));
        assertTrue(e.getMessage().startsWith("x.json: precompiled_charsmap has 2 bytes"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> PrecompiledCharsMap.parse(new byte[] {(byte) 0x40, 0, 0, 0, 1, 2, 3, 4}, "y.json"));
        assertTrue(e.getMessage().contains("declares a trie of 64 bytes"), e.getMessage());
    }
}
