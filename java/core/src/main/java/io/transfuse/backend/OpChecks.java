package io.transfuse.backend;

import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

/**
 * The shape rules of the op set ({@link Backend}), checked the same way by every backend before it
 * touches memory: each failure is an {@link IllegalArgumentException} naming the op, the tensor and the
 * shapes. (Backend-specific rules, such as supported types, stay with the backend.)
 */
public final class OpChecks {
    private OpChecks() {}

    /** x [n][in], w [out][in], out [n][out]. */
    public static void matmul(String op, Tensor out, Tensor x, Tensor w) {
        present(op, "out", out);
        present(op, "x", x);
        present(op, "w", w);
        if (x.cols() != w.cols() || out.rows() != x.rows() || out.cols() != w.rows()) {
            throw new IllegalArgumentException(op + ": out " + out.describe() + " = x " + x.describe() + " times w " + w.describe()
                    + "^T needs x [n][in], w [out][in], out [n][out]");
        }
        contiguous(op, out, x);
    }

    /** A vector of {@code n} elements (any shape), or null when {@code optional}. */
    public static void vector(String op, String name, Tensor v, long n, boolean optional) {
        if (v == null) {
            if (optional) return;
            throw new IllegalArgumentException(op + ": " + name + " is null");
        }
        if (v.elementCount() != n || !v.isContiguous()) {
            throw new IllegalArgumentException(op + ": " + name + " " + v.describe() + " must be a contiguous vector of " + n + " elements");
        }
    }

    /** A norm: out, x and residual (optional) contiguous [rows][cols]; weight and bias (optional) of cols elements. */
    public static void norm(String op, Tensor out, Tensor residual, Tensor x, Tensor weight, Tensor bias) {
        sameShape(op, out, x, residual);
        contiguous(op, out, x, residual);
        vector(op, "weight", weight, x.cols(), false);
        vector(op, "bias", bias, x.cols(), true);
    }

    /** Tensors of equal [rows][cols]. */
    public static void sameShape(String op, Tensor first, Tensor... others) {
        present(op, "first operand", first);
        for (Tensor t : others) {
            if (t == null) continue;
            if (t.rows() != first.rows() || t.cols() != first.cols()) {
                throw new IllegalArgumentException(op + ": " + t.describe() + " and " + first.describe() + " must have the same shape");
            }
        }
    }

    /** Every tensor given is contiguous. */
    public static void contiguous(String op, Tensor... ts) {
        for (Tensor t : ts) {
            if (t != null && !t.isContiguous()) throw new IllegalArgumentException(op + ": " + t.describe() + " must be contiguous");
        }
    }

    /** An I32 tensor of at least {@code n} elements. */
    public static void ints(String op, String name, Tensor t, long n) {
        present(op, name, t);
        if (t.dtype() != DType.I32 || t.elementCount() < n) {
            throw new IllegalArgumentException(op + ": " + name + " " + t.describe() + " must be I32 with at least " + n + " elements");
        }
    }

    /** {@code t} is [rows][width] (any row count when {@code rows < 0}). */
    public static void width(String op, String name, Tensor t, long rows, long width) {
        present(op, name, t);
        if (t.cols() != width || (rows >= 0 && t.rows() != rows)) {
            throw new IllegalArgumentException(op + ": " + name + " " + t.describe() + " must be [" + (rows >= 0 ? rows : "n") + "][" + width + "]");
        }
    }

    /** The attention tensors of a decoder batch: q, out [n][heads*D], k, v [n][kvHeads*D], the cache of the same row width. */
    public static void attention(String op, Tensor q, Tensor k, Tensor v, KvLayer cache, Heads heads, DecoderBatch batch) {
        int n = batch.tokens();
        width(op, "q", q, n, heads.qWidth());
        width(op, "k", k, n, heads.kvWidth());
        width(op, "v", v, n, heads.kvWidth());
        if (cache.keys().cols() != heads.kvWidth()) {
            throw new IllegalArgumentException(op + ": the KV cache rows " + cache.keys().describe() + " must be kvHeads x headDim = " + heads.kvWidth());
        }
        if (batch.maxBlocks() == 0) throw new IllegalArgumentException(op + ": the batch carries no KV block tables");
        contiguous(op, q, k, v);
    }

    /** Packed varlen attention: out, q [n][heads*D], k, v [n][kvHeads*D], k and v one row stride, out contiguous. */
    public static void varlen(String op, Tensor out, Tensor q, Tensor k, Tensor v, Heads heads, EncoderBatch batch) {
        int n = batch.tokens();
        width(op, "out", out, n, heads.qWidth());
        width(op, "q", q, n, heads.qWidth());
        width(op, "k", k, n, heads.kvWidth());
        width(op, "v", v, n, heads.kvWidth());
        contiguous(op, out);
        if (k.rowStride() != v.rowStride()) {
            throw new IllegalArgumentException(op + ": k " + k.describe() + " and v " + v.describe() + " must have one row stride");
        }
    }

