package io.transfuse.backend;

import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Dequantize;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Test-only backend: the op set as plain Java loops in double precision, written straight from the
 * definitions in {@link Backend}, with its own reading of the paged KV cache (a sequence's position p
 * at block {@code table[p / blockSize]}, slot {@code p % blockSize}). Running a model graph on it checks
 * the graph independently of the native kernels. Activations and weights are F32 (weights of other types
 * are widened at load); strided views are honoured where the op set allows them.
 *
 * <p>Its KV cache is F32, holding either the exact keys and values or (for a backend whose cache is F16,
 * {@link #ReferenceBackend(boolean)}) each one rounded to the nearest f16 value as it is written
 * ({@link Float#floatToFloat16}, round to nearest even), so that the reference reads what such a cache holds.
 */
public final class ReferenceBackend implements Backend {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;

    private final TrackedArena arena = new TrackedArena("reference backend");
    private final boolean f16KvCache;

    /** A reference with an exact F32 KV cache. */
    public ReferenceBackend() { this(false); }

    /** @param f16KvCache round every key and value to f16 as it is stored in the KV cache */
    public ReferenceBackend(boolean f16KvCache) { this.f16KvCache = f16KvCache; }

    /** A value as the KV cache stores it. */
    private double cached(double x) {
        return f16KvCache ? Float.float16ToFloat(Float.floatToFloat16((float) x)) : x;
    }

    /** Element (r, c) of a [rows][cols] tensor, with its row stride. */
    private static double at(Tensor t, long r, long c) { return t.data().getAtIndex(F, r * t.rowStride() + c); }

    private static void put(Tensor t, long r, long c, double v) { t.data().setAtIndex(F, r * t.rowStride() + c, (float) v); }

    private static double at(Tensor t, long i) { return t.data().getAtIndex(F, i); }

    private static int id(Tensor t, long i) { return t.data().getAtIndex(I, i); }

    @Override public String name() { return "reference"; }

    @Override public DType activationType() { return DType.F32; }

    @Override
    public Tensor allocate(String name, DType type, long... shape) {
        return new Tensor(name, type, shape, arena.allocate(type.bytesFor(Tensor.elementCount(shape))));
    }

    @Override
    public Tensor upload(Tensor host, DType type) {
        if (type != DType.F32) throw new UnsupportedOperationException("reference backend: F32 only");
        return Dequantize.toF32Tensor(host, arena);
    }

    @Override
    public Tensor weight(Tensor host, WeightUse use) { return upload(host, DType.F32); }

    @Override
    public void write(Tensor dst, int[] values, int from, int count) {
        MemorySegment.copy(values, from, dst.data(), I, 0, count);
    }

    @Override
    public void write(Tensor dst, float[] values, int from, int count) {
        MemorySegment.copy(values, from, dst.data(), F, 0, count);
    }

    @Override
    public void read(Tensor src, float[] dst, int at, int count) {
        MemorySegment.copy(src.data(), F, 0, dst, at, count);
    }

    @Override
    public int attentionHeadDim(int headDim, boolean paged) { return headDim; }

    @Override
    public void replay(Object key, Runnable step) { step.run(); }

    @Override
    public void close() { arena.close(); }

    @Override
    public void matmul(Tensor out, Tensor x, Tensor w) {
        for (long t = 0; t < x.rows(); t++) {
            for (long o = 0; o < w.rows(); o++) {
                double acc = 0;
                for (long i = 0; i < w.cols(); i++) acc += at(w, o, i) * at(x, t, i);
                put(out, t, o, acc);
            }
        }
    }

    @Override
    public void linear(Tensor out, Tensor x, Tensor w, Tensor bias, Activation act) {
        matmul(out, x, w);
        biasAct(out, bias, act);
    }

    @Override
    public void biasAct(Tensor x, Tensor bias, Activation act) {
        for (long r = 0; r < x.rows(); r++) {
            for (long c = 0; c < x.cols(); c++) put(x, r, c, apply(act, at(x, r, c) + (bias == null ? 0 : at(bias, c))));
        }
    }

    static double apply(Activation act, double x) {
        return switch (act) {
            case IDENTITY -> x;
            case SILU -> x / (1 + Math.exp(-x));
            case GELU_ERF -> ReferenceMath.gelu(x);
            case GELU_TANH -> 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
            case RELU -> Math.max(x, 0);
        };
    }

    @Override
    public void add(Tensor out, Tensor a, Tensor b) {
        for (long r = 0; r < out.rows(); r++) {
            for (long c = 0; c < out.cols(); c++) put(out, r, c, at(a, r, c) + at(b, r, c));
        }
    }

    @Override
    public void gatherRows(Tensor out, Tensor table, Tensor rows) {
        for (long t = 0; t < out.rows(); t++) {
            int row = id(rows, t);
            if (row < 0 || row >= table.rows()) throw new IllegalArgumentException("row " + row + " outside the table of " + table.rows());
            for (long c = 0; c < out.cols(); c++) put(out, t, c, at(table, row, c));
        }
    }

    @Override
    public void rmsNorm(Tensor out, Tensor residual, Tensor x, Tensor weight, float eps) {
        double[] h = new double[(int) x.cols()];
        for (long r = 0; r < x.rows(); r++) {
            double ss = 0;
            for (int c = 0; c < h.length; c++) {
                h[c] = residual == null ? at(x, r, c) : (float) (at(residual, r, c) + at(x, r, c));
                if (residual != null) put(residual, r, c, h[c]);
                ss += h[c] * h[c];
            }
            double scale = 1 / Math.sqrt(ss / h.length + eps);
            for (int c = 0; c < h.length; c++) put(out, r, c, h[c] * scale * at(weight, c));
        }
    }

    @Override
    public void layerNorm(Tensor out, Tensor residual, Tensor x, Tensor weight, Tensor bias, float eps) {
        double[] h = new double[(int) x.cols()];
        for (long r = 0; r < x.rows(); r++) {
            double mean = 0;
            for (int c = 0; c < h.length; c++) {
                h[c] = residual == null ? at(x, r, c) : (float) (at(residual, r, c) + at(x, r, c));
                if (residual != null) put(residual, r, c, h[c]);
                mean += h[c];
            }
            mean /= h.length;
            double var = 0;
            for (double v : h) var += (v - mean) * (v - mean);
            double scale = 1 / Math.sqrt(var / h.length + eps);
            for (int c = 0; c < h.length; c++) put(out, r, c, (h[c] - mean) * scale * at(weight, c) + (bias == null ? 0 : at(bias, c)));
        }
    }

    @Override
    public void glu(Tensor out, Tensor gate, Tensor up, Activation act) {
        for (long r = 0; r < out.rows(); r++) {
            for (long c = 0; c < out.cols(); c++) put(out, r, c, apply(act, at(gate, r, c)) * at(up, r, c));
        }
    }

    /** The cache row of position p of the sequence whose block table is row {@code tableRow} of {@code tables}. */
    private static long cacheRow(Tensor tables, long tableRow, int p, int blockSize) {
        int block = id(tables, tableRow * tables.cols() + p / blockSize);
        return (long) block * blockSize + p % blockSize;
    }

    @Override
    public void ropeKv(Tensor q, Tensor k, Tensor v, KvLayer cache, Rope rope, Heads heads, DecoderBatch b) {
        int D = heads.headDim();
        for (int t = 0; t < b.tokens(); t++) {
            int pos = id(b.positions(), t);
            long row = cacheRow(b.blockTables(), id(b.seqIds(), t), pos, cache.blockSize());
            for (int h = 0; h < heads.heads(); h++) rotate(q, t, h * D, pos, rope);
            for (int kvh = 0; kvh < heads.kvHeads(); kvh++) {
                double[] kr = new double[D];
                for (int i = 0; i < D; i++) kr[i] = at(k, t, kvh * D + i);
                rotate(kr, pos, rope);
                for (int i = 0; i < D; i++) {
                    put(cache.keys(), row, kvh * D + i, cached(kr[i]));
                    put(cache.values(), row, kvh * D + i, cached(at(v, t, kvh * D + i)));
                }
            }
        }
    }

    private static void rotate(Tensor x, long row, int offset, int pos, Rope rope) {
        double[] h = new double[rope.rotaryDim()];
        for (int i = 0; i < h.length; i++) h[i] = at(x, row, offset + i);
        rotate(h, pos, rope);
        for (int i = 0; i < h.length; i++) put(x, row, offset + i, h[i]);
    }

    /** Rotates the first rotaryDim values of a head (angles in float, as the op set defines them). */
    private static void rotate(double[] x, int pos, Rope rope) {
        int half = rope.rotaryDim() / 2;
        for (int i = 0; i < half; i++) {
            float angle = (float) pos * (float) at(rope.invFreq(), i);
            int a = rope.layout() == RopeLayout.ADJACENT_PAIRS ? 2 * i : i, bb = rope.layout() == RopeLayout.ADJACENT_PAIRS ? 2 * i + 1 : i + half;
            double c = Math.cos(angle) * rope.mscale(), s = Math.sin(angle) * rope.mscale(), va = x[a], vb = x[bb];
            x[a] = va * c - vb * s;
            x[bb] = va * s + vb * c;
        }
    }

    @Override
    public void attention(Tensor out, Tensor q, Tensor k, Tensor v, KvLayer cache, Heads heads, DecoderBatch b, AttentionSpec spec) {
        int D = heads.headDim(), group = heads.heads() / heads.kvHeads();
        for (int t = 0; t < b.tokens(); t++) {
            // the token's position p sees keys j <= p with p - j < window (window 0: all of them)
            int pos = id(b.positions(), t), first = spec.window() > 0 ? Math.max(0, pos - spec.window() + 1) : 0;
            long seq = id(b.seqIds(), t);
            for (int h = 0; h < heads.heads(); h++) {
                int kvh = h / group;
                double[] p = new double[pos + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = first; j <= pos; j++) {
                    long row = cacheRow(b.blockTables(), seq, j, cache.blockSize());
                    double s = 0;
                    for (int i = 0; i < D; i++) s += at(q, t, h * D + i) * at(cache.keys(), row, kvh * D + i);
                    p[j] = s * spec.scale();
                    if (spec.softcap() > 0) p[j] = spec.softcap() * Math.tanh(p[j] / spec.softcap());
                    max = Math.max(max, p[j]);
                }
                double sum = 0;
                for (int j = first; j <= pos; j++) sum += p[j] = Math.exp(p[j] - max);
                for (int i = 0; i < D; i++) {
                    double acc = 0;
                    for (int j = first; j <= pos; j++) acc += p[j] / sum * at(cache.values(), cacheRow(b.blockTables(), seq, j, cache.blockSize()), kvh * D + i);
                    put(out, t, h * D + i, acc);
                }
            }
        }
    }

    @Override
    public void attentionVarlen(Tensor out, Tensor q, Tensor k, Tensor v, Heads heads, EncoderBatch b, float scale, boolean causal) {
        int D = heads.headDim(), group = heads.heads() / heads.kvHeads();
        for (int s = 0; s < b.sequences(); s++) {
            int start = b.start(s), len = b.length(s);
            for (int i = 0; i < len; i++) {
                int visible = causal ? i + 1 : len;
                for (int h = 0; h < heads.heads(); h++) {
                    int kvh = h / group;
                    double[] p = new double[visible];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < visible; j++) {
                        double dot = 0;
                        for (int d = 0; d < D; d++) dot += at(q, start + i, h * D + d) * at(k, start + j, kvh * D + d);
                        p[j] = dot * scale;
                        max = Math.max(max, p[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < visible; j++) sum += p[j] = Math.exp(p[j] - max);
                    for (int d = 0; d < D; d++) {
                        double acc = 0;
                        for (int j = 0; j < visible; j++) acc += p[j] / sum * at(v, start + j, kvh * D + d);
                        put(out, start + i, h * D + d, acc);
                    }
                }
            }
        }
    }

    /** Window attention straight from the definition: each window of the rolled grid, its tokens found by un-rolling. */
    @Override
    public void windowAttention(Tensor out, Tensor q, Tensor k, Tensor v, Tensor bias, Tensor logitScale, WindowGrid g, int heads,
                                float scale) {
        OpChecks.window("windowAttention", out, q, k, v, bias, logitScale, g, heads);
        int w = g.window(), n = w * w, D = (int) out.cols() / heads;
        for (int wy = 0; wy < g.height(); wy += w) {
            for (int wx = 0; wx < g.width(); wx += w) {
                int[] token = new int[n], region = new int[n];
                for (int i = 0; i < n; i++) {
                    int ys = wy + i / w, xs = wx + i % w; // position on the rolled grid
                    token[i] = ((ys + g.shift()) % g.height()) * g.width() + (xs + g.shift()) % g.width();
                    region[i] = g.shift() == 0 ? 0 : 3 * region(ys, g.height(), w, g.shift()) + region(xs, g.width(), w, g.shift());
                }
                for (int h = 0; h < heads; h++) {
                    for (int i = 0; i < n; i++) {
                        double[] p = new double[n];
                        double max = Double.NEGATIVE_INFINITY;
                        for (int j = 0; j < n; j++) {
                            double dot = 0, qq = 0, kk = 0;
                            for (int d = 0; d < D; d++) {
                                double a = at(q, token[i], h * D + d), c = at(k, token[j], h * D + d);
                                dot += a * c;
                                qq += a * a;
                                kk += c * c;
                            }
                            // Swin-V2: F.normalize(q) . F.normalize(k) times the head's logit scale
                            dot = logitScale == null ? dot * scale
                                    : dot / Math.max(Math.sqrt(qq), 1e-12) / Math.max(Math.sqrt(kk), 1e-12) * at(logitScale, h);
                            int rel = (i / w - j / w + w - 1) * (2 * w - 1) + (i % w - j % w + w - 1);
                            p[j] = dot + at(bias, rel, h) + (region[i] != region[j] ? -100 : 0);
                            max = Math.max(max, p[j]);
                        }
                        double sum = 0;
                        for (int j = 0; j < n; j++) sum += p[j] = Math.exp(p[j] - max);
                        for (int d = 0; d < D; d++) {
                            double acc = 0;
                            for (int j = 0; j < n; j++) acc += p[j] / sum * at(v, token[j], h * D + d);
                            put(out, token[i], h * D + d, acc);
                        }
                    }
                }
            }
        }
    }

    private static int region(int c, int size, int window, int shift) {
        return c < size - window ? 0 : c < size - shift ? 1 : 2;
    }

    /** Straight from the definition, in double (the test reference for conv2d on every backend). */
    @Override
    public void conv2d(Tensor out, Tensor x, Tensor weight, Tensor bias, Conv2d c, boolean relu) {
        int cig = c.inChannels() / c.groups(), cog = c.outChannels() / c.groups();
        for (int b = 0; b < c.batch(); b++)
            for (int oy = 0; oy < c.outHeight(); oy++)
                for (int ox = 0; ox < c.outWidth(); ox++) {
                    long p = ((long) b * c.outHeight() + oy) * c.outWidth() + ox;
                    for (int o = 0; o < c.outChannels(); o++) {
                        int g = o / cog;
                        double acc = bias == null ? 0 : at(bias, o);
                        for (int ky = 0; ky < c.kernelH(); ky++)
                            for (int kx = 0; kx < c.kernelW(); kx++) {
                                int iy = oy * c.strideH() - c.padH() + ky * c.dilationH();
                                int ix = ox * c.strideW() - c.padW() + kx * c.dilationW();
                                if (iy < 0 || iy >= c.height() || ix < 0 || ix >= c.width()) continue;
                                long pixel = ((long) b * c.height() + iy) * c.width() + ix;
                                for (int i = 0; i < cig; i++) {
                                    acc += at(x, pixel, (long) g * cig + i) * at(weight, o, ((long) ky * c.kernelW() + kx) * cig + i);
                                }
                            }
                        put(out, p, o, relu ? Math.max(0, acc) : acc);
                    }
                }
    }

    @Override
    public void causalConv1d(Tensor out, Tensor x, Tensor state, Tensor weight, Tensor bias, boolean silu, boolean freshState) {
        int width = (int) weight.cols(), h = width - 1, tokens = (int) x.rows();
        for (long d = 0; d < x.cols(); d++) {
            // this channel's inputs: the h remembered ones, then this call's
            double[] in = new double[h + tokens];
            for (int j = 0; j < h; j++) in[j] = freshState ? 0 : at(state, d, j);
            for (int t = 0; t < tokens; t++) in[h + t] = at(x, t, d);
            for (int t = 0; t < tokens; t++) {
                double acc = bias == null ? 0 : at(bias, d);
                for (int j = 0; j < width; j++) acc += at(weight, d, j) * in[t + j];
                put(out, t, d, silu ? acc / (1 + Math.exp(-acc)) : acc);
            }
            for (int j = 0; j < h; j++) put(state, d, j, in[tokens + j]);
        }
    }

    @Override
    public void selectiveScan(Tensor out, Tensor state, Tensor u, Tensor delta, Tensor a, Tensor b, Tensor c, Tensor d, Tensor z,
                              Tensor deltaBias, boolean softplus, boolean freshState) {
        int dstate = (int) a.cols();
        for (long ch = 0; ch < u.cols(); ch++) {
            double[] h = new double[dstate];
            for (int n = 0; n < dstate; n++) h[n] = freshState ? 0 : at(state, ch, n);
            for (long t = 0; t < u.rows(); t++) {
                double dt = at(delta, t, ch) + (deltaBias == null ? 0 : at(deltaBias, ch));
                if (softplus) dt = dt > 20 ? dt : Math.log1p(Math.exp(dt));
                double uv = at(u, t, ch), y = 0;
                for (int n = 0; n < dstate; n++) {
                    h[n] = Math.exp(dt * at(a, ch, n)) * h[n] + dt * at(b, t, n) * uv;
                    y += h[n] * at(c, t, n);
                }
                if (d != null) y += at(d, ch) * uv;
                if (z != null) {
                    double zv = at(z, t, ch);
                    y *= zv / (1 + Math.exp(-zv));
                }
                put(out, t, ch, y);
            }
            for (int n = 0; n < dstate; n++) put(state, ch, n, h[n]);
        }
    }

    @Override
    public void ssdScan(Tensor out, Tensor state, Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor d, Tensor dtBias,
                        boolean freshState) {
        int heads = (int) dt.cols(), p = (int) (x.cols() / heads), n = (int) state.cols(), groups = (int) (b.cols() / n);
        for (int h = 0; h < heads; h++) {
            int g = h / (heads / groups);
            double[][] s = new double[p][n];
            for (int i = 0; i < p; i++) for (int j = 0; j < n; j++) s[i][j] = freshState ? 0 : at(state, (long) h * p + i, j);
            for (long t = 0; t < x.rows(); t++) {
                double v = at(dt, t, h) + (dtBias == null ? 0 : at(dtBias, h));
                double step = v > 20 ? v : Math.log1p(Math.exp(v)), decay = Math.exp(step * at(a, h));
                for (int i = 0; i < p; i++) {
                    double xv = at(x, t, (long) h * p + i), y = d == null ? 0 : at(d, h) * xv;
                    for (int j = 0; j < n; j++) {
                        s[i][j] = decay * s[i][j] + step * xv * at(b, t, (long) g * n + j);
                        y += s[i][j] * at(c, t, (long) g * n + j);
                    }
                    put(out, t, (long) h * p + i, y);
                }
            }
            for (int i = 0; i < p; i++) for (int j = 0; j < n; j++) put(state, (long) h * p + i, j, s[i][j]);
        }
    }

    @Override
    public void gatedRmsNorm(Tensor out, Tensor x, Tensor z, Tensor weight, int groupSize, float eps) {
        double[] v = new double[groupSize];
        for (long r = 0; r < x.rows(); r++) {
            for (int g0 = 0; g0 < x.cols(); g0 += groupSize) {
                double ss = 0;
                for (int i = 0; i < groupSize; i++) {
                    double zv = at(z, r, g0 + i);
                    v[i] = at(x, r, g0 + i) * zv / (1 + Math.exp(-zv));
                    ss += v[i] * v[i];
                }
                double scale = 1 / Math.sqrt(ss / groupSize + eps);
                for (int i = 0; i < groupSize; i++) put(out, r, g0 + i, v[i] * scale * at(weight, g0 + i));
            }
        }
    }

    // ---- DETR (object detection): max pooling, cross-attention -----------------------------------

    /** Straight from PyTorch's MaxPool2d definition: the largest tap inside the image (padding is -inf). */
    @Override
    public void maxPool2d(Tensor out, Tensor x, Conv2d c) {
        OpChecks.maxPool2d("maxPool2d", out, x, c);
        for (int b = 0; b < c.batch(); b++)
            for (int oy = 0; oy < c.outHeight(); oy++)
                for (int ox = 0; ox < c.outWidth(); ox++)
                    for (int ch = 0; ch < c.inChannels(); ch++) {
                        double m = Double.NEGATIVE_INFINITY;
                        for (int ky = 0; ky < c.kernelH(); ky++)
                            for (int kx = 0; kx < c.kernelW(); kx++) {
                                int iy = oy * c.strideH() - c.padH() + ky * c.dilationH();
                                int ix = ox * c.strideW() - c.padW() + kx * c.dilationW();
                                if (iy < 0 || iy >= c.height() || ix < 0 || ix >= c.width()) continue;
                                m = Math.max(m, at(x, ((long) b * c.height() + iy) * c.width() + ix, ch));
                            }
                        put(out, ((long) b * c.outHeight() + oy) * c.outWidth() + ox, ch, m);
                    }
    }

    /** Every query of a sequence over all keys of the same sequence of the key batch, in double. */
    @Override
    public void crossAttention(Tensor out, Tensor q, Tensor k, Tensor v, Heads heads, EncoderBatch queries, EncoderBatch keys,
                               float scale) {
        OpChecks.crossAttention("crossAttention", out, q, k, v, heads, queries, keys);
        int D = heads.headDim(), group = heads.heads() / heads.kvHeads();
        for (int s = 0; s < queries.sequences(); s++) {
            int q0 = queries.start(s), k0 = keys.start(s), nk = keys.length(s);
            for (int i = 0; i < queries.length(s); i++) {
                for (int h = 0; h < heads.heads(); h++) {
                    int kvh = h / group;
                    double[] p = new double[nk];
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int j = 0; j < nk; j++) {
                        double dot = 0;
                        for (int d = 0; d < D; d++) dot += at(q, q0 + i, h * D + d) * at(k, k0 + j, kvh * D + d);
                        max = Math.max(max, p[j] = dot * scale);
                    }
                    for (int j = 0; j < nk; j++) sum += p[j] = Math.exp(p[j] - max);
                    for (int d = 0; d < D; d++) {
                        double acc = 0;
                        for (int j = 0; j < nk; j++) acc += p[j] / sum * at(v, k0 + j, kvh * D + d);
                        put(out, q0 + i, h * D + d, acc);
                    }
                }
            }
        }
    }

    // ---- BERT variants (MobileBERT, ModernBERT, nomic-bert, JinaBERT) ----

    @Override
    public void noNorm(Tensor out, Tensor residual, Tensor x, Tensor weight, Tensor bias) {
        for (long r = 0; r < x.rows(); r++) {
            for (int c = 0; c < x.cols(); c++) {
                double h = residual == null ? at(x, r, c) : (float) (at(residual, r, c) + at(x, r, c));
                if (residual != null) put(residual, r, c, h);
                put(out, r, c, h * at(weight, c) + (bias == null ? 0 : at(bias, c)));
            }
        }
    }

    // ---- RWKV (issue 17), from Backend's definitions ------------------------------------------------

    @Override
    public void tokenShift(Tensor out, Tensor x, Tensor state, boolean freshState) {
        for (long c = 0; c < x.cols(); c++) {
            double prev = freshState ? 0 : at(state, c);
            for (long t = 0; t < x.rows(); t++) {
                double xt = at(x, t, c);
                put(out, t, c, prev - xt);
                prev = xt;
            }
            state.data().setAtIndex(F, c, (float) prev);
        }
    }

    @Override
    public void tokenMix(Tensor out, Tensor x, Tensor sx, Tensor mix, Tensor mixBias) {
        for (long t = 0; t < x.rows(); t++) {
            for (long c = 0; c < x.cols(); c++) {
                double m = at(mix, mix.rows() == 1 ? 0 : t, c) + (mixBias == null ? 0 : at(mixBias, c));
                put(out, t, c, at(x, t, c) + at(sx, t, c) * m);
            }
        }
    }

    @Override
    public void rope(Tensor q, Tensor k, Tensor positions, Rope rope, Heads heads) {
        int half = rope.rotaryDim() / 2, D = heads.headDim();
        boolean split = rope.layout() == RopeLayout.HALF_SPLIT;
        for (long t = 0; t < q.rows(); t++) {
            int pos = id(positions, t);
            for (Tensor x : new Tensor[] {q, k}) {
                for (int h = 0; h < x.cols() / D; h++) {
                    for (int i = 0; i < half; i++) {
                        int a = h * D + (split ? i : 2 * i), b = h * D + (split ? i + half : 2 * i + 1);
                        double angle = (float) pos * (float) at(rope.invFreq(), i), c = Math.cos(angle) * rope.mscale(),
                                s = Math.sin(angle) * rope.mscale();
                        double xa = at(x, t, a), xb = at(x, t, b);
                        put(x, t, a, xa * c - xb * s);
                        put(x, t, b, xa * s + xb * c);
                    }
                }
            }
        }
    }

    public void pointwise(Tensor x, Pointwise fn) {
        for (long i = 0; i < x.elementCount(); i++) {
            double v = at(x, i);
            double y = switch (fn) {
                case TANH -> Math.tanh(v);
                case SIGMOID -> 1 / (1 + Math.exp(-v));
                case RELU_SQUARED -> v > 0 ? v * v : 0;
                case HALVE -> v / 2;
            };
            x.data().setAtIndex(F, i, (float) y);
        }
    }

    private static double sigmoid(double x) { return 1 / (1 + Math.exp(-x)); }

    /** out[t][h*S + i] = (y_i - mean) / sqrt(var + eps) * w + b over the head's S values y. */
    private static void groupNorm(Tensor out, long t, int h, double[] y, Tensor w, Tensor b, float eps) {
        int s = y.length;
        double mean = 0, var = 0;
        for (double v : y) mean += v;
        mean /= s;
        for (double v : y) var += (v - mean) * (v - mean);
        double scale = 1 / Math.sqrt(var / s + eps);
        for (int i = 0; i < s; i++) put(out, t, (long) h * s + i, (y[i] - mean) * scale * at(w, (long) h * s + i) + at(b, (long) h * s + i));
    }

    @Override
    public void wkv6(Tensor out, Tensor state, Tensor r, Tensor k, Tensor v, Tensor w, Tensor u, Tensor lnWeight, Tensor lnBias,
                     float eps, boolean freshState) {
        int s = (int) state.cols(), heads = (int) (out.cols() / s);
        if (freshState) state.data().fill((byte) 0);
        double[] y = new double[s];
        for (long t = 0; t < out.rows(); t++) {
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < s; i++) {
                    long c = (long) h * s;
                    double vi = at(v, t, c + i), acc = 0;
                    for (int j = 0; j < s; j++) {
                        long si = (c + i) * s + j;
                        double st = at(state, si), kj = at(k, t, c + j);
                        acc += at(r, t, c + j) * (at(u, c + j) * kj * vi + st);
                        state.data().setAtIndex(F, si, (float) (st * Math.exp(-Math.exp(at(w, t, c + j))) + kj * vi));
                    }
                    y[i] = acc;
                }
                groupNorm(out, t, h, y, lnWeight, lnBias, eps);
            }
        }
    }

    @Override
    public void attentionVarlenMasked(Tensor out, Tensor q, Tensor k, Tensor v, Heads heads, EncoderBatch b, float scale, int window,
                                      Tensor alibiSlopes) {
        int D = heads.headDim(), group = heads.heads() / heads.kvHeads();
        for (int s = 0; s < b.sequences(); s++) {
            int start = b.start(s), len = b.length(s);
            for (int i = 0; i < len; i++) {
                for (int h = 0; h < heads.heads(); h++) {
                    int kvh = h / group;
                    double slope = alibiSlopes == null ? 0 : at(alibiSlopes, h);
                    double[] p = new double[len];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < len; j++) {
                        if (window > 0 && Math.abs(i - j) >= window) {
                            p[j] = Double.NEGATIVE_INFINITY;
                            continue;
                        }
                        double dot = 0;
                        for (int d = 0; d < D; d++) dot += at(q, start + i, h * D + d) * at(k, start + j, kvh * D + d);
                        p[j] = dot * scale - slope * Math.abs(i - j);
                        max = Math.max(max, p[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < len; j++) sum += p[j] = Math.exp(p[j] - max);
                    for (int d = 0; d < D; d++) {
                        double acc = 0;
                        for (int j = 0; j < len; j++) acc += p[j] / sum * at(v, start + j, kvh * D + d);
                        put(out, start + i, h * D + d, acc);
                    }
                }
            }
        }
    }

    // ---- encoder-decoder (seq2seq) ------------------------------------------------------------

    @Override
    public void attentionRelBias(Tensor out, Tensor q, Tensor k, Tensor v, KeySpans spans, Tensor bias, int biasRadius, Heads heads,
                                 float scale) {
        KeySpans.check("attentionRelBias", out, q, k, v, spans, bias, biasRadius, heads);
        int D = heads.headDim(), group = heads.heads() / heads.kvHeads();
        Tensor table = spans.table();
        for (int t = 0; t < spans.tokens(); t++) {
            int first = id(table, 3L * t), count = id(table, 3L * t + 1), pos = id(table, 3L * t + 2);
            for (int h = 0; h < heads.heads(); h++) {
                int kh = h / group;
                double[] p = new double[count];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < count; j++) {
                    double dot = 0;
                    for (int d = 0; d < D; d++) dot += at(q, t, h * D + d) * at(k, first + j, kh * D + d);
                    int rel = Math.clamp(j - pos, -biasRadius, biasRadius);
                    p[j] = dot * scale + (bias == null ? 0 : at(bias, h, rel + biasRadius));
                    max = Math.max(max, p[j]);
                }
                double sum = 0;
                for (int j = 0; j < count; j++) sum += p[j] = Math.exp(p[j] - max);
                for (int d = 0; d < D; d++) {
                    double acc = 0;
                    for (int j = 0; j < count; j++) acc += p[j] / sum * at(v, first + j, kh * D + d);
                    put(out, t, h * D + d, count == 0 ? 0 : acc);
                }
            }
        }
    }

    public void wkv7(Tensor out, Tensor state, Tensor r, Tensor w, Tensor k, Tensor v, Tensor a, Tensor vFirst, Tensor vMix, Tensor kK,
                     Tensor kA, Tensor rK, Tensor lnWeight, Tensor lnBias, float eps, boolean freshState) {
        int s = (int) state.cols(), heads = (int) (out.cols() / s);
        if (freshState) state.data().fill((byte) 0);
        double[] y = new double[s], kk = new double[s], kp = new double[s], av = new double[s], vv = new double[s];
        for (long t = 0; t < out.rows(); t++) {
            for (int h = 0; h < heads; h++) {
                long c = (long) h * s;
                double norm = 0, bonus = 0;
                for (int j = 0; j < s; j++) {
                    kk[j] = at(k, t, c + j) * at(kK, c + j);
                    norm += kk[j] * kk[j];
                }
                norm = Math.max(Math.sqrt(norm), 1e-12);
                for (int j = 0; j < s; j++) {
                    kk[j] /= norm;
                    av[j] = sigmoid(at(a, t, c + j));
                    kp[j] = at(k, t, c + j) * (1 + (av[j] - 1) * at(kA, c + j));
                    bonus += at(r, t, c + j) * kp[j] * at(rK, c + j);
                    double vi = at(v, t, c + j);
                    vv[j] = vFirst == null ? vi : vi + (at(vFirst, t, c + j) - vi) * sigmoid(at(vMix, t, c + j));
                }
                for (int i = 0; i < s; i++) {
                    double sa = 0;
                    for (int j = 0; j < s; j++) sa -= kk[j] * at(state, (c + i) * s + j);
                    double acc = 0;
                    for (int j = 0; j < s; j++) {
                        long si = (c + i) * s + j;
                        double decay = Math.exp(-0.606531 * sigmoid(at(w, t, c + j)));
                        double st = at(state, si) * decay + kp[j] * vv[i] + sa * kk[j] * av[j];
                        state.data().setAtIndex(F, si, (float) st);
                        acc += st * at(r, t, c + j);
                    }
                    y[i] = acc;
                }
                groupNorm(out, t, h, y, lnWeight, lnBias, eps);
                for (int i = 0; i < s; i++) put(out, t, c + i, at(out, t, c + i) + bonus * vv[i]);
            }
        }
    }

    // ---- seq2seq decoder on the paged KV cache (issue 17) ---------------------------------------

    /** The definition as Backend states it: all scores of keys 0 .. p (through the block table), their max, exponentials, sum. */
    @Override
    public void attentionRelBiasPaged(Tensor out, Tensor q, KvLayer cache, DecoderBatch b, Tensor bias, int biasRadius, Heads heads,
                                      float scale) {
        RelBiasPagedChecks.check("attentionRelBiasPaged", out, q, cache, b, bias, biasRadius, heads);
        int D = heads.headDim(), group = heads.heads() / heads.kvHeads();
        for (int t = 0; t < b.tokens(); t++) {
            int pos = id(b.positions(), t);
            long seq = id(b.seqIds(), t);
            for (int h = 0; h < heads.heads(); h++) {
                int kh = h / group;
                double[] p = new double[pos + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j <= pos; j++) {
                    long row = cacheRow(b.blockTables(), seq, j, cache.blockSize());
                    double dot = 0;
                    for (int d = 0; d < D; d++) dot += at(q, t, h * D + d) * at(cache.keys(), row, kh * D + d);
                    int rel = Math.clamp(j - pos, -biasRadius, biasRadius);
                    p[j] = dot * scale + (bias == null ? 0 : at(bias, h, rel + biasRadius));
                    max = Math.max(max, p[j]);
                }
                double sum = 0;
                for (int j = 0; j <= pos; j++) sum += p[j] = Math.exp(p[j] - max);
                for (int d = 0; d < D; d++) {
                    double acc = 0;
                    for (int j = 0; j <= pos; j++) acc += p[j] / sum * at(cache.values(), cacheRow(b.blockTables(), seq, j, cache.blockSize()), kh * D + d);
                    put(out, t, h * D + d, acc);
                }
            }
        }
    }
}
