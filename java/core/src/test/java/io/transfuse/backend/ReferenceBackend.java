package io.transfuse.backend;

import io.transfuse.model.RopeLayout;
import io.transfuse.tensor.DType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Test-only backend: the op set as plain Java loops in double precision, written straight from
 * the definitions. It checks the model graph independently of the native kernels. F32 weights only.
 */
public final class ReferenceBackend implements Backend {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    private static float get(MemorySegment s, long i) { return s.getAtIndex(F, i); }

    private static void set(MemorySegment s, long i, double v) { s.setAtIndex(F, i, (float) v); }

    @Override
    public String name() { return "reference"; }

    @Override
    public void matmul(MemorySegment out, MemorySegment x, MemorySegment w, DType wType, int tokens, int inDim, int outDim) {
        if (wType != DType.F32) throw new UnsupportedOperationException("reference backend: F32 only");
        for (int t = 0; t < tokens; t++) {
            for (int o = 0; o < outDim; o++) {
                double acc = 0;
                for (int i = 0; i < inDim; i++) acc += (double) get(w, (long) o * inDim + i) * get(x, (long) t * inDim + i);
                set(out, (long) t * outDim + o, acc);
            }
        }
    }

    @Override
    public void rmsnorm(MemorySegment out, MemorySegment x, MemorySegment weight, int tokens, int dim, float eps) {
        for (int t = 0; t < tokens; t++) {
            double ss = 0;
            for (int i = 0; i < dim; i++) ss += (double) get(x, (long) t * dim + i) * get(x, (long) t * dim + i);
            double scale = 1 / Math.sqrt(ss / dim + eps);
            for (int i = 0; i < dim; i++) set(out, (long) t * dim + i, get(x, (long) t * dim + i) * scale * get(weight, i));
        }
    }

    @Override
    public void rope(MemorySegment x, int tokens, int heads, int headDim, int startPos, MemorySegment invFreq, RopeLayout layout) {
        int half = headDim / 2;
        for (int t = 0; t < tokens; t++) {
            for (int h = 0; h < heads; h++) {
                long base = ((long) t * heads + h) * headDim;
                for (int i = 0; i < half; i++) {
                    double angle = (double) (startPos + t) * get(invFreq, i);
                    long a = base + (layout == RopeLayout.ADJACENT_PAIRS ? 2 * i : i);
                    long b = base + (layout == RopeLayout.ADJACENT_PAIRS ? 2 * i + 1 : i + half);
                    double va = get(x, a), vb = get(x, b);
                    set(x, a, va * Math.cos(angle) - vb * Math.sin(angle));
                    set(x, b, va * Math.sin(angle) + vb * Math.cos(angle));
                }
            }
        }
    }

    @Override
    public void attention(MemorySegment out, MemorySegment q, MemorySegment k, MemorySegment v,
                          int tokens, int startPos, int heads, int kvHeads, int headDim) {
        int group = heads / kvHeads, kvDim = kvHeads * headDim;
        for (int t = 0; t < tokens; t++) {
            int pos = startPos + t;
            for (int h = 0; h < heads; h++) {
                long qBase = ((long) t * heads + h) * headDim;
                int kvh = h / group;
                double[] scores = new double[pos + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int p = 0; p <= pos; p++) {
                    double s = 0;
                    for (int i = 0; i < headDim; i++) s += (double) get(q, qBase + i) * get(k, (long) p * kvDim + kvh * headDim + i);
                    scores[p] = s / Math.sqrt(headDim);
                    max = Math.max(max, scores[p]);
                }
                double sum = 0;
                for (int p = 0; p <= pos; p++) sum += scores[p] = Math.exp(scores[p] - max);
                for (int i = 0; i < headDim; i++) {
                    double acc = 0;
                    for (int p = 0; p <= pos; p++) acc += scores[p] / sum * get(v, (long) p * kvDim + kvh * headDim + i);
                    set(out, qBase + i, acc);
                }
            }
        }
    }

    @Override
    public void siluGlu(MemorySegment out, MemorySegment gate, MemorySegment up, long n) {
        for (long i = 0; i < n; i++) {
            double g = get(gate, i);
            set(out, i, g / (1 + Math.exp(-g)) * get(up, i));
        }
    }

    @Override
    public void add(MemorySegment out, MemorySegment a, MemorySegment b, long n) {
        for (long i = 0; i < n; i++) set(out, i, (double) get(a, i) + get(b, i));
    }

    @Override
    public void embedding(MemorySegment out, MemorySegment table, DType type, MemorySegment ids, int tokens, int dim) {
        if (type != DType.F32) throw new UnsupportedOperationException("reference backend: F32 only");
        for (int t = 0; t < tokens; t++) {
            int id = ids.getAtIndex(ValueLayout.JAVA_INT, t);
            MemorySegment.copy(table, (long) id * dim * 4, out, (long) t * dim * 4, (long) dim * 4);
        }
    }

