package io.transfuse.model;

import io.transfuse.TransfuseException;
import io.transfuse.backend.Backend;
import io.transfuse.backend.KvLayer;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;


/**
 * The paged KV cache of a decoder, the same on every backend: per layer one key and one value tensor
 * of {@code blocks} blocks of {@code blockSize} positions ({@link KvLayer}) of {@link Backend#kvCacheType()},
 * allocated once at load.
 * Its size is the one sizing rule ({@link DecoderLimits#poolBlocks()}: the sequences planned for, each of the context
 * chosen at load), checked against the backend's memory before anything is allocated ({@link MemoryBudget}).
 * Sequences take blocks as their positions grow ({@link PagedSequence#reserve}) and give them back when
 * closed ({@link PagedSequence}); a sequence's block table maps its logical blocks to physical ones, and
 * {@link BlockPool} keeps the numbers (lowest first, so a cache that is large on paper touches only the
 * memory its sequences use: the CPU backend commits large allocations lazily; full blocks cached by prefix).
 * Thread-safe.
 */
public final class KvCache implements SequenceStore {
    private final KvLayer[] layers;
    private final BlockPool pool;
    private final int maxBlocks;

    /**
     * A cache for {@code limits.maxSequences()} sequences of the full context.
     *
     * @param width kvHeads x headDim of a key or value row
     */
    public KvCache(Backend backend, String owner, int layerCount, int width, DecoderLimits limits) {
        this.maxBlocks = limits.blocksPerSequence();
        int blocks = limits.poolBlocks();
        long rows = (long) blocks * limits.blockSize();
        DType type = backend.kvCacheType();
        long tensorBytes = MemoryBudget.product(rows, width) < 0 ? -1 : type.bytesFor(rows * width);
        MemoryBudget.require(backend, owner, "the KV cache (" + limits.maxSequences() + " sequences x " + limits.context()
                + " positions x " + layerCount + " layers x keys and values of " + width + " " + type + ")",
                tensorBytes < 0 ? -1 : MemoryBudget.product(tensorBytes, 2, layerCount), MemoryBudget.KV_ADVICE);
        this.pool = new BlockPool(blocks, limits.blockSize());
        layers = new KvLayer[layerCount];
        for (int l = 0; l < layerCount; l++) {
            Tensor k = backend.allocate(owner + " layer " + l + " key cache", backend.kvCacheType(), rows, width);
            Tensor v = backend.allocate(owner + " layer " + l + " value cache", backend.kvCacheType(), rows, width);
            layers[l] = new KvLayer(k, v, pool.blockSize());
        }
    }

    public KvLayer layer(int l) { return layers[l]; }

    /** The blocks: which are held, which hold a cached prefix. */
    public BlockPool pool() { return pool; }

    public int blockSize() { return pool.blockSize(); }

    public int blocks() { return pool.blocks(); }

    /** Blocks not held by any sequence. */
    public int freeBlocks() { return pool.available(); }

    /** Blocks a sequence of {@code positions} positions holds. */
    public int blocksFor(int positions) { return pool.blocksFor(positions); }

    /** A new sequence of up to {@code capacity} positions, holding no blocks yet. */
    @Override
    public PagedSequence newSequence(int capacity) { return new PagedSequence(pool, this, capacity); }

    @Override
    public int maxBlocks() { return maxBlocks; }

    @Override
    public int[] admit(Decoder.Sequence sequence, int startPos, int count) {
        if (!(sequence instanceof PagedSequence s) || s.owner() != this) {
            throw new IllegalArgumentException("the sequence does not belong to this model's KV cache");
        }
        s.checkOpen();
        if (startPos > s.length()) {
            throw new IllegalArgumentException("start position " + startPos + " would leave a gap after the " + s.length()
                    + " positions the sequence holds");
        }
        s.reserve(startPos + count);
        return s.table();
    }

    @Override
    public void advance(Decoder.Sequence sequence, int startPos, int count) {
        ((PagedSequence) sequence).written(startPos + count);
    }
}
