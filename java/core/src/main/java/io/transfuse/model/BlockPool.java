package io.transfuse.model;

import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;

/**
 * The KV blocks of a paged cache as numbers: which are held (by how many sequences) and which hold a
 * known prefix. Sequences take blocks as they grow and release them when closed. A full block whose
 * content is published ({@link #publish}) stays cached after its last holder releases it, so a later
 * sequence that starts with the same tokens reuses it ({@link #acquireCached}) instead of computing it
 * again (prefix caching, as vLLM's block manager does); cached blocks nobody holds are evicted, least
 * recently released first, when free blocks run out. A block's key is its tokens together with the key of
 * the block before it, so a hit means the whole prefix up to it is the same; keys compare the tokens
 * themselves, not only a hash. Free blocks are handed out lowest first, so a cache that is large on paper
 * touches only the memory its sequences use. Thread-safe.
 */
public final class BlockPool {
    private final int blocks, blockSize;
    private final int[] holders;
    /** Blocks never cached (or evicted) and not held. */
    private final BitSet plain = new BitSet();
    /** Cached blocks nobody holds, least recently released first: evicted in this order. */
    private final LinkedHashSet<Integer> evictable = new LinkedHashSet<>();
    private final Map<Key, Integer> cached = new HashMap<>();
    private final Key[] keyOf;
    private long queried, hits;

    public BlockPool(int blocks, int blockSize) {
        if (blocks < 1 || blockSize < 1) throw new IllegalArgumentException("a block pool needs blocks and positions per block, got " + blocks + " x " + blockSize);
        this.blocks = blocks;
        this.blockSize = blockSize;
        this.holders = new int[blocks];
        this.keyOf = new Key[blocks];
        plain.set(0, blocks);
    }

    public int blockSize() { return blockSize; }

    public int blocks() { return blocks; }

    /** Blocks a sequence of {@code positions} positions holds. */
    public int blocksFor(int positions) { return (positions + blockSize - 1) / blockSize; }

    /** Blocks that can be taken now: free ones and cached ones nobody holds. */
    public synchronized int available() { return plain.cardinality() + evictable.size(); }

    /** Blocks held by at least one sequence. */
    public synchronized int held() { return blocks - available(); }

    /** Full blocks looked up in the prefix cache so far. */
    public synchronized long prefixQueries() { return queried; }

    /** Of {@link #prefixQueries()}, those found (computation saved). */
    public synchronized long prefixHits() { return hits; }

    /** Fills {@code table[from, to)} with blocks taken for one holder each; fails without taking any if too few are available. */
    public synchronized void take(int[] table, int from, int to) {
        int need = to - from, free = available();
        if (free < need) {
            throw new SequenceStateExhaustedException("KV cache full: a sequence needs " + need + " more blocks of " + blockSize
                    + " positions, " + free + " of " + blocks + " are free (close unused sessions, or load with more sequences)");
        }
        int next = 0;
        for (int i = from; i < to; i++) {
            int b = plain.nextSetBit(next);
            if (b >= 0) {
                plain.clear(b);
                next = b + 1;
            } else {
                b = evictable.iterator().next();
                evictable.remove(b);
                cached.remove(keyOf[b]);
                keyOf[b] = null;
            }
            holders[b] = 1;
            table[i] = b;
        }
    }

    /** One holder lets go of each of {@code table[0, count)}. */
    public synchronized void release(int[] table, int count) {
        for (int i = 0; i < count; i++) {
            int b = table[i];
            if (holders[b] <= 0) throw new IllegalStateException("KV block " + b + " released more often than taken");
            if (--holders[b] == 0) {
                if (keyOf[b] != null) evictable.add(b);
                else plain.set(b);
            }
        }
    }

    /**
     * Looks up the full blocks of {@code tokens[0, count)} (count rounded down to whole blocks) in order and
     * stops at the first miss; the blocks found are taken (one holder more each) and written to {@code table}
     * from index 0. Returns how many were found.
     */
    public synchronized int acquireCached(int[] tokens, int count, int[] table) {
        int full = count / blockSize, found = 0;
        Key parent = null;
        for (int i = 0; i < full; i++) {
            Key k = new Key(parent, tokens, i * blockSize, blockSize);
            queried++;
            Integer b = cached.get(k);
            if (b == null) {
                queried += full - i - 1; // the rest cannot hit without this one
                break;
            }
            hits++;
            if (holders[b]++ == 0) evictable.remove(b);
            table[found++] = b;
            parent = keyOf[b];
        }
        return found;
    }

    /**
     * Records that block {@code table[index]}, held by the caller, now holds the KV of {@code tokens} at
     * positions {@code index * blockSize ..} (a full block) after the prefix whose last block has key
     * {@code parent} (null for the first block). Returns the key of this content: the block's new key, or
     * the key of another block already cached with the same content (this block then stays unpublished).
     */
    public synchronized Key publish(Key parent, int[] table, int index, int[] tokens) {
        int b = table[index];
        if (keyOf[b] != null) return keyOf[b];
        Key k = new Key(parent, tokens, index * blockSize, blockSize);
        Integer other = cached.putIfAbsent(k, b);
        if (other != null) return keyOf[other];
        keyOf[b] = k;
        return k;
    }

    /** The key of a published block (null for others). */
    public synchronized Key keyOf(int b) { return keyOf[b]; }

    /** Whether block {@code b} is published (its content known). */
    public synchronized boolean isPublished(int b) { return keyOf[b] != null; }

    /** A block's content: its tokens and the key of the block before it (null for the first). Opaque outside the pool. */
    public static final class Key {
        private final Key parent;
        private final int[] tokens;
        private final int hash;

        private Key(Key parent, int[] source, int from, int n) {
            this.parent = parent;
            this.tokens = Arrays.copyOfRange(source, from, from + n);
            this.hash = 31 * (parent == null ? 0 : parent.hash) + Arrays.hashCode(tokens);
        }

        @Override
        public boolean equals(Object o) {
            // Parents are canonical (the key stored in the map), so identity suffices for them.
            return o instanceof Key k && k.hash == hash && k.parent == parent && Arrays.equals(k.tokens, tokens);
        }

        @Override
        public int hashCode() { return hash; }
    }
}