    /**
     * Window attention: out, q, k, v [grid tokens][width], q, k, v one row stride, out contiguous, bias F32 [(2w-1)^2][heads],
     * logitScale null or F32 [heads].
     */
    public static void window(String op, Tensor out, Tensor q, Tensor k, Tensor v, Tensor bias, Tensor logitScale, WindowGrid grid,
                              int heads) {
        if (heads < 1) throw new IllegalArgumentException(op + ": heads must be positive, got " + heads);
        present(op, "out", out);
        long width = out.cols();
        if (width % heads != 0) throw new IllegalArgumentException(op + ": out " + out.describe() + " is not " + heads + " heads wide");
        width(op, "out", out, grid.tokens(), width);
        width(op, "q", q, grid.tokens(), width);
        width(op, "k", k, grid.tokens(), width);
        width(op, "v", v, grid.tokens(), width);
        contiguous(op, out);
        if (q.rowStride() != k.rowStride() || k.rowStride() != v.rowStride()) {
            throw new IllegalArgumentException(op + ": q " + q.describe() + ", k and v must have one row stride");
        }
        width(op, "bias", bias, grid.biasRows(), heads);
        if (bias.dtype() != DType.F32) throw new IllegalArgumentException(op + ": bias " + bias.describe() + " must be F32");
        contiguous(op, bias);
        if (logitScale != null && (logitScale.dtype() != DType.F32 || logitScale.elementCount() != heads || !logitScale.isContiguous())) {
            throw new IllegalArgumentException(op + ": logitScale " + logitScale.describe() + " must be F32 with " + heads + " values");
        }
    }

    /** Causal conv1d: out and x [n][dim], weight [dim][width], state [dim][width-1], bias [dim] or null. */
    public static void conv(String op, Tensor out, Tensor x, Tensor state, Tensor weight, Tensor bias) {
        sameShape(op, out, x);
        contiguous(op, out, x, state, weight);
        width(op, "weight", weight, x.cols(), weight.cols());
        width(op, "state", state, x.cols(), weight.cols() - 1);
        vector(op, "bias", bias, x.cols(), true);
    }

    /** conv2d: x [inPixels][inChannels], weight [outChannels][patch], out [outPixels][outChannels], bias [outChannels] or null. */
    public static void conv2d(String op, Tensor out, Tensor x, Tensor weight, Tensor bias, Conv2d conv) {
        if (conv == null) throw new IllegalArgumentException(op + ": conv (the geometry) is null");
        width(op, "x", x, conv.inPixels(), conv.inChannels());
        width(op, "weight", weight, conv.outChannels(), conv.patch());
        width(op, "out", out, conv.outPixels(), conv.outChannels());
        vector(op, "bias", bias, conv.outChannels(), true);
        contiguous(op, out, x, weight);
        if (x.dtype() != out.dtype() || weight.dtype() != out.dtype() || (bias != null && bias.dtype() != out.dtype())) {
            throw new IllegalArgumentException(op + ": x " + x.describe() + ", weight " + weight.describe() + ", bias "
                    + (bias == null ? "null" : bias.describe()) + " and out " + out.describe() + " must have one element type");
        }
    }

    /** Selective scan: out, u, delta, z [n][dim]; B, C [n][dstate]; A and state [dim][dstate]; D, deltaBias [dim] or null. */
    public static void scan(String op, Tensor out, Tensor state, Tensor u, Tensor delta, Tensor a, Tensor b, Tensor c, Tensor d,
                            Tensor z, Tensor deltaBias) {
        sameShape(op, out, u, delta, z);
        sameShape(op, b, c);
        contiguous(op, out, state, u, delta, a, b, c, z);
        width(op, "A", a, u.cols(), a.cols());
        width(op, "state", state, u.cols(), a.cols());
        width(op, "B", b, u.rows(), a.cols());
        vector(op, "D", d, u.cols(), true);
        vector(op, "deltaBias", deltaBias, u.cols(), true);
    }

    /**
     * SSD scan: out, x [n][heads * headDim]; dt [n][heads]; B, C [n][groups * dstate]; state [heads * headDim][dstate];
     * A, D, dtBias [heads] (D, dtBias or null), heads a multiple of groups.
     */
    public static void ssd(String op, Tensor out, Tensor state, Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor d,
                           Tensor dtBias) {
        present(op, "dt", dt);
        present(op, "state", state);
        present(op, "B", b);
        sameShape(op, out, x);
        sameShape(op, b, c);
        contiguous(op, out, state, x, dt, b, c);
        long heads = dt.cols(), dstate = state.cols();
        if (heads <= 0 || x.cols() % heads != 0) {
            throw new IllegalArgumentException(op + ": x " + x.describe() + " must hold dt's " + heads + " heads of equal width");
        }
        width(op, "dt", dt, x.rows(), heads);
        width(op, "state", state, x.cols(), dstate);
        if (dstate <= 0 || b.cols() % dstate != 0 || b.rows() != x.rows() || heads % (b.cols() / dstate) != 0) {
            throw new IllegalArgumentException(op + ": B " + b.describe() + " must be [" + x.rows() + "][groups * " + dstate
                    + "] with the " + heads + " heads a multiple of groups");
        }
        vector(op, "A", a, heads, false);
        vector(op, "D", d, heads, true);
        vector(op, "dtBias", dtBias, heads, true);
    }

