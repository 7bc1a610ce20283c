package io.transfuse.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The heap-based merge loop against a plain one written here (rescan every pair after each merge), on random merge
 * rules made to be hard: few symbols, so the same pair occurs at many positions; few priorities, so many different
 * pairs tie and only "leftmost first" decides; merged symbols that merge again, so chains and overlapping candidates
 * (a b a b ...) arise.
 */
class BpeMergeTest {
    /** A random rule over symbols 0..symbols-1: about {@code density} of all pairs merge, into any symbol. */
    private static Map<Long, long[]> randomRule(Random random, int symbols, double density, int priorities) {
        Map<Long, long[]> rule = new HashMap<>();
        for (int a = 0; a < symbols; a++) {
            for (int b = 0; b < symbols; b++) {
                if (random.nextDouble() < density) rule.put(key(a, b), new long[] {random.nextInt(priorities), random.nextInt(symbols)});
            }
        }
        return rule;
    }

    private static long key(int a, int b) {
        return ((long) a << 32) | b;
    }

    /** Textbook greedy merging on a list: the lowest priority pair, leftmost among equals, until none merges. */
    private static int[] plain(int[] symbols, Map<Long, long[]> rule) {
        List<Integer> s = new ArrayList<>();
        for (int x : symbols) s.add(x);
        while (true) {
            int best = -1;
            long bestPriority = Long.MAX_VALUE;
            for (int i = 0; i + 1 < s.size(); i++) {
                long[] m = rule.get(key(s.get(i), s.get(i + 1)));
                if (m != null && m[0] < bestPriority) {
                    bestPriority = m[0];
                    best = i;
                }
            }
            if (best < 0) return s.stream().mapToInt(Integer::intValue).toArray();
            s.set(best, (int) rule.get(key(s.get(best), s.get(best + 1)))[1]);
            s.remove(best + 1);
        }
    }

    private static BpeMerge.Pairs pairs(Map<Long, long[]> rule) {
        return (a, b) -> {
            long[] m = rule.get(key(a, b));
            return m == null ? BpeMerge.NONE : BpeMerge.candidate((int) m[0], (int) m[1]);
        };
    }

    @Test
    void equalsThePlainLoopOnRandomRulesWithManyTies() {
        Random random = new Random(19);
        int cases = 0, merges = 0;
        for (int trial = 0; trial < 400; trial++) {
            int symbols = 2 + random.nextInt(6);
            Map<Long, long[]> rule = randomRule(random, symbols, 0.2 + random.nextDouble() * 0.6, 1 + random.nextInt(4));
            int[] input = new int[random.nextInt(300)];
            for (int i = 0; i < input.length; i++) input[i] = random.nextInt(symbols);
            int[] expected = plain(input, rule);
            // In the middle of a larger array, whose other entries must stay as they were.
            int[] array = new int[input.length + 7];
            Arrays.fill(array, -5);
            System.arraycopy(input, 0, array, 3, input.length);
            boolean memo = random.nextBoolean();
            int n = BpeMerge.merge(array, 3, input.length, memo ? BpeMerge.memoized(pairs(rule)) : pairs(rule));
            String where = "trial " + trial + " input " + Arrays.toString(input);
            assertArrayEquals(expected, Arrays.copyOfRange(array, 3, 3 + n), where);
            for (int i = 0; i < 3; i++) assertEquals(-5, array[i], where);
            for (int i = 3 + input.length; i < array.length; i++) assertEquals(-5, array[i], where);
            cases++;
            merges += input.length - n;
        }
        assertEquals(400, cases);
        assertEquals(true, merges > 10_000, "the rules should merge a lot: " + merges);
    }

    @Test
    void longInputEqualsThePlainLoop() {
        Random random = new Random(7);
        Map<Long, long[]> rule = randomRule(random, 12, 0.3, 3);
        int[] input = random.ints(5000, 0, 12).toArray();
        int[] symbols = input.clone();
        int n = BpeMerge.merge(symbols, 0, symbols.length, BpeMerge.memoized(pairs(rule)));
        assertArrayEquals(plain(input, rule), Arrays.copyOf(symbols, n));
    }

    @Test
    void leftmostPairWinsATieEvenWhenItsMergeCreatesAnotherTie() {
        // a=0 b=1 c=2: (a,b) -> c and (c,b) -> a, both priority 0. "a b b": merge (a,b) at 0 -> "c b", then (c,b) -> "a".
        Map<Long, long[]> rule = Map.of(key(0, 1), new long[] {0, 2}, key(2, 1), new long[] {0, 0});
        int[] s = {0, 1, 1};
        assertEquals(1, BpeMerge.merge(s, 0, 3, pairs(rule)));
        assertEquals(0, s[0]);
        // "b a b": only (a,b) at 1 -> "b c"; (b,c) does not merge.
        int[] t = {1, 0, 1};
        assertEquals(2, BpeMerge.merge(t, 0, 3, pairs(rule)));
        assertArrayEquals(new int[] {1, 2}, Arrays.copyOf(t, 2));
    }

    @Test
    void argumentsAreChecked() {
        assertThrows(IllegalArgumentException.class, () -> BpeMerge.candidate(-1, 5));
        assertThrows(IndexOutOfBoundsException.class, () -> BpeMerge.merge(new int[3], 2, 2, (a, b) -> BpeMerge.NONE));
        assertEquals(0, BpeMerge.merge(new int[0], 0, 0, (a, b) -> BpeMerge.NONE));
    }
}
