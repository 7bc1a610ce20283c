package io.transfuse.model.seq2seq;

import io.transfuse.backend.Backend;
import io.transfuse.backend.KvLayer;
import io.transfuse.model.BlockPool;
import io.transfuse.model.MemoryBudget;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

import java.util.Arrays;

/**
 * The self-attention KV cache of a seq2seq decoder's rows, paged as the decoders' cache is ({@link KvLayer}: blocks of
 * {@link #BLOCK_SIZE} positions per layer, numbered by a {@link BlockPool}), with one block table per decoder row and
 * forking by reference: a step that makes row r continue parent row p's history gives r a copy of p's table, so the
 * two share p's blocks (a reference count per block, kept here; the pool sees one holder). Full blocks are never
 * written again, so sharing them is free. The partly filled last block is copied on write: the first row to append to
 * a block that another row also holds takes a fresh block and copies the filled slots into it ({@link Copy}, which the
 * graph performs on every layer before writing); the last holder appends in place. A beam fork thus costs at most one
 * partial block per row and step, not the row's whole history, and a row's blocks go back to the pool when its last
 * holder lets go ({@link #release}).
 *
 * <p>Sizing: a row of at most {@code maxTarget} positions holds at most {@code blocksFor(maxTarget)} blocks, shared ones
 * counted once, so {@code rows * blocksFor(maxTarget)} blocks always suffice (a step takes new blocks only after the
 * stepped rows let go of their old tables). The element type is the activation type (F32 on the CPU: the graph stays
 * exact; the decoders' F16 CPU cache is for long contexts, which seq2seq targets are not).
 *
 * <p>Used by the graph's driver only: not thread-safe.
 */
final class DecoderRowBlocks {
    /** Positions per block (the decoders' block size). */
    static final int BLOCK_SIZE = 16;

    /** Filled slots [0, count) of block {@code from} are copied to block {@code to} before the step writes (copy on write). */
    record Copy(int from, int to, int count) {}

    private final BlockPool pool;
    private final KvLayer[] layers;
    private final int maxBlocks;
    private final int[] refs;
    private final int[][] tables;
    private final int[] held;

    DecoderRowBlocks(Backend ops, String owner, int layerCount, int width, DType type, int rows, int maxTarget) {
        this.maxBlocks = (maxTarget + BLOCK_SIZE - 1) / BLOCK_SIZE;
        int blocks = Math.multiplyExact(rows, maxBlocks);
        long rowsPerLayer = (long) blocks * BLOCK_SIZE;
        MemoryBudget.require(ops, owner, "the decoder's self-attention KV cache (" + rows + " rows x " + maxTarget + " positions x "
                + layerCount + " layers x keys and values of " + width + " " + type + ")",
                MemoryBudget.product(type.bytesFor(rowsPerLayer * width), 2, layerCount), MemoryBudget.SLOT_ADVICE);
        this.pool = new BlockPool(blocks, BLOCK_SIZE);
        this.refs = new int[blocks];
        this.tables = new int[rows][maxBlocks];
        this.held = new int[rows];
        this.layers = new KvLayer[layerCount];
        for (int l = 0; l < layerCount; l++) {
            Tensor k = ops.allocate(owner + " decoder layer " + l + " self-attention key cache", type, rowsPerLayer, width);
            Tensor v = ops.allocate(owner + " decoder layer " + l + " self-attention value cache", type, rowsPerLayer, width);
            layers[l] = new KvLayer(k, v, BLOCK_SIZE);
        }
    }

    KvLayer layer(int l) { return layers[l]; }

    /** Block-table entries per row (what a position of the row can reach). */
    int maxBlocks() { return maxBlocks; }

    /** Row r's block table (its first {@code blocksFor(length)} entries; a copy). */
    int[] table(int row) { return Arrays.copyOf(tables[row], held[row]); }

    /** Blocks held by any row (0 when every row was released). */
    int heldBlocks() { return pool.held(); }

    /** Total blocks. */
    int blocks() { return pool.blocks(); }

    /**
     * One step's tables: row {@code rows[i]} becomes row {@code parents[i]}'s first {@code positions[i]} positions (as
     * they were before the step) plus a writable slot at {@code positions[i]}. Returns the copies to perform before the
     * new keys are written (copy on write of shared partial blocks). Rows not named keep their tables.
     */
    Copy[] step(int[] rows, int[] parents, int[] positions) {
        int n = rows.length;
        int[][] next = new int[n][];
        for (int i = 0; i < n; i++) { // every new table first shares its parent's blocks...
            next[i] = Arrays.copyOf(tables[parents[i]], blocksFor(positions[i]) + 1);
            for (int b = 0; b < next[i].length - 1; b++) refs[next[i][b]]++;
        }
        for (int r : rows) release(r); // ...then the stepped rows let go of their old ones
        Copy[] copies = new Copy[n];
        int c = 0;
        for (int i = 0; i < n; i++) {
            int index = positions[i] / BLOCK_SIZE, filled = positions[i] % BLOCK_SIZE;
            if (filled == 0) {
                next[i][index] = take(); // the position opens a new block
            } else {
                int shared = next[i][index];
                if (refs[shared] > 1) { // copy on write: this row takes its own copy of the filled slots
                    int own = take();
                    copies[c++] = new Copy(shared, own, filled);
                    refs[shared]--;
                    next[i][index] = own;
                }
            }
            int length = index + 1;
            System.arraycopy(next[i], 0, tables[rows[i]], 0, length);
            held[rows[i]] = length;
        }
        return Arrays.copyOf(copies, c);
    }

    /** Row r lets go of its blocks (blocks no other row holds go back to the pool); its table becomes empty. */
    void release(int row) {
        for (int i = 0; i < held[row]; i++) {
            int b = tables[row][i];
            if (refs[b] <= 0) throw new IllegalStateException("KV block " + b + " of decoder row " + row + " released more often than taken");
            if (--refs[b] == 0) pool.release(new int[] {b}, 1);
        }
        held[row] = 0;
    }

    private int take() {
        int[] one = new int[1];
        pool.take(one, 0, 1);
        refs[one[0]] = 1;
        return one[0];
    }

    private static int blocksFor(int positions) { return (positions + BLOCK_SIZE - 1) / BLOCK_SIZE; }
}
