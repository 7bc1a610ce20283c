package io.transfuse.model.vit;

import io.transfuse.backend.ReferenceMath;
import io.transfuse.loader.SafetensorsFile;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.Dequantize;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

/**
 * A plain, sequential, double-precision ViT/DeiT classifier written from the paper's equations
 * (Dosovitskiy et al. 2021, eq. 1-4; DeiT's distillation token and averaged heads), independent of
 * the production graph and backends: every tensor read to a double array, loops over indices.
 */
public final class ViTReference {
    private final ViTConfig c;
    private final Path weights;

    public ViTReference(Path dir) {
        this.c = ViTConfig.read(dir.resolve("config.json"));
        this.weights = dir.resolve("model.safetensors");
    }

    /** Logits for a preprocessed image [3][H][W]. */
    public double[] logits(ImagePreprocessor.Pixels image) {
        try (TrackedArena arena = new TrackedArena("reference")) {
            SafetensorsFile f = SafetensorsFile.open(weights, arena);
            String p = c.prefix() + ".";
            int h = c.hidden(), ps = c.patchSize(), gh = image.height() / ps, gw = image.width() / ps;
            int first = c.prefixTokens(), n = first + gh * gw;
            double[][] x = new double[n][h];
            x[0] = t(f, p + "embeddings.cls_token");
            if (c.distillation()) x[1] = t(f, p + "embeddings.distillation_token");
            double[] pw = t(f, p + "embeddings.patch_embeddings.projection.weight"), pb = t(f, p + "embeddings.patch_embeddings.projection.bias");
            for (int py = 0; py < gh; py++) {
                for (int px = 0; px < gw; px++) {
                    double[] e = x[first + py * gw + px];
                    for (int d = 0; d < h; d++) {
                        double s = pb[d];
                        for (int ch = 0; ch < 3; ch++)
                            for (int y = 0; y < ps; y++)
                                for (int xx = 0; xx < ps; xx++)
                                    s += pw[((d * 3 + ch) * ps + y) * ps + xx]
                                            * image.data()[(ch * image.height() + py * ps + y) * image.width() + px * ps + xx];
                        e[d] = s;
                    }
                }
            }
            double[][] pos = positions(t(f, p + "embeddings.position_embeddings"), gh, gw);
            for (int i = 0; i < n; i++) for (int d = 0; d < h; d++) x[i][d] += pos[i][d];
            for (int l = 0; l < c.layers(); l++) {
                String q = p + "encoder.layer." + l + ".";
                double[][] a = layerNorm(x, t(f, q + "layernorm_before.weight"), t(f, q + "layernorm_before.bias"));
                String at = q + "attention.attention.";
                double[][] att = attention(linear(a, f, at + "query"), linear(a, f, at + "key"), linear(a, f, at + "value"));
                add(x, linear(att, f, q + "attention.output.dense"));
                double[][] m = linear(layerNorm(x, t(f, q + "layernorm_after.weight"), t(f, q + "layernorm_after.bias")), f, q + "intermediate.dense");
                for (double[] row : m) for (int i = 0; i < row.length; i++) row[i] = ReferenceMath.gelu(row[i]);
                add(x, linear(m, f, q + "output.dense"));
            }
            double[][] y = layerNorm(x, t(f, p + "layernorm.weight"), t(f, p + "layernorm.bias"));
            String[] heads = c.distillation() ? new String[] {"cls_classifier", "distillation_classifier"} : new String[] {"classifier"};
            double[] out = new double[c.labels().length];
            for (int k = 0; k < heads.length; k++) {
                double[] logits = linear(new double[][] {y[k]}, f, heads[k])[0];
                for (int i = 0; i < out.length; i++) out[i] += logits[i] / heads.length;
            }
            return out;
        }
    }

