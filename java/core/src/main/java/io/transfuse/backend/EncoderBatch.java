package io.transfuse.backend;

import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

/**
 * One forward pass of an encoder over several sequences packed without padding: sequence b owns rows
 * {@link #start}(b) .. + {@link #length}(b). Its I32 metadata (the prefix sums of the lengths, and each
 * token's position in its sequence plus a fixed offset) lives in one tensor on the backend, written with
 * one copy per pass. Build a pass with {@link #clear}, {@link #add} per sequence, {@link #commit}.
 * Not thread-safe.
 */
public final class EncoderBatch {
    private final Backend backend;
    private final int maxTokens, maxSequences, positionOffset;
    private final Tensor meta;
    private final int[] host;
    private final int cuAt, positionsAt;
    private int tokens, sequences, maxLength;

    /** @param positionOffset added to each token's index in its sequence to give its position id (RoBERTa: pad id + 1) */
    public EncoderBatch(Backend backend, int maxTokens, int maxSequences, int positionOffset) {
        if (maxTokens <= 0 || maxSequences <= 0 || positionOffset < 0) {
            throw new IllegalArgumentException("encoder batch limits must be positive: " + maxTokens + " tokens, " + maxSequences + " sequences");
        }
        this.backend = backend;
        this.maxTokens = maxTokens;
        this.maxSequences = maxSequences;
        this.positionOffset = positionOffset;
        cuAt = 0;
        positionsAt = maxSequences + 1;
        meta = backend.allocate("encoder batch (sequence offsets, positions)", DType.I32, positionsAt + maxTokens, 1);
        host = new int[positionsAt + maxTokens];
    }

    public int maxTokens() { return maxTokens; }

    public int maxSequences() { return maxSequences; }

    public void clear() {
        tokens = sequences = maxLength = 0;
    }

    /** Adds a sequence of {@code length} tokens (rows {@link #tokens()} ..). */
    public void add(int length) {
        if (sequences == maxSequences) throw new IllegalArgumentException("an encoder batch holds at most " + maxSequences + " sequences");
        if (length <= 0 || tokens + length > maxTokens) {
            throw new IllegalArgumentException("sequence " + sequences + " of " + length + " tokens does not fit a batch of " + tokens
                    + " of at most " + maxTokens + " tokens");
        }
        for (int i = 0; i < length; i++) host[positionsAt + tokens + i] = positionOffset + i;
        tokens += length;
        sequences++;
        host[cuAt] = 0;
        host[cuAt + sequences] = tokens;
        maxLength = Math.max(maxLength, length);
    }

    /** Writes the pass to the backend (one copy). */
    public void commit() {
        if (sequences == 0) throw new IllegalStateException("an empty encoder batch");
        backend.write(meta, host, 0, positionsAt + tokens);
    }

    public int tokens() { return tokens; }

    public int sequences() { return sequences; }

    public int maxLength() { return maxLength; }

    /** First row of sequence b. */
    public int start(int b) { return host[cuAt + check(b)]; }

    public int length(int b) { return host[cuAt + check(b) + 1] - host[cuAt + b]; }

    /** I32 [sequences + 1]: prefix sums of the lengths. */
    public Tensor cuSeqlens() { return meta.rows(cuAt, sequences + 1).reshape(sequences + 1); }

    /** I32 [tokens]: position ids (offset + index in the sequence). */
    public Tensor positions() { return meta.rows(positionsAt, tokens).reshape(tokens); }

    private int check(int b) {
        if (b < 0 || b >= sequences) throw new IndexOutOfBoundsException("sequence " + b + " of an encoder batch of " + sequences);
        return b;
    }
}
