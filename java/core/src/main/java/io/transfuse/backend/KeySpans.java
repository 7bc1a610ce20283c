package io.transfuse.backend;

import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

/**
 * Which key rows each query token of {@link Backend#attentionRelBias} attends to: per token its first key row, its
 * key count and its own position (the relative position of key j of its span is {@code j - position}). An encoder
 * token sees its whole source (count = source length), a decoder token its own row's keys up to itself (count =
 * position + 1), a cross-attention token its request's encoder rows. Lives in one I32 tensor [maxTokens][3] on the
 * backend, written with one copy per pass. Build a pass with {@link #clear}, {@link #add} per token, {@link #commit}.
 * Not thread-safe.
 */
public final class KeySpans {
    private final Backend backend;
    private final Tensor table;
    private final int[] host;
    private final int maxTokens;
    private int tokens;

    public KeySpans(Backend backend, String name, int maxTokens) {
        if (maxTokens <= 0) throw new IllegalArgumentException(name + ": key spans need a positive token limit, got " + maxTokens);
        this.backend = backend;
        this.maxTokens = maxTokens;
        this.table = backend.allocate(name + " (key spans)", DType.I32, maxTokens, 3);
        this.host = new int[maxTokens * 3];
    }

    public void clear() { tokens = 0; }

    /** The next query token attends to key rows {@code first .. first + count - 1}; it sits at {@code position}. */
    public void add(int first, int count, int position) {
        if (tokens == maxTokens) throw new IllegalArgumentException("key spans hold at most " + maxTokens + " tokens");
        if (first < 0 || count < 0 || position < 0) {
            throw new IllegalArgumentException("key span of token " + tokens + ": first " + first + ", count " + count + ", position "
                    + position + " must all be >= 0");
        }
        host[3 * tokens] = first;
        host[3 * tokens + 1] = count;
        host[3 * tokens + 2] = position;
        tokens++;
    }

    /** Writes the spans to the backend (one copy). */
    public void commit() {
        if (tokens == 0) throw new IllegalStateException("no key spans to commit");
        backend.write(table, host, 0, tokens * 3);
    }

    public int tokens() { return tokens; }

    /** First key row of token t (host copy, for argument checks). */
    public int first(int t) { return host[3 * check(t)]; }

    public int count(int t) { return host[3 * check(t) + 1]; }

    public int position(int t) { return host[3 * check(t) + 2]; }

    /** I32 [tokens][3]: (first key row, key count, position) per token. */
    public Tensor table() { return table.rows(0, tokens); }

    private int check(int t) {
        if (t < 0 || t >= tokens) throw new IndexOutOfBoundsException("token " + t + " of " + tokens + " key spans");
        return t;
    }

    /**
     * Checks {@link Backend#attentionRelBias}'s arguments against each other before a native call: shapes, that every
     * span lies inside k's rows, the bias table's shape. Throws IllegalArgumentException naming the argument.
     */
    public static void check(String op, Tensor out, Tensor q, Tensor k, Tensor v, KeySpans spans, Tensor bias, int biasRadius,
                             Heads heads) {
        int n = spans.tokens();
        OpChecks.contiguous(op, out, q, k, v);
        OpChecks.width(op, "q", q, n, heads.qWidth());
        OpChecks.width(op, "out", out, n, heads.qWidth());
        if (k.cols() != heads.kvWidth() || v.cols() != heads.kvWidth() || k.rows() != v.rows()) {
            throw new IllegalArgumentException(op + ": k " + k.describe() + " and v " + v.describe() + " must both be [rows]["
                    + heads.kvWidth() + "]");
        }
        for (int t = 0; t < n; t++) {
            long end = (long) spans.first(t) + spans.count(t);
            if (end > k.rows()) {
                throw new IllegalArgumentException(op + ": token " + t + "'s keys " + spans.first(t) + " .. " + (end - 1) + " lie outside k's "
                        + k.rows() + " rows");
            }
        }
        if (bias != null) {
            if (biasRadius < 0) throw new IllegalArgumentException(op + ": bias radius must be >= 0, got " + biasRadius);
            if (bias.dtype() != DType.F32 || bias.rows() != heads.heads() || bias.cols() != 2L * biasRadius + 1) {
                throw new IllegalArgumentException(op + ": bias " + bias.describe() + " must be F32 [" + heads.heads() + "]["
                        + (2L * biasRadius + 1) + "]");
            }
        }
    }
}