    @Override
    public void causalConv1d(MemorySegment out, MemorySegment convState, MemorySegment x, MemorySegment weight,
                             MemorySegment bias, int tokens, int dim, int width, boolean silu) {
        int h = width - 1;
        for (int d = 0; d < dim; d++) {
            // the inputs of this channel: the h remembered ones, then this call's
            double[] in = new double[h + tokens];
            for (int k = 0; k < h; k++) in[k] = get(convState, (long) d * h + k);
            for (int t = 0; t < tokens; t++) in[h + t] = get(x, (long) t * dim + d);
            for (int t = 0; t < tokens; t++) {
                double acc = bias == null ? 0 : get(bias, d);
                for (int k = 0; k < width; k++) acc += (double) get(weight, (long) d * width + k) * in[t + k];
                set(out, (long) t * dim + d, silu ? acc / (1 + Math.exp(-acc)) : acc);
            }
            for (int k = 0; k < h; k++) set(convState, (long) d * h + k, in[tokens + k]);
        }
    }

    @Override
    public void selectiveScan(MemorySegment out, MemorySegment state, MemorySegment u, MemorySegment delta,
                              MemorySegment a, MemorySegment b, MemorySegment c, MemorySegment d, MemorySegment z,
                              MemorySegment deltaBias, int tokens, int dim, int dstate, boolean deltaSoftplus) {
        for (int ch = 0; ch < dim; ch++) {
            double[] h = new double[dstate];
            for (int n = 0; n < dstate; n++) h[n] = get(state, (long) ch * dstate + n);
            for (int t = 0; t < tokens; t++) {
                long i = (long) t * dim + ch;
                double dt = (double) get(delta, i) + (deltaBias == null ? 0 : get(deltaBias, ch));
                if (deltaSoftplus) dt = Math.log1p(Math.exp(dt));
                double uv = get(u, i), y = 0;
                for (int n = 0; n < dstate; n++) {
                    h[n] = Math.exp(dt * get(a, (long) ch * dstate + n)) * h[n] + dt * get(b, (long) t * dstate + n) * uv;
                    y += h[n] * get(c, (long) t * dstate + n);
                }
                if (d != null) y += get(d, ch) * uv;
                if (z != null) {
                    double zv = get(z, i);
                    y *= zv / (1 + Math.exp(-zv));
                }
                set(out, i, y);
            }
            for (int n = 0; n < dstate; n++) set(state, (long) ch * dstate + n, h[n]);
        }
    }


    @Override
    public void layerNorm(MemorySegment out, MemorySegment x, MemorySegment xBias, MemorySegment residual, MemorySegment weight,
                          MemorySegment bias, int tokens, int dim, float eps) {
        double[] y = new double[dim];
        for (int t = 0; t < tokens; t++) {
            double mean = 0;
            for (int i = 0; i < dim; i++) {
                long at = (long) t * dim + i;
                y[i] = (double) get(x, at) + (xBias == null ? 0 : get(xBias, i)) + (residual == null ? 0 : get(residual, at));
                mean += y[i];
            }
            mean /= dim;
            double var = 0;
            for (int i = 0; i < dim; i++) var += (y[i] - mean) * (y[i] - mean);
            double scale = 1 / Math.sqrt(var / dim + eps);
            for (int i = 0; i < dim; i++) set(out, (long) t * dim + i, (y[i] - mean) * scale * get(weight, i) + get(bias, i));
        }
    }

    @Override
    public void addBias(MemorySegment x, MemorySegment bias, int rows, int dim) {
        for (long r = 0; r < rows; r++) {
            for (int i = 0; i < dim; i++) set(x, r * dim + i, (double) get(x, r * dim + i) + get(bias, i));
        }
    }

    @Override
    public void gelu(MemorySegment x, long n) {
        for (long i = 0; i < n; i++) set(x, i, ReferenceMath.gelu(get(x, i)));
    }

    @Override
    public void biasGelu(MemorySegment x, MemorySegment bias, int rows, int dim) {
        for (long r = 0; r < rows; r++) {
            for (int i = 0; i < dim; i++) set(x, r * dim + i, ReferenceMath.gelu((double) get(x, r * dim + i) + get(bias, i)));
        }
    }

    @Override
    public void attentionBidirectional(MemorySegment out, MemorySegment q, MemorySegment k, MemorySegment v, MemorySegment lengths,
                                       int batch, int seqLen, int heads, int headDim, int qkvStride) {
        int width = heads * headDim;
        for (int b = 0; b < batch; b++) {
            int len = lengths.getAtIndex(ValueLayout.JAVA_INT, b);
            for (int i = 0; i < seqLen; i++) {
                long row = (long) b * seqLen + i;
                for (int h = 0; h < heads; h++) {
                    if (i >= len) {
                        for (int d = 0; d < headDim; d++) set(out, row * width + h * headDim + d, 0);
                        continue;
                    }
                    double[] p = new double[len];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < len; j++) {
                        long keyRow = (long) b * seqLen + j;
                        double s = 0;
                        for (int d = 0; d < headDim; d++) {
                            s += (double) get(q, row * qkvStride + h * headDim + d) * get(k, keyRow * qkvStride + h * headDim + d);
                        }
                        p[j] = s / Math.sqrt(headDim);
                        max = Math.max(max, p[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < len; j++) sum += p[j] = Math.exp(p[j] - max);
                    for (int d = 0; d < headDim; d++) {
                        double acc = 0;
                        for (int j = 0; j < len; j++) acc += p[j] / sum * get(v, ((long) b * seqLen + j) * qkvStride + h * headDim + d);
                        set(out, row * width + h * headDim + d, acc);
                    }
                }
            }
        }
    }
}
