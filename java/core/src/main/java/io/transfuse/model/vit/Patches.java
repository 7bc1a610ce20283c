package io.transfuse.model.vit;

/**
 * Cuts an image into the rows of a patch-embedding convolution with stride = kernel = p (ViT's and Swin's
 * patch_embeddings.projection), so that the convolution is one matmul with the weight seen as [out][3 p p].
 */
public final class Patches {
    private Patches() {}

    /** Patch (py, px) becomes row py * (width / p) + px: its pixels in [channel][y][x] order, the projection's layout. */
    public static float[] im2col(ImagePreprocessor.Pixels image, int p) {
        int W = image.width(), H = image.height(), gw = W / p, gh = H / p;
        float[] px = image.data(), out = new float[gh * gw * 3 * p * p];
        int i = 0;
        for (int py = 0; py < gh; py++) {
            for (int pxi = 0; pxi < gw; pxi++) {
                for (int ch = 0; ch < 3; ch++) {
                    for (int y = 0; y < p; y++) {
                        System.arraycopy(px, ch * H * W + (py * p + y) * W + pxi * p, out, i, p);
                        i += p;
                    }
                }
            }
        }
        return out;
    }
}
