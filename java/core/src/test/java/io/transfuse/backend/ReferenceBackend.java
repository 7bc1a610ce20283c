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
}
