package io.transfuse.backend;

import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

import java.util.Arrays;

/**
 * One forward pass of a decoder over several sequences: the new tokens of every sequence packed
 * together (sequence s owns rows {@link #start}(s) .. + {@link #count}(s)), some in prefill, some
 * decoding one token, with what the ops need to place them: per token its position, its sequence and
 * its context length; per sequence its KV block table and the row of its last token. Everything lives
 * in one I32 tensor on the backend, written with one copy per pass ({@link #commit}); the tensors
 * handed out are fixed views of it, so a recorded step ({@link Backend#replay}) reads each pass's values.
 *
 * <p>Build a pass with {@link #clear}, {@link #add} per sequence, {@link #commit}. Not thread-safe.
 */
public final class DecoderBatch {
    private final Backend backend;
    private final int maxTokens, maxSequences, maxBlocks;
    private final Tensor meta;
    private final int[] host;
    // offsets of the sections of meta (and host)
    private final int idsAt, positionsAt, seqIdsAt, contextAt, lastAt, cuAt, tablesAt, tokenTablesAt;
    private final int[] start, count, startPos;
    private int tokens, sequences, maxCount, maxContext;
    private boolean prefillOnly, decodeOnly;

    /**
     * @param maxBlocks KV blocks a sequence's table holds (0 for decoders without a KV cache)
     */
    public DecoderBatch(Backend backend, int maxTokens, int maxSequences, int maxBlocks) {
        if (maxTokens <= 0 || maxSequences <= 0 || maxBlocks < 0) {
            throw new IllegalArgumentException("decoder batch limits must be positive: " + maxTokens + " tokens, " + maxSequences
                    + " sequences, " + maxBlocks + " blocks per sequence");
        }
        this.backend = backend;
        this.maxTokens = maxTokens;
        this.maxSequences = maxSequences;
        this.maxBlocks = maxBlocks;
        idsAt = 0;
        positionsAt = idsAt + maxTokens;
        seqIdsAt = positionsAt + maxTokens;
        contextAt = seqIdsAt + maxTokens;
        lastAt = contextAt + maxTokens;
        cuAt = lastAt + maxSequences;
        tablesAt = cuAt + maxSequences + 1;
        tokenTablesAt = tablesAt + maxSequences * maxBlocks;
        int total = Math.addExact(tokenTablesAt, Math.multiplyExact(maxTokens, maxBlocks));
        meta = backend.allocate("decoder batch (token ids, positions, block tables)", DType.I32, total, 1);
        host = new int[total];
        start = new int[maxSequences];
        count = new int[maxSequences];
        startPos = new int[maxSequences];
    }

    public int maxTokens() { return maxTokens; }

    public int maxSequences() { return maxSequences; }

    /** KV blocks one sequence's table holds. */
    public int maxBlocks() { return maxBlocks; }

    /** Starts describing a new pass. */
    public void clear() {
        tokens = sequences = maxCount = maxContext = 0;
        prefillOnly = decodeOnly = true;
    }

    /**
     * Adds sequence {@link #sequences()}: {@code tokens[from, from + count)} at positions {@code startPos ..},
     * with {@code blockTable} (its KV blocks, covering those positions; null without a KV cache).
     */
    public void add(int[] ids, int from, int n, int firstPos, int[] blockTable) {
        if (sequences == maxSequences) throw new IllegalArgumentException("a batch holds at most " + maxSequences + " sequences");
        if (n <= 0 || tokens + n > maxTokens) {
            throw new IllegalArgumentException("sequence " + sequences + " brings " + n + " tokens to a batch of " + tokens
                    + "; a batch holds 1.." + maxTokens + " tokens");
        }
        int s = sequences++, end = firstPos + n;
        if (maxBlocks > 0) {
            if (blockTable == null || blockTable.length > maxBlocks) {
                throw new IllegalArgumentException("sequence " + s + " needs a KV block table of at most " + maxBlocks + " blocks");
            }
            int at = tablesAt + s * maxBlocks;
            System.arraycopy(blockTable, 0, host, at, blockTable.length);
            Arrays.fill(host, at + blockTable.length, at + maxBlocks, 0); // unused entries: a valid block, never read
        }
        start[s] = tokens;
        count[s] = n;
        startPos[s] = firstPos;
        for (int i = 0; i < n; i++) {
            int t = tokens + i;
            host[idsAt + t] = ids[from + i];
            host[positionsAt + t] = firstPos + i;
            host[seqIdsAt + t] = s;
            host[contextAt + t] = firstPos + i + 1;
            if (maxBlocks > 0) System.arraycopy(host, tablesAt + s * maxBlocks, host, tokenTablesAt + t * maxBlocks, maxBlocks);
        }
        tokens += n;
        host[lastAt + s] = tokens - 1;
        host[cuAt] = 0;
        host[cuAt + s + 1] = tokens;
        maxCount = Math.max(maxCount, n);
        maxContext = Math.max(maxContext, end);
        prefillOnly &= firstPos == 0;
        decodeOnly &= n == 1;
    }

