package io.transfuse.model;

import java.util.Arrays;

/**
 * A sequence's share of a paged KV cache: its block table, grown from a {@link BlockPool} as its positions
 * grow, up to its capacity. Full blocks can be shared with other sequences through the pool's prefix cache:
 * an empty sequence starts from cached blocks ({@link #reusePrefix}), and a sequence publishes its blocks as
 * they fill ({@link #publishPrefix}). Shared blocks are full, so nobody writes them again. Not thread-safe.
 */
public final class PagedSequence implements Decoder.Sequence {
    private final BlockPool pool;
    private final Object owner;
    private final int capacity;
    private int[] table = new int[0];
    private int held, length, published;
    private BlockPool.Key prefixKey; // content key of the last published block
    private boolean closed;

    /** @param owner what the blocks' storage belongs to (a {@link KvCache}), checked when the sequence is run */
    public PagedSequence(BlockPool pool, Object owner, int capacity) {
        if (capacity <= 0) throw new IllegalArgumentException("sequence capacity must be positive, got " + capacity);
        this.pool = pool;
        this.owner = owner;
        this.capacity = capacity;
    }

    @Override
    public int capacity() { return capacity; }

    public Object owner() { return owner; }

    /** Makes sure blocks cover positions 0 .. {@code positions}-1 (taking more from the pool as needed). */
    public void reserve(int positions) {
        checkOpen();
        if (positions > capacity) throw new IllegalArgumentException(positions + " positions exceed the sequence capacity of " + capacity);
        int need = pool.blocksFor(positions);
        if (need <= held) return;
        grow(need);
        pool.take(table, held, need);
        held = need;
    }

    /** The block table (the first {@link #blocks()} entries are this sequence's). */
    public int[] table() { return Arrays.copyOf(table, held); }

    /** Blocks held. */
    public int blocks() { return held; }

    /** Positions written so far (the next pass may start at or before it). */
    public int length() { return length; }

    /** After a pass wrote positions up to {@code end} (the store that runs the pass says so). */
    public void written(int end) { length = end; }

    /**
     * On an empty sequence: takes the cached blocks that hold the KV of the longest whole-block prefix of
     * {@code tokens[0, count)} and returns the positions they cover (the next pass starts there).
     */
    @Override
    public int reusePrefix(int[] tokens, int count) {
        checkOpen();
        if (length != 0 || held != 0) throw new IllegalStateException("a prefix is reused only by an empty sequence");
        grow(pool.blocksFor(Math.min(count, capacity)));
        int found = pool.acquireCached(tokens, Math.min(count, capacity), table);
        held = published = found;
        prefixKey = found == 0 ? null : pool.keyOf(table[found - 1]);
        length = found * pool.blockSize();
        return length;
    }

    /** Publishes the blocks that positions {@code [0, positions)} (written, holding {@code tokens}) fill completely. */
    @Override
    public void publishPrefix(int[] tokens, int positions) {
        checkOpen();
        int full = Math.min(Math.min(positions, length), held * pool.blockSize()) / pool.blockSize();
        for (; published < full; published++) prefixKey = pool.publish(prefixKey, table, published, tokens);
    }

    private void grow(int need) {
        if (table.length < need) table = Arrays.copyOf(table, Math.max(need, Math.min(pool.blocksFor(capacity), 2 * table.length)));
    }

    public void checkOpen() {
        if (closed) throw new IllegalStateException("the sequence was closed (its KV blocks were released)");
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        pool.release(table, held);
        held = 0;
    }
}
