package io.transfuse.model.vit;

/**
 * Resizes 8-bit RGB images the way Pillow's {@code Image.resize} does (the resampling Hugging
 * Face image processors use): a separable convolution whose filter is widened by the scale when
 * shrinking (antialiasing), horizontal pass first, each pass rounded back to 8 bits. Filters and
 * support sizes are Pillow's documented ones: bilinear = triangle of support 1, bicubic = Keys
 * cubic with a = -0.5 and support 2. Results match Pillow to within one level per pass (Pillow
 * rounds its coefficients to fixed point).
 */
public final class ImageResize {
    /** Resampling filters, numbered as Pillow's {@code Image.Resampling} (HF configs store the number). */
    public enum Filter {
        NEAREST(0), BILINEAR(2), BICUBIC(3);

        final int pillowCode;

        Filter(int pillowCode) { this.pillowCode = pillowCode; }

        public static Filter fromPillowCode(int code, String source) {
            for (Filter f : values()) if (f.pillowCode == code) return f;
            throw new IllegalArgumentException(source + ": resample " + code
                    + " is not supported (supported: 0 nearest, 2 bilinear, 3 bicubic)");
        }

        double support() { return this == BICUBIC ? 2.0 : 1.0; }

        double weight(double x) {
            x = Math.abs(x);
            return switch (this) {
                case NEAREST -> x < 0.5 ? 1 : 0;
                case BILINEAR -> x < 1 ? 1 - x : 0;
                case BICUBIC -> {
                    double a = -0.5;
                    if (x < 1) yield ((a + 2) * x - (a + 3)) * x * x + 1;
                    if (x < 2) yield (((x - 5) * x + 8) * x - 4) * a;
                    yield 0;
                }
            };
        }
    }

    private ImageResize() {}

    /** rgb is [height][width][3] bytes (unsigned); returns [outH][outW][3]. */
    public static byte[] resize(byte[] rgb, int width, int height, int outW, int outH, Filter filter) {
        if (width <= 0 || height <= 0 || outW <= 0 || outH <= 0) {
            throw new IllegalArgumentException("image sizes must be positive: " + width + "x" + height + " -> " + outW + "x" + outH);
        }
        if (rgb.length != (long) width * height * 3) throw new IllegalArgumentException("rgb has " + rgb.length + " bytes, expected " + width * height * 3);
        if (filter == Filter.NEAREST) return nearest(rgb, width, height, outW, outH);
        byte[] horizontal = outW == width ? rgb : pass(rgb, width, height, outW, filter, true);
        return outH == height ? horizontal : pass(horizontal, outW, height, outH, filter, false);
    }

    /** One separable pass along x (horizontal) or y; the other axis keeps its size. */
    private static byte[] pass(byte[] in, int width, int height, int outSize, Filter filter, boolean horizontal) {
        int inSize = horizontal ? width : height;
        double scale = (double) inSize / outSize;
        double filterScale = Math.max(scale, 1.0);
        double support = filter.support() * filterScale;
        int outW = horizontal ? outSize : width, outH = horizontal ? height : outSize;
        byte[] out = new byte[outW * outH * 3];
        int taps = (int) Math.ceil(support) * 2 + 1;
        double[] w = new double[taps];
        for (int o = 0; o < outSize; o++) {
            double center = (o + 0.5) * scale;
            int lo = Math.max((int) (center - support + 0.5), 0);
            int hi = Math.min((int) (center + support + 0.5), inSize);
            double sum = 0;
            for (int i = lo; i < hi; i++) sum += w[i - lo] = filter.weight((i - center + 0.5) / filterScale);
            for (int i = lo; i < hi; i++) w[i - lo] = sum == 0 ? 0 : w[i - lo] / sum;
            int lines = horizontal ? height : width;
            for (int line = 0; line < lines; line++) {
                for (int ch = 0; ch < 3; ch++) {
                    double acc = 0;
                    for (int i = lo; i < hi; i++) {
                        int idx = horizontal ? (line * width + i) * 3 + ch : (i * width + line) * 3 + ch;
                        acc += w[i - lo] * (in[idx] & 0xFF);
                    }
                    int dst = horizontal ? (line * outW + o) * 3 + ch : (o * outW + line) * 3 + ch;
                    out[dst] = (byte) Math.clamp(Math.round(acc), 0, 255);
                }
            }
        }
        return out;
    }

    private static byte[] nearest(byte[] in, int width, int height, int outW, int outH) {
        byte[] out = new byte[outW * outH * 3];
        for (int y = 0; y < outH; y++) {
            int sy = Math.min((int) ((y + 0.5) * height / outH), height - 1);
            for (int x = 0; x < outW; x++) {
                int sx = Math.min((int) ((x + 0.5) * width / outW), width - 1);
                System.arraycopy(in, (sy * width + sx) * 3, out, (y * outW + x) * 3, 3);
            }
        }
        return out;
    }
}
