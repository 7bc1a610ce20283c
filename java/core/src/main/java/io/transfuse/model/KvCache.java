package io.transfuse.model;

import io.transfuse.TransfuseException;
import io.transfuse.backend.Backend;
import io.transfuse.backend.KvLayer;
import io.transfuse.tensor.Tensor;

import java.util.Arrays;
import java.util.BitSet;

/**
 * The paged KV cache of a decoder, the same on every backend: per layer one key and one value tensor
 * of {@code blocks} blocks of {@code blockSize} positions ({@link KvLayer}), allocated once at load.
 * Sequences take blocks as their positions grow ({@link Sequence#reserve}) and give them back when
 * closed; a sequence's block table maps its logical blocks to physical ones. Blocks are handed out
 * lowest first, so a cache that is large on paper touches only the memory its sequences use (the CPU
 * backend commits large allocations lazily). Thread-safe.
 */
public final class KvCache implements SequenceStore {
    private final KvLayer[] layers;
    private final int blockSize, blocks, maxBlocks;
    private final BitSet used = new BitSet();

    /**
     * A cache for {@code limits.maxSequences()} sequences of the full context.
     *
     * @param width kvHeads x headDim of a key or value row
     */
    public KvCache(Backend backend, String owner, int layerCount, int width, DecoderLimits limits) {
        this.blockSize = limits.blockSize();
        this.maxBlocks = limits.blocksPerSequence();
        this.blocks = Math.multiplyExact(maxBlocks, limits.maxSequences());
        layers = new KvLayer[layerCount];
        long rows = (long) blocks * blockSize;
        for (int l = 0; l < layerCount; l++) {
            Tensor k = backend.allocate(owner + " layer " + l + " key cache", backend.activationType(), rows, width);
            Tensor v = backend.allocate(owner + " layer " + l + " value cache", backend.activationType(), rows, width);
            layers[l] = new KvLayer(k, v, blockSize);
        }
    }

    public KvLayer layer(int l) { return layers[l]; }

    public int blockSize() { return blockSize; }

    public int blocks() { return blocks; }

    /** Blocks not held by any sequence. */
    public synchronized int freeBlocks() { return blocks - used.cardinality(); }

    /** Blocks a sequence of {@code positions} positions holds. */
    public int blocksFor(int positions) { return (positions + blockSize - 1) / blockSize; }

    /** A new sequence of up to {@code capacity} positions, holding no blocks yet. */
    @Override
    public Sequence newSequence(int capacity) { return new Sequence(capacity); }

    @Override
    public int maxBlocks() { return maxBlocks; }

    @Override
    public int[] admit(Decoder.Sequence sequence, int startPos, int count) {
        if (!(sequence instanceof Sequence s) || s.cache() != this) {
            throw new IllegalArgumentException("the sequence does not belong to this model's KV cache");
        }
        s.checkOpen();
        if (startPos > s.length) {
            throw new IllegalArgumentException("start position " + startPos + " would leave a gap after the " + s.length
                    + " positions the sequence holds");
        }
        s.reserve(startPos + count);
        return s.table();
    }

    @Override
    public void advance(Decoder.Sequence sequence, int startPos, int count) {
        ((Sequence) sequence).length = startPos + count;
    }

    private synchronized void take(int[] table, int from, int to) {
        int free = blocks - used.cardinality();
        if (free < to - from) {
            throw new TransfuseException("KV cache full: a sequence needs " + (to - from) + " more blocks of " + blockSize
                    + " positions, " + free + " of " + blocks + " are free (close unused sessions, or load with more sequences)");
        }
        int next = 0;
        for (int i = from; i < to; i++) {
            next = used.nextClearBit(next);
            used.set(next);
            table[i] = next;
        }
    }

    private synchronized void give(int[] table, int count) {
        for (int i = 0; i < count; i++) used.clear(table[i]);
    }

    /** A sequence's share of the cache: its block table, grown on demand up to its capacity. */
    public final class Sequence implements Decoder.Sequence {
        private final int capacity;
        private int[] table = new int[0];
        private int held, length;
        private boolean closed;

        private Sequence(int capacity) {
            if (capacity <= 0) throw new IllegalArgumentException("sequence capacity must be positive, got " + capacity);
            this.capacity = capacity;
        }

        @Override
        public int capacity() { return capacity; }

        /** The cache this sequence's blocks belong to. */
        public KvCache cache() { return KvCache.this; }

        /** Makes sure blocks cover positions 0 .. {@code positions}-1 (taking more from the cache as needed). */
        public void reserve(int positions) {
            checkOpen();
            if (positions > capacity) throw new IllegalArgumentException(positions + " positions exceed the sequence capacity of " + capacity);
            int need = blocksFor(positions);
            if (need <= held) return;
            if (table.length < need) table = Arrays.copyOf(table, Math.max(need, Math.min(blocksFor(capacity), 2 * table.length)));
            take(table, held, need);
            held = need;
        }

        /** The block table (the first {@link #blocks()} entries are this sequence's). */
        public int[] table() { return Arrays.copyOf(table, held); }

        /** Blocks held. */
        public int blocks() { return held; }

        /** Positions written so far (the next pass may start at or before it). */
        public int length() { return length; }

        void checkOpen() {
            if (closed) throw new IllegalStateException("the sequence was closed (its KV blocks were released)");
        }

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            give(table, held);
            held = 0;
        }
    }
}
