package io.transfuse.model.vit;

/**
 * Resamples a grid of learned position embeddings to another patch grid, as Hugging Face's ViT does
 * for images of another size: bicubic interpolation with align_corners = false (PyTorch's
 * {@code interpolate}: source coordinate (dst + 0.5) * in / out - 0.5, cubic convolution with
 * A = -0.75, indices clamped to the border).
 */
final class PositionInterpolation {
    private static final double A = -0.75;

    private PositionInterpolation() {}

    /** grid is [inH][inW][dim]; returns [outH][outW][dim]. */
    static float[] bicubic(float[] grid, int inH, int inW, int dim, int outH, int outW) {
        float[] out = new float[outH * outW * dim];
        for (int y = 0; y < outH; y++) {
            double sy = (y + 0.5) * inH / outH - 0.5;
            int y0 = (int) Math.floor(sy);
            double[] wy = weights(sy - y0);
            for (int x = 0; x < outW; x++) {
                double sx = (x + 0.5) * inW / outW - 0.5;
                int x0 = (int) Math.floor(sx);
                double[] wx = weights(sx - x0);
                for (int d = 0; d < dim; d++) {
                    double acc = 0;
                    for (int i = 0; i < 4; i++) {
                        int yy = Math.clamp(y0 - 1 + i, 0, inH - 1);
                        for (int j = 0; j < 4; j++) {
                            int xx = Math.clamp(x0 - 1 + j, 0, inW - 1);
                            acc += wy[i] * wx[j] * grid[(yy * inW + xx) * dim + d];
                        }
                    }
                    out[(y * outW + x) * dim + d] = (float) acc;
                }
            }
        }
        return out;
    }

    /** Weights of the four taps at offsets -1, 0, 1, 2 for a fractional position t in [0, 1). */
    private static double[] weights(double t) {
        return new double[] {far(t + 1), near(t), near(1 - t), far(2 - t)};
    }

    private static double near(double x) { return ((A + 2) * x - (A + 3)) * x * x + 1; }

    private static double far(double x) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; }
}
