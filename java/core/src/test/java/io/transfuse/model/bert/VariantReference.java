package io.transfuse.model.bert;

import io.transfuse.backend.ReferenceMath;

import java.util.Map;

/**
 * A plain double-precision forward pass of the BERT variants {@link RandomEncoder} writes, one sequence at a
 * time, following each model's Hugging Face modeling code directly (independent of the production graph,
 * its config reader and its weight loader):
 * <pre>
 *   e = LayerNorm(word[id] + position[offset + i] (+ token_type[t]))      DistilBERT: no token types
 *   x = e, or Linear(e) into the hidden size                              ALBERT always, ELECTRA when embedding_size != hidden_size
 *   layer l (ALBERT: group l / (layers / groups)):
 *       a = LayerNorm(x + O·MHA(Q x, K x, V x));  x = LayerNorm(a + W2·act(W1·a))
 *   heads: see {@link #sequenceLogits} and {@link #tokenLogits}; sentence embeddings: {@link #embed}
 * </pre>
 * For BERT itself this is the equations of Devlin et al. (2019) in the Hugging Face BertModel layout.
 */
public final class VariantReference {
    private final RandomEncoder m;
    private final Map<String, float[]> w;
    private final String p;

    public VariantReference(RandomEncoder m) {
        this.m = m;
        this.w = m.weights;
        this.p = m.prefix();
    }

    /** The sentence embedding: the mean of the last hidden states (or the first token's, {@code cls}), optionally L2-normalised. */
    public double[] embed(int[] ids, int[] types, boolean cls, boolean normalize) {
        double[][] x = hiddenStates(ids, types);
        double[] e = new double[m.hidden];
        int rows = cls ? 1 : ids.length;
        for (int i = 0; i < rows; i++) for (int d = 0; d < m.hidden; d++) e[d] += x[i][d] / rows;
        if (normalize) {
            double norm = 0;
            for (double v : e) norm += v * v;
            norm = Math.sqrt(norm);
            for (int d = 0; d < m.hidden; d++) e[d] /= norm;
        }
        return e;
    }

    public double[][] hiddenStates(int[] ids, int[] types) {
        int n = ids.length, e = m.embeddingSize;
        float[] word = w.get(p + "embeddings.word_embeddings.weight"), pos = w.get(p + "embeddings.position_embeddings.weight"),
                type = w.get(p + "embeddings.token_type_embeddings.weight");
        double[][] x = new double[n][e];
        for (int i = 0; i < n; i++) {
            for (int d = 0; d < e; d++) {
                x[i][d] = (double) word[ids[i] * e + d] + pos[(m.positionOffset + i) * e + d]
                        + (type == null ? 0 : type[types[i] * e + d]);
            }
        }
        x = layerNorm(x, p + "embeddings.LayerNorm");
        if (m.variant == RandomEncoder.Variant.ALBERT) x = linear(x, p + "encoder.embedding_hidden_mapping_in");
        if (m.variant == RandomEncoder.Variant.ELECTRA && m.embeddingSize != m.hidden) x = linear(x, p + "embeddings_project");
        for (int l = 0; l < m.layers; l++) {
            String q, k, v, o, ln1, f1, f2, ln2;
            switch (m.variant) {
                case DISTILBERT -> {
                    String n1 = p + "transformer.layer." + l + ".";
                    q = n1 + "attention.q_lin"; k = n1 + "attention.k_lin"; v = n1 + "attention.v_lin"; o = n1 + "attention.out_lin";
                    ln1 = n1 + "sa_layer_norm"; f1 = n1 + "ffn.lin1"; f2 = n1 + "ffn.lin2"; ln2 = n1 + "output_layer_norm";
                }
                case ALBERT -> {
                    int group = l / (m.layers / m.groups);
                    String n1 = p + "encoder.albert_layer_groups." + group + ".albert_layers.0.";
                    q = n1 + "attention.query"; k = n1 + "attention.key"; v = n1 + "attention.value"; o = n1 + "attention.dense";
                    ln1 = n1 + "attention.LayerNorm"; f1 = n1 + "ffn"; f2 = n1 + "ffn_output"; ln2 = n1 + "full_layer_layer_norm";
                }
                default -> {
                    String n1 = p + "encoder.layer." + l + ".";
                    q = n1 + "attention.self.query"; k = n1 + "attention.self.key"; v = n1 + "attention.self.value";
                    o = n1 + "attention.output.dense"; ln1 = n1 + "attention.output.LayerNorm";
                    f1 = n1 + "intermediate.dense"; f2 = n1 + "output.dense"; ln2 = n1 + "output.LayerNorm";
                }
            }
            x = layerNorm(add(x, linear(attention(linear(x, q), linear(x, k), linear(x, v)), o)), ln1);
            double[][] f = linear(x, f1);
            for (double[] row : f) for (int d = 0; d < row.length; d++) row[d] = activation(m.hiddenAct, row[d]);
            x = layerNorm(add(x, linear(f, f2)), ln2);
        }
        return x;
    }

