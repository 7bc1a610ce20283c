package io.transfuse.model.bert;

import io.transfuse.backend.ReferenceMath;

import java.util.Map;

/**
 * A plain BERT encoder in double precision, written from the equations of Devlin et al. (2019) and
 * the Hugging Face BertModel layout, one sequence at a time, independent of the production graph
 * and of the native ops: embeddings (word + position + token type) and LayerNorm; per layer
 * x = LN(x + Wo·MHA(x) + bo), x = LN(x + W2·gelu(W1·x + b1) + b2); then mean or CLS pooling and
 * optional L2 normalisation.
 */
public final class BertReference {
    private final Map<String, float[]> w;
    private final int hidden, layers, heads, intermediate, positionOffset;
    private final double eps;

    public BertReference(RandomBert m) {
        this.w = m.weights;
        this.hidden = m.hidden;
        this.layers = m.layers;
        this.heads = m.heads;
        this.intermediate = m.intermediate;
        this.positionOffset = m.positionOffset;
        this.eps = m.eps;
    }

    public double[] embed(int[] ids, int[] types, boolean cls, boolean normalize) {
        double[][] x = hiddenStates(ids, types);
        double[] e = new double[hidden];
        int rows = cls ? 1 : ids.length;
        for (int i = 0; i < rows; i++) for (int d = 0; d < hidden; d++) e[d] += x[i][d] / rows;
        if (normalize) {
            double norm = 0;
            for (double v : e) norm += v * v;
            norm = Math.sqrt(norm);
            for (int d = 0; d < hidden; d++) e[d] /= norm;
        }
        return e;
    }

    double[][] hiddenStates(int[] ids, int[] types) {
        int n = ids.length, h = hidden;
        float[] word = w.get("embeddings.word_embeddings.weight"), pos = w.get("embeddings.position_embeddings.weight"),
                type = w.get("embeddings.token_type_embeddings.weight");
        double[][] x = new double[n][h];
        for (int i = 0; i < n; i++) {
            for (int d = 0; d < h; d++) {
                x[i][d] = (double) word[ids[i] * h + d] + pos[(positionOffset + i) * h + d] + type[types[i] * h + d];
            }
        }
        x = layerNorm(x, "embeddings.LayerNorm");
        for (int l = 0; l < layers; l++) {
            String p = "encoder.layer." + l + ".";
            double[][] q = linear(x, p + "attention.self.query"), k = linear(x, p + "attention.self.key"),
                    v = linear(x, p + "attention.self.value");
            double[][] ctx = new double[n][h];
            int hd = h / heads;
            for (int head = 0; head < heads; head++) {
                for (int i = 0; i < n; i++) {
                    double[] s = new double[n];
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int j = 0; j < n; j++) {
                        for (int d = 0; d < hd; d++) s[j] += q[i][head * hd + d] * k[j][head * hd + d];
                        s[j] /= Math.sqrt(hd);
                        max = Math.max(max, s[j]);
                    }
                    for (int j = 0; j < n; j++) sum += s[j] = Math.exp(s[j] - max);
                    for (int j = 0; j < n; j++) for (int d = 0; d < hd; d++) ctx[i][head * hd + d] += s[j] / sum * v[j][head * hd + d];
                }
            }
            x = layerNorm(add(x, linear(ctx, p + "attention.output.dense")), p + "attention.output.LayerNorm");
            double[][] f = linear(x, p + "intermediate.dense");
            for (double[] row : f) for (int d = 0; d < row.length; d++) row[d] = ReferenceMath.gelu(row[d]);
            x = layerNorm(add(x, linear(f, p + "output.dense")), p + "output.LayerNorm");
        }
        return x;
    }

    /** y = W x + b with W [out][in]. */
    private double[][] linear(double[][] x, String name) {
        float[] wt = w.get(name + ".weight"), b = w.get(name + ".bias");
        int out = b.length, in = x[0].length;
        double[][] y = new double[x.length][out];
        for (int t = 0; t < x.length; t++) {
            for (int o = 0; o < out; o++) {
                double acc = b[o];
                for (int i = 0; i < in; i++) acc += (double) wt[o * in + i] * x[t][i];
                y[t][o] = acc;
            }
        }
        return y;
    }

    private double[][] layerNorm(double[][] x, String name) {
        float[] g = w.get(name + ".weight"), b = w.get(name + ".bias");
        double[][] y = new double[x.length][];
        for (int t = 0; t < x.length; t++) {
            double mean = 0, var = 0;
            for (double v : x[t]) mean += v;
            mean /= x[t].length;
            for (double v : x[t]) var += (v - mean) * (v - mean);
            var /= x[t].length;
            y[t] = new double[x[t].length];
            for (int d = 0; d < x[t].length; d++) y[t][d] = (x[t][d] - mean) / Math.sqrt(var + eps) * g[d] + b[d];
        }
        return y;
    }

    private static double[][] add(double[][] a, double[][] b) {
        double[][] y = new double[a.length][a[0].length];
        for (int t = 0; t < a.length; t++) for (int d = 0; d < a[t].length; d++) y[t][d] = a[t][d] + b[t][d];
        return y;
    }
}
