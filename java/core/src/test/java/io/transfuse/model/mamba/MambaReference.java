package io.transfuse.model.mamba;

import io.transfuse.loader.RandomMambaModel;
import io.transfuse.loader.RandomMambaModel.Shape;
import io.transfuse.loader.RandomMambaModel.TensorSpec;
import io.transfuse.tensor.DType;

import java.util.HashMap;
import java.util.Map;

/**
 * A plain sequential Mamba-1 language model in double precision, written from the paper (Gu &amp;
 * Dao 2023, Algorithm 2 "SSM + Selection (S6)" and the Mamba block of Figure 3) and Hugging Face's
 * MambaMixer layout, independently of the production graph and ops: one token at a time, the
 * discretisation A_bar = exp(delta A), B_bar x = delta B x (the simplified ZOH Mamba uses), the
 * recurrence h = A_bar h + B_bar x, y = C h + D x, gated by silu(z). Weights come straight from
 * the fixture generator ({@link RandomMambaModel#values}), rounded to F16 when the file is F16.
 */
final class MambaReference {
    private final Shape s;
    private final Map<String, double[]> w = new HashMap<>();
    private final int dm, di, n, r, k, vocabRows;
    // per layer: the last k inputs of the conv (oldest first; the newest is the current one) and h
    private final double[][][] conv;
    private final double[][][] h;

    MambaReference(Shape shape, DType type, long seed) {
        s = shape;
        dm = s.dModel();
        di = s.dInner();
        n = s.dState();
        r = s.effectiveDtRank();
        k = s.dConv();
        vocabRows = s.vocabRows();
        for (TensorSpec t : RandomMambaModel.tensors(s)) {
            float[] v = RandomMambaModel.values(seed, t);
            double[] d = new double[v.length];
            for (int i = 0; i < v.length; i++) d[i] = type == DType.F16 ? Float.float16ToFloat(Float.floatToFloat16(v[i])) : v[i];
            w.put(t.name(), d);
        }
        conv = new double[s.layers()][di][k];
        h = new double[s.layers()][di][n];
    }

    int vocabRows() { return vocabRows; }

    /** Clears the recurrent state (a new sequence). */
    void reset() {
        for (double[][] layer : conv) for (double[] row : layer) java.util.Arrays.fill(row, 0);
        for (double[][] layer : h) for (double[] row : layer) java.util.Arrays.fill(row, 0);
    }

    private double[] t(String name) {
        double[] v = w.get(name);
        if (v == null) throw new IllegalStateException("no tensor " + name);
        return v;
    }

    private double[] layer(int l, String suffix) { return t("backbone.layers." + l + "." + suffix); }

    /** y = W x (+ b): W [rows][cols]. */
    private static double[] linear(double[] W, double[] b, double[] x, int rows, int cols) {
        double[] y = new double[rows];
        for (int i = 0; i < rows; i++) {
            double acc = b == null ? 0 : b[i];
            for (int j = 0; j < cols; j++) acc += W[i * cols + j] * x[j];
            y[i] = acc;
        }
        return y;
    }

    private double[] rmsnorm(double[] x, double[] weight) {
        double ss = 0;
        for (double v : x) ss += v * v;
        double scale = 1 / Math.sqrt(ss / x.length + 1e-5);
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = x[i] * scale * weight[i];
        return y;
    }

    private static double silu(double x) { return x / (1 + Math.exp(-x)); }

    private static double softplus(double x) { return Math.log1p(Math.exp(x)); }

    /** Feeds one token; returns the logits after it ([vocabRows]). */
    double[] step(int token) {
        double[] x = new double[dm];
        System.arraycopy(t("backbone.embeddings.weight"), token * dm, x, 0, dm);
        for (int l = 0; l < s.layers(); l++) {
            double[] xn = rmsnorm(x, layer(l, "norm.weight"));
            double[] xz = linear(layer(l, "mixer.in_proj.weight"), s.useBias() ? layer(l, "mixer.in_proj.bias") : null, xn, 2 * di, dm);
            // causal depthwise conv over the last k inputs of each channel, then SiLU
            double[] cw = layer(l, "mixer.conv1d.weight"), cb = s.useConvBias() ? layer(l, "mixer.conv1d.bias") : null;
            double[] u = new double[di];
            for (int d = 0; d < di; d++) {
                double[] hist = conv[l][d];
                System.arraycopy(hist, 1, hist, 0, k - 1);
                hist[k - 1] = xz[d];
                double acc = cb == null ? 0 : cb[d];
                for (int j = 0; j < k; j++) acc += cw[d * k + j] * hist[j];
                u[d] = silu(acc);
            }
            // selection: delta, B, C are functions of the input (Algorithm 2, lines 2-4)
            double[] xdbl = linear(layer(l, "mixer.x_proj.weight"), null, u, r + 2 * n, di);
            double[] dtLow = java.util.Arrays.copyOfRange(xdbl, 0, r);
            double[] delta = linear(layer(l, "mixer.dt_proj.weight"), layer(l, "mixer.dt_proj.bias"), dtLow, di, r);
            double[] aLog = layer(l, "mixer.A_log"), dSkip = layer(l, "mixer.D");
            double[] y = new double[di];
            for (int d = 0; d < di; d++) {
                double dt = softplus(delta[d]);
                double acc = 0;
                for (int j = 0; j < n; j++) {
                    double a = -Math.exp(aLog[d * n + j]);
                    double bj = xdbl[r + j], cj = xdbl[r + n + j];
                    h[l][d][j] = Math.exp(dt * a) * h[l][d][j] + dt * bj * u[d];
                    acc += cj * h[l][d][j];
                }
                y[d] = (acc + dSkip[d] * u[d]) * silu(xz[di + d]);
            }
            double[] out = linear(layer(l, "mixer.out_proj.weight"), s.useBias() ? layer(l, "mixer.out_proj.bias") : null, y, dm, di);
            for (int i = 0; i < dm; i++) x[i] += out[i];
        }
        double[] head = s.tied() ? t("backbone.embeddings.weight") : t("lm_head.weight");
        return linear(head, null, rmsnorm(x, t("backbone.norm_f.weight")), vocabRows, dm);
    }

    static int argmax(double[] v, int limit) {
        int best = 0;
        for (int i = 1; i < limit; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
