package io.transfuse.tokenizer.hf;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The Viterbi search of {@link Unigram} on hand-made vocabularies: segmentations worked out by hand, and on random
 * vocabularies the best total score found by trying every segmentation (a plain exhaustive search written here).
 */
class UnigramTest {
    private static Unigram model(int unk, boolean byteFallback, Object... pieceScore) {
        List<String> pieces = new ArrayList<>();
        double[] scores = new double[pieceScore.length / 2];
        for (int i = 0; i < pieceScore.length; i += 2) {
            pieces.add((String) pieceScore[i]);
            scores[i / 2] = ((Number) pieceScore[i + 1]).doubleValue();
        }
        return new Unigram(pieces, scores, unk, byteFallback);
    }

    @Test
    void picksTheMostLikelySegmentation() {
        //                      0         1         2         3          4           5          6
        Unigram m = model(0, false, "<unk>", 0, "a", -1, "b", -2, "ab", -2.5, "abc", -6, "c", -2, "bc", -4);
        // a+b+c = -5, ab+c = -4.5, a+bc = -5, abc = -6
        assertArrayEquals(new int[] {3, 5}, m.tokenize("abc"));
        assertArrayEquals(new int[] {3}, m.tokenize("ab"));
        assertArrayEquals(new int[] {3, 3, 1}, m.tokenize("ababa"));
        assertArrayEquals(new int[0], m.tokenize(""));
    }

    @Test
    void aTieKeepsThePathWhoseLastPieceStartsFirst() {
        // ab+c and a+bc both score -4.5: the search meets a+bc first (from position 1) and only a strictly better
        // path replaces it, as in the Rust library.
        Unigram m = model(0, false, "<unk>", 0, "a", -1, "b", -2, "ab", -2.5, "abc", -6, "c", -2, "bc", -3.5);
        assertArrayEquals(new int[] {1, 6}, m.tokenize("abc"));
    }

    @Test
    void unknownCharactersAreFusedIntoOneUnknownToken() {
        Unigram m = model(0, false, "<unk>", 0, "a", -1, "b", -2, "xb", -1);
        // 'x' has no one-character piece: an unknown node (score min - 10 = -12) covers it.
        assertArrayEquals(new int[] {1, 0, 2}, m.tokenize("a😀y\u00e9b"));
        // ... but a longer piece may still start with it.
        assertArrayEquals(new int[] {1, 3}, m.tokenize("axb"));
        assertArrayEquals(new int[] {0}, m.tokenize("zz"));
        assertEquals(-12.0, m.score(2) - 10, 1e-12);
    }

    @Test
    void byteFallbackSpellsUnknownTextInBytesWhenTheVocabularyHasThem() {
        List<Object> spec = new ArrayList<>(List.of("<unk>", 0.0, "a", -1.0));
        for (int b = 0; b < 256; b++) {
            spec.add(String.format("<0x%02X>", b));
            spec.add(-20.0);
        }
        Unigram m = model(0, true, spec.toArray());
        // U+00E9 is C3 A9 in UTF-8; the fused run "xé" is 78 C3 A9.
        assertArrayEquals(new int[] {2 + 0x78, 2 + 0xC3, 2 + 0xA9, 1}, m.tokenize("x\u00e9a"));
        // Without every byte piece the run stays unknown.
        Unigram partial = model(0, true, "<unk>", 0.0, "a", -1.0, "<0x78>", -20.0);
        assertArrayEquals(new int[] {1, 0}, partial.tokenize("a\u00e9"));
        assertArrayEquals(new int[] {2, 1}, partial.tokenize("xa"));
    }

    @Test
    void withoutAnUnknownIdAnUncoveredCharacterIsAnError() {
        Unigram m = model(-1, false, "a", -1);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> m.tokenize("ab"));
        assertEquals("Unigram: 'b' is not in the vocabulary and the model has no unk_id", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> model(5, false, "a", -1));
    }

    @Test
    void surrogatePairsAreOneCharacter() {
        Unigram m = model(0, false, "<unk>", 0, "🤗", -3, "🤗a", -3.5, "a", -1);
        assertArrayEquals(new int[] {2, 1}, m.tokenize("🤗a🤗"));
        assertArrayEquals(new int[] {3, 0, 3}, m.tokenize("a😀a"));
    }

    @Test
    void theBestTotalEqualsAnExhaustiveSearch() {
        Random random = new Random(17);
        for (int trial = 0; trial < 200; trial++) {
            // every letter has a piece of its own, so no character is unknown and every path is a list of pieces
            List<Object> spec = new ArrayList<>(List.of("<unk>", 0.0));
            java.util.Set<String> seen = new java.util.HashSet<>(List.of("a", "b", "c", "d"));
            for (String letter : seen) {
                spec.add(letter);
                spec.add(-1 - random.nextDouble() * 9);
            }
            for (int i = 0; i < 25; i++) {
                String piece = randomWord(random, 1 + random.nextInt(4));
                if (!seen.add(piece)) continue;
                spec.add(piece);
                spec.add(-1 - random.nextDouble() * 9);
            }
            Unigram m = model(0, false, spec.toArray());
            String text = randomWord(random, 1 + random.nextInt(10));
            int[] ids = m.tokenize(text);
            double best = exhaustiveBest(m, text, 0, new Double[text.length() + 1]);
            assertEquals(best, pathScore(m, text, ids), 1e-9, "text " + text + " ids " + Arrays.toString(ids));
        }
    }

    private static String randomWord(Random random, int length) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < length; i++) sb.append("abcd".charAt(random.nextInt(4)));
        return sb.toString();
    }

    /** The best score of text[from...] over every way to cut it into pieces. */
    private static double exhaustiveBest(Unigram m, String text, int from, Double[] memo) {
        if (from == text.length()) return 0;
        if (memo[from] != null) return memo[from];
        double best = Double.NEGATIVE_INFINITY;
        for (int end = from + 1; end <= text.length(); end++) {
            int id = m.tokenToId(text.substring(from, end));
            if (id > 0) best = Math.max(best, m.score(id) + exhaustiveBest(m, text, end, memo));
        }
        return memo[from] = best;
    }

    /** Score of a tokenization, checking that its pieces spell the text. */
    private static double pathScore(Unigram m, String text, int[] ids) {
        double total = 0;
        int at = 0;
        for (int id : ids) {
            String piece = m.idToToken(id);
            assertEquals(piece, text.substring(at, Math.min(text.length(), at + piece.length())));
            total += m.score(id);
            at += piece.length();
        }
        assertEquals(text.length(), at);
        return total;
    }
}
