package io.transfuse.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The order in which SentencePiece BPE merges, on vocabularies small enough to work out by hand: the pair making the
 * best-scoring piece first, the leftmost among equal scores (llama.cpp's order), and a piece scored NaN or -infinity
 * never made, as a scan for the best score above -infinity never picks it.
 */
class SentencePieceBpeMergeOrderTest {
    private static final SentencePieceBpe.Options PLAIN = new SentencePieceBpe.Options(false, false, false, List.of());

    private static SentencePieceBpe vocabulary(String[] pieces, float[] scores) {
        int[] types = new int[pieces.length];
        java.util.Arrays.fill(types, 1);
        return new SentencePieceBpe(pieces, scores, types, -1, -1, PLAIN);
    }

    @Test
    void equalScoresMergeLeftmostFirst() {
        //                                      0    1    2     3     4
        SentencePieceBpe t = vocabulary(new String[] {"a", "b", "ab", "ba", "c"}, new float[] {0, 0, -1, -1, 0});
        assertArrayEquals(new int[] {2, 0}, t.encode("aba", false)); // ab|a, not a|ba
        assertArrayEquals(new int[] {3, 1}, t.encode("bab", false)); // ba|b
        assertArrayEquals(new int[] {2, 2, 4, 3}, t.encode("ababcba", false));
    }

    @Test
    void betterScoreWinsWhereverItIs() {
        SentencePieceBpe t = vocabulary(new String[] {"a", "b", "ab", "ba"}, new float[] {0, 0, -2, -1});
        assertArrayEquals(new int[] {0, 3, 1}, t.encode("abab", false)); // ba first (score -1), then nothing joins
        // -0.0 and 0.0 are the same score: the leftmost of the two pairs wins.
        SentencePieceBpe zero = vocabulary(new String[] {"a", "b", "ab", "ba"}, new float[] {0, 0, -0.0f, 0.0f});
        assertArrayEquals(new int[] {2, 0}, zero.encode("aba", false));
        SentencePieceBpe zeroFirst = vocabulary(new String[] {"a", "b", "ab", "ba"}, new float[] {0, 0, 0.0f, -0.0f});
        assertArrayEquals(new int[] {2, 0}, zeroFirst.encode("aba", false));
    }

    @Test
    void nanAndNegativeInfinityScoresAreNeverMerged() {
        SentencePieceBpe t = vocabulary(new String[] {"a", "b", "ab", "ba", "aa"},
                new float[] {0, 0, Float.NEGATIVE_INFINITY, Float.NaN, -5});
        assertArrayEquals(new int[] {0, 1, 0, 1}, t.encode("abab", false));
        assertArrayEquals(new int[] {4, 1}, t.encode("aab", false));
        // +infinity is a score like any other, the best one.
        SentencePieceBpe inf = vocabulary(new String[] {"a", "b", "ab", "ba"}, new float[] {0, 0, -1, Float.POSITIVE_INFINITY});
        assertArrayEquals(new int[] {0, 3, 1}, inf.encode("abab", false));
    }

    @Test
    void mismatchedArraysAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new SentencePieceBpe(new String[] {"a", "b"}, new float[1], new int[2], -1, -1, PLAIN));
    }
}