    /** Prefix rows as stored; the patch grid resampled bicubically when the image's grid differs. */
    private double[][] positions(double[] table, int gh, int gw) {
        int h = c.hidden(), first = c.prefixTokens(), g = c.gridSize();
        double[][] pos = new double[first + gh * gw][h];
        for (int i = 0; i < first; i++) System.arraycopy(table, i * h, pos[i], 0, h);
        for (int y = 0; y < gh; y++) {
            for (int x = 0; x < gw; x++) {
                for (int d = 0; d < h; d++) {
                    double s = 0;
                    // separable: source row sy and column sx (align_corners = false), Keys cubic a = -0.75
                    double sy = (y + 0.5) * g / gh - 0.5, sx = (x + 0.5) * g / gw - 0.5;
                    for (int i = (int) Math.floor(sy) - 1; i <= (int) Math.floor(sy) + 2; i++) {
                        for (int j = (int) Math.floor(sx) - 1; j <= (int) Math.floor(sx) + 2; j++) {
                            int ci = Math.max(0, Math.min(g - 1, i)), cj = Math.max(0, Math.min(g - 1, j));
                            s += cubic(sy - i) * cubic(sx - j) * table[(first + ci * g + cj) * h + d];
                        }
                    }
                    pos[first + y * gw + x][d] = s;
                }
            }
        }
        return pos;
    }

    private static double cubic(double x) {
        double a = -0.75, ax = Math.abs(x);
        if (ax <= 1) return (a + 2) * ax * ax * ax - (a + 3) * ax * ax + 1;
        if (ax < 2) return a * ax * ax * ax - 5 * a * ax * ax + 8 * a * ax - 4 * a;
        return 0;
    }

    private double[][] attention(double[][] q, double[][] k, double[][] v) {
        int n = q.length, hd = c.headDim();
        double[][] out = new double[n][c.hidden()];
        for (int head = 0; head < c.heads(); head++) {
            int o = head * hd;
            for (int i = 0; i < n; i++) {
                double[] s = new double[n];
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int j = 0; j < n; j++) {
                    for (int d = 0; d < hd; d++) s[j] += q[i][o + d] * k[j][o + d];
                    s[j] /= Math.sqrt(hd);
                    max = Math.max(max, s[j]);
                }
                for (int j = 0; j < n; j++) sum += s[j] = Math.exp(s[j] - max);
                for (int j = 0; j < n; j++) for (int d = 0; d < hd; d++) out[i][o + d] += s[j] / sum * v[j][o + d];
            }
        }
        return out;
    }

    private double[][] layerNorm(double[][] x, double[] g, double[] b) {
        double[][] out = new double[x.length][];
        for (int i = 0; i < x.length; i++) {
            double mean = 0, var = 0;
            for (double v : x[i]) mean += v / x[i].length;
            for (double v : x[i]) var += (v - mean) * (v - mean) / x[i].length;
            out[i] = new double[x[i].length];
            for (int d = 0; d < x[i].length; d++) out[i][d] = (x[i][d] - mean) / Math.sqrt(var + c.layerNormEps()) * g[d] + b[d];
        }
        return out;
    }

    private static double[][] linear(double[][] x, SafetensorsFile f, String name) {
        double[] w = t(f, name + ".weight"), b = t(f, name + ".bias");
        int out = b.length, in = x[0].length;
        double[][] y = new double[x.length][out];
        for (int r = 0; r < x.length; r++)
            for (int o = 0; o < out; o++) {
                double s = b[o];
                for (int i = 0; i < in; i++) s += w[o * in + i] * x[r][i];
                y[r][o] = s;
            }
        return y;
    }

    private static void add(double[][] x, double[][] y) {
        for (int i = 0; i < x.length; i++) for (int d = 0; d < x[i].length; d++) x[i][d] += y[i][d];
    }

    private static double[] t(SafetensorsFile f, String name) {
        try (TrackedArena a = new TrackedArena("reference tensor")) {
            float[] v = Dequantize.toF32(f.tensor(name), a).toArray(ValueLayout.JAVA_FLOAT);
            double[] d = new double[v.length];
            for (int i = 0; i < v.length; i++) d[i] = v[i];
            return d;
        }
    }
}
