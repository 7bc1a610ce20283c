package io.transfuse.tokenizer;

import java.util.Arrays;

/**
 * The merge loop of byte-pair encoding, shared by SentencePiece-style BPE ({@link SentencePieceBpe}: the pair whose
 * piece has the best score) and tokenizer.json BPE ({@code hf.Bpe}: the pair with the lowest merge rank): while some
 * adjacent pair of symbols merges, merge the one with the best priority, the leftmost among equals.
 *
 * <p>Done naively (scan every pair, merge one, repeat) a text of n symbols costs O(n^2) lookups, and SentencePiece
 * merges over a whole stretch of text, not word by word, so a long prompt took minutes. Here the symbols form a
 * doubly linked list over the array and every adjacent pair that merges sits in a binary min-heap keyed by
 * (priority, position of its left symbol); positions keep their order in the list, so "leftmost" is "smallest
 * position". A merge pushes the two pairs it creates; entries made stale by a merge stay in the heap and are
 * recognised when popped (the pair now at that position no longer has that priority), as llama.cpp's SentencePiece
 * tokenizer does. Each merge adds at most two entries, so the whole loop is O(n log n).
 *
 * <p>Why the result equals the naive loop's: every adjacent pair that merges has an entry with its current key, and
 * the popped entry has the smallest key in the heap; when the pair now at that position has the entry's priority,
 * it is the best and leftmost pair of the current sequence, the one the naive loop picks.
 */
public final class BpeMerge {
    /** What {@link Pairs#merge} returns for a pair that does not merge. */
    public static final long NONE = -1;
    /** prev[] of a symbol merged into its left neighbour. */
    private static final int REMOVED = -2;

    /** The merge rule: for adjacent symbols {@code left, right}, {@link #candidate} or {@link #NONE}. */
    @FunctionalInterface
    public interface Pairs {
        long merge(int left, int right);
    }

    private BpeMerge() {}

    /** A pair that merges into {@code merged}; lower {@code priority} (0 .. 2^31-1) merges first. */
    public static long candidate(int priority, int merged) {
        if (priority < 0) throw new IllegalArgumentException("merge priority must be >= 0, got " + priority);
        return ((long) priority << 32) | (merged & 0xFFFFFFFFL);
    }

    /**
     * Merges {@code symbols[from, from + n)} in place until no adjacent pair merges; returns the new count (the
     * merged symbols are left in {@code symbols[from, from + count)}).
     */
    public static int merge(int[] symbols, int from, int n, Pairs pairs) {
        if (from < 0 || n < 0 || from + n > symbols.length) {
            throw new IndexOutOfBoundsException("symbols [" + from + ", " + (from + n) + ") outside an array of " + symbols.length);
        }
        if (n < 2) return n;
        // Positions are offsets 0..n-1 from `from`; next -1 ends the list, removed symbols get REMOVED as prev.
        int[] prev = new int[n], next = new int[n];
        for (int i = 0; i < n; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        LongHeap heap = new LongHeap(n);
        for (int i = 0; i + 1 < n; i++) push(heap, pairs.merge(symbols[from + i], symbols[from + i + 1]), i);
        int alive = n;
        while (!heap.isEmpty()) {
            long top = heap.pop();
            int pos = (int) top;
            long priority = top >>> 32;
            if (prev[pos] == REMOVED) continue;
            int right = next[pos];
            if (right < 0) continue;
            long m = pairs.merge(symbols[from + pos], symbols[from + right]);
            if (m == NONE || (m >>> 32) != priority) continue; // stale: the pair at pos changed since this entry was pushed
            symbols[from + pos] = (int) m;
            prev[right] = REMOVED;
            alive--;
            int after = next[right];
            next[pos] = after;
            if (after >= 0) prev[after] = pos;
            int before = prev[pos];
            if (before >= 0) push(heap, pairs.merge(symbols[from + before], symbols[from + pos]), before);
            if (after >= 0) push(heap, pairs.merge(symbols[from + pos], symbols[from + after]), pos);
        }
        int k = from;
        for (int i = 0; i >= 0; i = next[i]) symbols[k++] = symbols[from + i];
        assert k - from == alive;
        return alive;
    }

    /**
     * {@code rule} with its answers remembered, for rules that are costly to ask (SentencePiece builds the
     * concatenated string and hashes it): a long text asks about the same few thousand pairs over and over. Not
     * thread-safe; make one per call.
     */
    public static Pairs memoized(Pairs rule) {
        return new Memo(rule);
    }

    /** Open addressing from (left, right) to the rule's answer; grows at half load. */
    private static final class Memo implements Pairs {
        private static final long EMPTY = -1; // no pair of non-negative ids packs to -1
        private final Pairs rule;
        private long[] keys = new long[1024];
        private long[] values = new long[1024];
        private int size;

        Memo(Pairs rule) {
            this.rule = rule;
            Arrays.fill(keys, EMPTY);
        }

        @Override
        public long merge(int left, int right) {
            long key = ((long) left << 32) | (right & 0xFFFFFFFFL);
            int mask = keys.length - 1;
            int i = slot(key, mask);
            while (keys[i] != EMPTY) {
                if (keys[i] == key) return values[i];
                i = (i + 1) & mask;
            }
            long value = rule.merge(left, right);
            keys[i] = key;
            values[i] = value;
            if (++size * 2 > keys.length) grow();
            return value;
        }

        private static int slot(long key, int mask) {
            long h = key * 0x9E3779B97F4A7C15L;
            return (int) (h ^ (h >>> 32)) & mask;
        }

        private void grow() {
            long[] oldKeys = keys, oldValues = values;
            keys = new long[oldKeys.length * 2];
            values = new long[oldKeys.length * 2];
            Arrays.fill(keys, EMPTY);
            int mask = keys.length - 1;
            for (int j = 0; j < oldKeys.length; j++) {
                if (oldKeys[j] == EMPTY) continue;
                int i = slot(oldKeys[j], mask);
                while (keys[i] != EMPTY) i = (i + 1) & mask;
                keys[i] = oldKeys[j];
                values[i] = oldValues[j];
            }
        }
    }

    private static void push(LongHeap heap, long candidate, int position) {
        if (candidate != NONE) heap.push((candidate & 0xFFFFFFFF00000000L) | position);
    }

    /** Binary min-heap of longs: (priority << 32 | position) orders by priority, then position. */
    private static final class LongHeap {
        private long[] a;
        private int size;

        LongHeap(int capacity) {
            a = new long[Math.max(4, capacity)];
        }

        boolean isEmpty() {
            return size == 0;
        }

        void push(long v) {
            if (size == a.length) a = Arrays.copyOf(a, size * 2);
            int i = size++;
            while (i > 0) {
                int p = (i - 1) >>> 1;
                if (a[p] <= v) break;
                a[i] = a[p];
                i = p;
            }
            a[i] = v;
        }

        long pop() {
            long top = a[0];
            long v = a[--size];
            int i = 0;
            while (true) {
                int l = 2 * i + 1;
                if (l >= size) break;
                int c = l + 1 < size && a[l + 1] < a[l] ? l + 1 : l;
                if (a[c] >= v) break;
                a[i] = a[c];
                i = c;
            }
            a[i] = v;
            return top;
        }
    }
}
