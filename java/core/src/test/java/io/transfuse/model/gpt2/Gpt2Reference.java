package io.transfuse.model.gpt2;

import io.transfuse.loader.SafetensorsFile;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.Dequantize;
import io.transfuse.tensor.Tensor;
import io.transfuse.loader.WeightFile;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * GPT-2 written out plainly from the paper and Hugging Face's GPT2LMHeadModel, in double precision,
 * independently of Transfuse's graph: it reads the Hugging Face safetensors as they are (Conv1D weights
 * [in][out], used as y = x W + b without any transposition), and recomputes attention over the whole
 * prefix for every position. Slow and simple, for tests.
 */
public final class Gpt2Reference {
    private final Map<String, double[]> w = new HashMap<>();
    private final int dim, layers, heads, ffn, vocab;
    private final double eps;

    /** Reads {@code dir}/model.safetensors; dims as the config says. */
    public Gpt2Reference(Path dir, int dim, int layers, int heads, int ffn, int vocab, double eps) {
        this.dim = dim;
        this.layers = layers;
        this.heads = heads;
        this.ffn = ffn;
        this.vocab = vocab;
        this.eps = eps;
        try (TrackedArena arena = new TrackedArena("GPT-2 reference")) {
            WeightFile f = SafetensorsFile.open(dir.resolve("model.safetensors"), arena);
            for (Map.Entry<String, Tensor> e : f.tensors().entrySet()) {
                float[] v = Dequantize.toFloats(e.getValue());
                double[] d = new double[v.length];
                for (int i = 0; i < v.length; i++) d[i] = v[i];
                w.put(e.getKey(), d);
            }
        }
    }

    /** The logits after each token of {@code tokens} (a causal model: row t depends on tokens 0..t). */
    public double[][] logits(int[] tokens) {
        int n = tokens.length;
        double[][] x = new double[n][dim];
        double[] wte = w.get("transformer.wte.weight"), wpe = w.get("transformer.wpe.weight");
        for (int t = 0; t < n; t++) for (int i = 0; i < dim; i++) x[t][i] = wte[tokens[t] * dim + i] + wpe[t * dim + i];
        int hd = dim / heads;
        for (int l = 0; l < layers; l++) {
            String p = "transformer.h." + l + ".";
            double[][] h = layerNorm(x, p + "ln_1");
            double[][] qkv = conv1d(h, p + "attn.c_attn", 3 * dim);
            double[][] att = new double[n][dim];
            for (int head = 0; head < heads; head++) {
                for (int t = 0; t < n; t++) {
                    double[] s = new double[t + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= t; j++) {
                        double dot = 0;
                        for (int i = 0; i < hd; i++) dot += qkv[t][head * hd + i] * qkv[j][dim + head * hd + i];
                        s[j] = dot / Math.sqrt(hd);
                        max = Math.max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= t; j++) sum += s[j] = Math.exp(s[j] - max);
                    for (int i = 0; i < hd; i++) {
                        double acc = 0;
                        for (int j = 0; j <= t; j++) acc += s[j] / sum * qkv[j][2 * dim + head * hd + i];
                        att[t][head * hd + i] = acc;
                    }
                }
            }
            double[][] o = conv1d(att, p + "attn.c_proj", dim);
            for (int t = 0; t < n; t++) for (int i = 0; i < dim; i++) x[t][i] += o[t][i];
            double[][] up = conv1d(layerNorm(x, p + "ln_2"), p + "mlp.c_fc", ffn);
            for (double[] row : up) for (int i = 0; i < ffn; i++) row[i] = geluTanh(row[i]);
            double[][] down = conv1d(up, p + "mlp.c_proj", dim);
            for (int t = 0; t < n; t++) for (int i = 0; i < dim; i++) x[t][i] += down[t][i];
        }
        double[][] f = layerNorm(x, "transformer.ln_f");
        double[][] out = new double[n][vocab];
        for (int t = 0; t < n; t++) {
            for (int v = 0; v < vocab; v++) {
                double acc = 0;
                for (int i = 0; i < dim; i++) acc += f[t][i] * wte[v * dim + i];
                out[t][v] = acc;
            }
        }
        return out;
    }

    /** y = x W + b with W [in][out] (Hugging Face's Conv1D). */
    private double[][] conv1d(double[][] x, String name, int outDim) {
        double[] weight = w.get(name + ".weight"), bias = w.get(name + ".bias");
        int in = x[0].length;
        double[][] y = new double[x.length][outDim];
        for (int t = 0; t < x.length; t++) {
            for (int o = 0; o < outDim; o++) {
                double acc = bias[o];
                for (int i = 0; i < in; i++) acc += x[t][i] * weight[i * outDim + o];
                y[t][o] = acc;
            }
        }
        return y;
    }

    private double[][] layerNorm(double[][] x, String name) {
        double[] g = w.get(name + ".weight"), b = w.get(name + ".bias");
        double[][] y = new double[x.length][dim];
        for (int t = 0; t < x.length; t++) {
            double mean = 0, var = 0;
            for (double v : x[t]) mean += v;
            mean /= dim;
            for (double v : x[t]) var += (v - mean) * (v - mean);
            double r = 1 / Math.sqrt(var / dim + eps);
            for (int i = 0; i < dim; i++) y[t][i] = (x[t][i] - mean) * r * g[i] + b[i];
        }
        return y;
    }

    /** GPT-2's "gelu_new": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
    static double geluTanh(double x) {
        return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    }
}
