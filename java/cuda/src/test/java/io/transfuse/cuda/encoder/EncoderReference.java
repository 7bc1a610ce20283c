package io.transfuse.cuda.encoder;

/**
 * Plain-Java double-precision encoder layers written from the equations (nothing shared with the
 * device path): post-LN (BERT) and pre-LN (ViT), biased Q/K/V, per-sequence softmax attention over a
 * packed batch, GELU (erf), LayerNorm with biased variance. {@code causal} exists only so tests can
 * show that a wrong mask is caught.
 */
final class EncoderReference {
    /** Host weights of one layer, f32 as generated; linear weights [out][in] row-major. */
    record Layer(float[] wq, float[] bq, float[] wk, float[] bk, float[] wv, float[] bv, float[] wo, float[] bo,
                 float[] n1, float[] n1b, float[] w1, float[] b1, float[] w2, float[] b2, float[] n2, float[] n2b) {}

    private EncoderReference() {}

    /** x [tokens][dim] through every layer (and the final norm if normW != null), in place. */
    static void forward(double[][] x, int[] cu, EncoderConfig c, Layer[] layers, float[] normW, float[] normB, boolean causal) {
        for (Layer l : layers) layer(x, cu, c, l, causal);
        if (normW != null) for (double[] row : x) layerNorm(row, normW, normB, c.eps());
    }

    static void layer(double[][] x, int[] cu, EncoderConfig c, Layer l, boolean causal) {
        boolean pre = c.convention() == EncoderConvention.PRE_LN;
        int n = x.length;
        double[][] h = pre ? normed(x, l.n1(), l.n1b(), c.eps()) : x;
        double[][] a = attention(h, cu, c, l, causal);
        for (int i = 0; i < n; i++) {
            double[] y = linear(a[i], l.wo(), l.bo(), c.dim());
            for (int j = 0; j < c.dim(); j++) x[i][j] += y[j];
            if (!pre) layerNorm(x[i], l.n1(), l.n1b(), c.eps());
        }
        h = pre ? normed(x, l.n2(), l.n2b(), c.eps()) : x;
        for (int i = 0; i < n; i++) {
            double[] u = linear(h[i], l.w1(), l.b1(), c.ffn());
            for (int j = 0; j < u.length; j++) u[j] = 0.5 * u[j] * (1 + erf(u[j] / Math.sqrt(2)));
            double[] y = linear(u, l.w2(), l.b2(), c.dim());
            for (int j = 0; j < c.dim(); j++) x[i][j] += y[j];
            if (!pre) layerNorm(x[i], l.n2(), l.n2b(), c.eps());
        }
    }

    private static double[][] attention(double[][] h, int[] cu, EncoderConfig c, Layer l, boolean causal) {
        int n = h.length, H = c.heads(), d = c.headDim(), width = H * d;
        double[][] q = new double[n][], k = new double[n][], v = new double[n][], out = new double[n][width];
        for (int i = 0; i < n; i++) {
            q[i] = linear(h[i], l.wq(), l.bq(), width);
            k[i] = linear(h[i], l.wk(), l.bk(), width);
            v[i] = linear(h[i], l.wv(), l.bv(), width);
        }
        double scale = 1 / Math.sqrt(d);
        for (int s = 0; s + 1 < cu.length; s++) {
            for (int head = 0; head < H; head++) {
                for (int i = cu[s]; i < cu[s + 1]; i++) {
                    int last = causal ? i : cu[s + 1] - 1;
                    double[] p = new double[last - cu[s] + 1];
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int j = cu[s]; j <= last; j++) {
                        double dot = 0;
                        for (int e = 0; e < d; e++) dot += q[i][head * d + e] * k[j][head * d + e];
                        p[j - cu[s]] = dot * scale;
                        max = Math.max(max, p[j - cu[s]]);
                    }
                    for (int j = 0; j < p.length; j++) sum += p[j] = Math.exp(p[j] - max);
                    for (int j = cu[s]; j <= last; j++) {
                        for (int e = 0; e < d; e++) out[i][head * d + e] += p[j - cu[s]] / sum * v[j][head * d + e];
                    }
                }
            }
        }
        return out;
    }

    static double[] linear(double[] in, float[] w, float[] b, int out) {
        double[] y = new double[out];
        for (int o = 0; o < out; o++) {
            double acc = b[o];
            for (int i = 0; i < in.length; i++) acc += (double) w[o * in.length + i] * in[i];
            y[o] = acc;
        }
        return y;
    }

    private static double[][] normed(double[][] x, float[] w, float[] b, float eps) {
        double[][] h = new double[x.length][];
        for (int i = 0; i < x.length; i++) {
            h[i] = x[i].clone();
            layerNorm(h[i], w, b, eps);
        }
        return h;
    }

    static void layerNorm(double[] x, float[] w, float[] b, float eps) {
        double mean = 0, var = 0;
        for (double v : x) mean += v;
        mean /= x.length;
        for (double v : x) var += (v - mean) * (v - mean);
        var /= x.length;
        double inv = 1 / Math.sqrt(var + eps);
        for (int j = 0; j < x.length; j++) x[j] = (x[j] - mean) * inv * w[j] + b[j];
    }

    /** erf to ~1e-15: the Maclaurin series for |x| < 3, the continued fraction of erfc beyond. */
    static double erf(double x) {
        double a = Math.abs(x);
        double r;
        if (a < 3) {
            double term = a, sum = a, x2 = a * a;
            for (int k = 1; k < 100; k++) {
                term *= -x2 / k;
                double add = term / (2 * k + 1);
                sum += add;
                if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
            }
            r = 2 / Math.sqrt(Math.PI) * sum;
        } else {
            // erfc(a) = exp(-a^2)/sqrt(pi) * 1/(a + 1/2/(a + 1/(a + 3/2/(a + ...)))) (Lentz-free backward evaluation)
            double f = a;
            for (int k = 60; k >= 1; k--) f = a + (k / 2.0) / f;
            r = 1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
        }
        return x < 0 ? -r : r;
    }
}
