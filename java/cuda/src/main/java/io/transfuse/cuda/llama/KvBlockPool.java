package io.transfuse.cuda.llama;

import io.transfuse.TransfuseException;
import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.cuda.memory.DeviceBuffer;
import io.transfuse.cuda.runtime.ElemType;

import java.util.BitSet;

/**
 * The paged KV cache: per layer one K and one V tensor [numBlocks][blockSize][kvHeads][headDim]
 * (the layout of tf_rope_kv_cache and tf_attention_decode), allocated once at load. Sequences take
 * pages from here when they are created and give them back when closed; a sequence's block table
 * maps its logical blocks to these pages.
 */
final class KvBlockPool {
    final int blockSize, numBlocks;
    final DeviceBuffer[] keys, values;
    private final BitSet used = new BitSet();

    KvBlockPool(DeviceArena arena, int layers, int numBlocks, int blockSize, int kvHeads, int headDim, ElemType t) {
        this.blockSize = blockSize;
        this.numBlocks = numBlocks;
        long bytes = (long) numBlocks * blockSize * kvHeads * headDim * t.bytes();
        keys = new DeviceBuffer[layers];
        values = new DeviceBuffer[layers];
        for (int l = 0; l < layers; l++) {
            keys[l] = arena.allocate("layer " + l + " key cache pages", bytes);
            values[l] = arena.allocate("layer " + l + " value cache pages", bytes);
        }
    }

    /** Takes {@code n} free pages, or throws naming how many are free. */
    synchronized int[] take(int n) {
        if (numBlocks - used.cardinality() < n) {
            throw new TransfuseException("KV cache pages exhausted: a sequence needs " + n + " pages of " + blockSize + " tokens, "
                    + (numBlocks - used.cardinality()) + " of " + numBlocks + " are free (close unused sessions)");
        }
        int[] blocks = new int[n];
        int next = 0;
        for (int i = 0; i < n; i++) {
            next = used.nextClearBit(next);
            used.set(next);
            blocks[i] = next;
        }
        return blocks;
    }

    synchronized void give(int[] blocks) {
        for (int b : blocks) used.clear(b);
    }

    synchronized int freeBlocks() { return numBlocks - used.cardinality(); }
}
