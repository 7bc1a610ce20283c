package io.transfuse.model.detr;

/**
 * DETR's 2-D sine position embedding (Carion et al. 2020, appendix; Hugging Face's DetrSinePositionEmbedding with
 * normalize=True, scale 2 pi, temperature 10000) of a feature map's pixel mask. Per pixel (y, x) with
 * {@code ey} = the mask's count down the column to y and {@code ex} along the row to x, each normalised by the
 * column's / row's total (+ 1e-6) and times 2 pi, and {@code t_k = 10000^(2 floor(k / 2) / half)} for k < half =
 * dModel / 2: the row is {@code [sin(ey / t_0), cos(ey / t_1), sin(ey / t_2), ...,  sin(ex / t_0), cos(ex / t_1), ...]}
 * (the y half first). Padding (mask 0) does not advance the counts, so an image's embedding is the same whether or
 * not a batch padded it. Computed on the host in double once per feature-map size: a few thousand values.
 */
public final class SinePositionEmbedding {
    private SinePositionEmbedding() {}

    /** The embedding [h * w][dModel] (row-major pixels) of {@code mask} [h][w] (1: image, 0: padding). */
    public static float[] of(byte[] mask, int h, int w, int dModel) {
        if (mask.length != h * w) throw new IllegalArgumentException("mask has " + mask.length + " values for a " + h + "x" + w + " map");
        if (dModel % 4 != 0) throw new IllegalArgumentException("the sine embedding needs a width divisible by 4, got " + dModel);
        int half = dModel / 2;
        double[] ey = new double[h * w], ex = new double[h * w];
        for (int x = 0; x < w; x++) {
            double s = 0;
            for (int y = 0; y < h; y++) ey[y * w + x] = s += mask[y * w + x];
        }
        for (int y = 0; y < h; y++) {
            double s = 0;
            for (int x = 0; x < w; x++) ex[y * w + x] = s += mask[y * w + x];
        }
        double scale = 2 * Math.PI;
        double[] t = new double[half];
        for (int k = 0; k < half; k++) t[k] = Math.pow(10000, 2.0 * (k / 2) / half);
        float[] out = new float[h * w * dModel];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int p = y * w + x;
                double vy = ey[p] / (ey[(h - 1) * w + x] + 1e-6) * scale, vx = ex[p] / (ex[y * w + w - 1] + 1e-6) * scale;
                for (int k = 0; k < half; k++) {
                    out[p * dModel + k] = (float) (k % 2 == 0 ? Math.sin(vy / t[k]) : Math.cos(vy / t[k]));
                    out[p * dModel + half + k] = (float) (k % 2 == 0 ? Math.sin(vx / t[k]) : Math.cos(vx / t[k]));
                }
            }
        }
        return out;
    }
}