    /**
     * The sequence-classification logits, from the first token's state: BERT tanh(pooler) then classifier;
     * ALBERT the same with albert.pooler; RoBERTa/XLM-R classifier.dense, tanh, out_proj; ELECTRA
     * classifier.dense, gelu (erf), out_proj; DistilBERT pre_classifier, ReLU, classifier.
     */
    public double[] sequenceLogits(double[][] x) {
        double[][] first = {x[0]};
        return switch (m.variant) {
            case BERT -> linear(map(linear(first, "bert.pooler.dense"), Math::tanh), "classifier")[0];
            case ALBERT -> linear(map(linear(first, "albert.pooler"), Math::tanh), "classifier")[0];
            case ROBERTA, XLM_ROBERTA -> linear(map(linear(first, "classifier.dense"), Math::tanh), "classifier.out_proj")[0];
            case ELECTRA -> linear(map(linear(first, "classifier.dense"), ReferenceMath::gelu), "classifier.out_proj")[0];
            case DISTILBERT -> linear(map(linear(first, "pre_classifier"), v -> Math.max(0, v)), "classifier")[0];
        };
    }

    /** Per-token logits: the token-classification classifier, or ELECTRA's discriminator (dense, hidden_act, dense_prediction). */
    public double[][] tokenLogits(double[][] x) {
        if (m.architecture.equals("ElectraForPreTraining")) {
            return linear(map(linear(x, "discriminator_predictions.dense"), v -> activation(m.hiddenAct, v)), "discriminator_predictions.dense_prediction");
        }
        return linear(x, "classifier");
    }

    private double[][] attention(double[][] q, double[][] k, double[][] v) {
        int n = q.length, h = m.hidden, hd = h / m.heads;
        double[][] ctx = new double[n][h];
        for (int head = 0; head < m.heads; head++) {
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
        return ctx;
    }

    /** Hugging Face's ACT2FN: "gelu" is the erf form, "gelu_new" the tanh approximation. */
    static double activation(String name, double x) {
        return switch (name) {
            case "gelu" -> ReferenceMath.gelu(x);
            case "gelu_new" -> 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
            default -> throw new IllegalArgumentException(name);
        };
    }

    private static double[][] map(double[][] x, java.util.function.DoubleUnaryOperator f) {
        for (double[] row : x) for (int d = 0; d < row.length; d++) row[d] = f.applyAsDouble(row[d]);
        return x;
    }

    /** y = W x + b with W [out][in]. */
    private double[][] linear(double[][] x, String name) {
        float[] wt = w.get(name + ".weight"), b = w.get(name + ".bias");
        if (wt == null) throw new IllegalArgumentException("no tensor " + name);
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
            for (int d = 0; d < x[t].length; d++) y[t][d] = (x[t][d] - mean) / Math.sqrt(var + 1e-12) * g[d] + b[d];
        }
        return y;
    }

    private static double[][] add(double[][] a, double[][] b) {
        double[][] y = new double[a.length][a[0].length];
        for (int t = 0; t < a.length; t++) for (int d = 0; d < a[t].length; d++) y[t][d] = a[t][d] + b[t][d];
        return y;
    }
}