    /** Gated RMSNorm: out, x, z contiguous [n][dim], weight [dim], groupSize > 0 dividing dim. */
    public static void gatedNorm(String op, Tensor out, Tensor x, Tensor z, Tensor weight, int groupSize) {
        present(op, "z", z);
        sameShape(op, out, x, z);
        contiguous(op, out, x, z);
        vector(op, "weight", weight, x.cols(), false);
        if (groupSize <= 0 || x.cols() % groupSize != 0) {
            throw new IllegalArgumentException(op + ": group size " + groupSize + " must divide the row width " + x.cols());
        }
    }

    // ---- BERT variants (MobileBERT, ModernBERT, nomic-bert, JinaBERT) ----

    /** In-place encoder RoPE: q [n][heads*D], k [n][kvHeads*D] contiguous, positions I32 [n], a rotating rope within D. */
    public static void encoderRope(String op, Tensor q, Tensor k, Tensor positions, Rope rope, Heads heads) {
        present(op, "q", q);
        present(op, "k", k);
        if (rope == null) throw new IllegalArgumentException(op + ": rope is null");
        width(op, "q", q, -1, heads.qWidth());
        width(op, "k", k, q.rows(), heads.kvWidth());
        contiguous(op, q, k);
        ints(op, "positions", positions, q.rows());
        if (rope.rotaryDim() == 0 || rope.rotaryDim() > heads.headDim()) {
            throw new IllegalArgumentException(op + ": rotary dim " + rope.rotaryDim() + " must be in (0, head dim " + heads.headDim() + "]");
        }
        if (rope.invFreq().dtype() != DType.F32) throw new IllegalArgumentException(op + ": inverse frequencies " + rope.invFreq().describe() + " must be F32");
    }

    /** Masked varlen attention: {@link #varlen}'s shapes, a window &gt;= 0 and ALiBi slopes null or F32 [heads]. */
    public static void maskedVarlen(String op, Tensor out, Tensor q, Tensor k, Tensor v, Heads heads, EncoderBatch batch, int window,
                                    Tensor alibiSlopes) {
        varlen(op, out, q, k, v, heads, batch);
        if (window < 0) throw new IllegalArgumentException(op + ": window must be >= 0 (0: none), got " + window);
        vector(op, "alibiSlopes", alibiSlopes, heads.heads(), true);
        if (alibiSlopes != null && alibiSlopes.dtype() != DType.F32) {
            throw new IllegalArgumentException(op + ": alibiSlopes " + alibiSlopes.describe() + " must be F32");
        }
    }

    private static void present(String op, String name, Tensor t) {
        if (t == null) throw new IllegalArgumentException(op + ": " + name + " is null");
    }

    // ---- DETR: max pooling, cross-attention --------------------------------------------------------

    /** Max pooling: x [inPixels][channels], out [outPixels][channels], one element type, contiguous; a pool's geometry. */
    public static void maxPool2d(String op, Tensor out, Tensor x, Conv2d pool) {
        if (pool == null) throw new IllegalArgumentException(op + ": pool (the geometry) is null");
        if (pool.inChannels() != pool.outChannels()) {
            throw new IllegalArgumentException(op + ": a pool keeps its channels, got " + pool.inChannels() + " in and "
                    + pool.outChannels() + " out");
        }
        if (2 * pool.padH() > pool.kernelH() || 2 * pool.padW() > pool.kernelW()) {
            throw new IllegalArgumentException(op + ": padding " + pool.padH() + "x" + pool.padW() + " is more than half the "
                    + pool.kernelH() + "x" + pool.kernelW() + " window");
        }
        width(op, "x", x, pool.inPixels(), pool.inChannels());
        width(op, "out", out, pool.outPixels(), pool.outChannels());
        contiguous(op, out, x);
        if (x.dtype() != out.dtype()) {
            throw new IllegalArgumentException(op + ": x " + x.describe() + " and out " + out.describe() + " must have one element type");
        }
    }

    /** Cross-attention: q, out [queries][qWidth], k, v [keys][kvWidth], all contiguous, as many sequences on both sides. */
    public static void crossAttention(String op, Tensor out, Tensor q, Tensor k, Tensor v, Heads heads, EncoderBatch queries,
                                      EncoderBatch keys) {
        if (heads == null) throw new IllegalArgumentException(op + ": heads is null");
        if (queries == null || keys == null) throw new IllegalArgumentException(op + ": the query and key batches must not be null");
        if (queries.sequences() != keys.sequences()) {
            throw new IllegalArgumentException(op + ": " + queries.sequences() + " query sequences but " + keys.sequences() + " key sequences");
        }
        width(op, "out", out, queries.tokens(), heads.qWidth());
        width(op, "q", q, queries.tokens(), heads.qWidth());
        width(op, "k", k, keys.tokens(), heads.kvWidth());
        width(op, "v", v, keys.tokens(), heads.kvWidth());
        contiguous(op, out, q, k, v);
    }
}