    /** Writes the pass to the backend (one copy). */
    public void commit() {
        if (sequences == 0) throw new IllegalStateException("an empty batch");
        int used = maxBlocks > 0 ? tokenTablesAt + tokens * maxBlocks : cuAt + sequences + 1;
        backend.write(meta, host, 0, used);
    }

    public int tokens() { return tokens; }

    public int sequences() { return sequences; }

    /** First row of sequence s in the packed tokens. */
    public int start(int s) { return start[checkSeq(s)]; }

    /** Tokens of sequence s in this pass. */
    public int count(int s) { return count[checkSeq(s)]; }

    /** Position of sequence s's first token in this pass. */
    public int startPos(int s) { return startPos[checkSeq(s)]; }

    /** The most tokens any sequence brings. */
    public int maxCount() { return maxCount; }

    /** The longest context any token sees (its position + 1). */
    public int maxContext() { return maxContext; }

    /** Every sequence starts at position 0 (attention can read the pass's own keys and values). */
    public boolean prefillOnly() { return prefillOnly; }

    /** Every sequence brings one token (a decode step). */
    public boolean decodeOnly() { return decodeOnly; }

    /** I32 [tokens]: the token ids. */
    public Tensor ids() { return section(idsAt, tokens); }

    /** I32 [tokens]: each token's position in its sequence. */
    public Tensor positions() { return section(positionsAt, tokens); }

    /** I32 [tokens]: each token's sequence (its row of {@link #blockTables}). */
    public Tensor seqIds() { return section(seqIdsAt, tokens); }

    /** I32 [tokens]: each token's context length (position + 1: the keys it sees). */
    public Tensor contextLens() { return section(contextAt, tokens); }

    /** I32 [sequences]: the row of each sequence's last token. */
    public Tensor lastRows() { return section(lastAt, sequences); }

    /** I32 [sequences + 1]: prefix sums of the sequences' token counts. */
    public Tensor cuSeqlens() { return section(cuAt, sequences + 1); }

    /** I32 [sequences][maxBlocks]: each sequence's KV block table. */
    public Tensor blockTables() { return section(tablesAt, sequences * maxBlocks).reshape(sequences, maxBlocks); }

    /** I32 [tokens][maxBlocks]: each token's sequence's block table (per-token attention reads its own row). */
    public Tensor tokenBlockTables() { return section(tokenTablesAt, tokens * maxBlocks).reshape(tokens, maxBlocks); }

    private Tensor section(int at, int n) {
        return meta.rows(at, n).reshape(n);
    }

    private int checkSeq(int s) {
        if (s < 0 || s >= sequences) throw new IndexOutOfBoundsException("sequence " + s + " of a batch of " + sequences);
        return s;
    }

    @Override
    public String toString() {
        return "batch of " + sequences + " sequences, " + tokens + " tokens: counts " + Arrays.toString(Arrays.copyOf(count, sequences))
                + ", start positions " + Arrays.toString(Arrays.copyOf(startPos, sequences));
    }
}
