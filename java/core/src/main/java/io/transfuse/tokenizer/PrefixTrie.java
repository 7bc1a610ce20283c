package io.transfuse.tokenizer;

import java.util.Arrays;

/**
 * Every string of a set that a text holds at a position, shortest first: the lookup a Unigram tokenizer's Viterbi
 * search makes at each character. A trie over UTF-16 chars whose edges live in one open-addressing table of
 * primitive keys ({@code node << 16 | char}); {@link LongestMatch}'s map of boxed keys is fine for a few thousand
 * added tokens, but XLM-R's 250k pieces make about a million edges, and the search walks several of them for every
 * character of every text. Build it once, then share it (lookups do not change it).
 */
public final class PrefixTrie {
    private static final long EMPTY = -1L;

    private long[] keys;
    private int[] children;
    private int mask;
    private int edges;
    /** Value of each node, -1 where no string ends. Node 0 is the root. */
    private int[] values = {-1};
    private int nodes = 1;

    /** {@code expectedEdges}: about how many edges will be added (at most the strings' total length); it only sizes the table. */
    public PrefixTrie(int expectedEdges) {
        // the smallest power of two that holds the edges at the 3/4 load the table grows at
        long want = Math.max(16, (long) expectedEdges * 4 / 3 + 1);
        int capacity = (int) Math.min(1 << 30, Long.highestOneBit(want - 1) << 1);
        keys = new long[capacity];
        Arrays.fill(keys, EMPTY);
        children = new int[capacity];
        mask = capacity - 1;
    }

    /** Adds {@code text} with {@code value >= 0}; a text added again takes the new value (as a map put would). */
    public void put(String text, int value) {
        if (text.isEmpty()) throw new IllegalArgumentException("an empty string cannot be matched");
        if (value < 0) throw new IllegalArgumentException("value must be >= 0, got " + value);
        int node = 0;
        for (int i = 0; i < text.length(); i++) {
            int child = child(node, text.charAt(i));
            if (child < 0) child = addChild(node, text.charAt(i));
            node = child;
        }
        values[node] = value;
    }

    /** The root, where a walk starts. */
    public static int root() {
        return 0;
    }

    /** The node reached from {@code node} by {@code c}, or -1. */
    public int child(int node, char c) {
        long key = ((long) node << 16) | c;
        int slot = slot(key);
        while (true) {
            long k = keys[slot];
            if (k == key) return children[slot];
            if (k == EMPTY) return -1;
            slot = (slot + 1) & mask;
        }
    }

    /** The value of the string that ends at {@code node}, or -1 when none does. */
    public int value(int node) {
        return values[node];
    }

    public int nodeCount() {
        return nodes;
    }

    private int addChild(int node, char c) {
        if ((edges + 1) * 4L > keys.length * 3L) grow();
        int child = nodes++;
        if (child == values.length) values = Arrays.copyOf(values, values.length * 2);
        values[child] = -1;
        insert(((long) node << 16) | c, child);
        edges++;
        return child;
    }

    private void insert(long key, int child) {
        int slot = slot(key);
        while (keys[slot] != EMPTY) slot = (slot + 1) & mask;
        keys[slot] = key;
        children[slot] = child;
    }

    private void grow() {
        long[] oldKeys = keys;
        int[] oldChildren = children;
        keys = new long[oldKeys.length * 2];
        Arrays.fill(keys, EMPTY);
        children = new int[oldKeys.length * 2];
        mask = keys.length - 1;
        for (int i = 0; i < oldKeys.length; i++) if (oldKeys[i] != EMPTY) insert(oldKeys[i], oldChildren[i]);
    }

    private int slot(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 32) & mask;
    }
}
