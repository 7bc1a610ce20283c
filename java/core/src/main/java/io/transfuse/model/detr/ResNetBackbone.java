package io.transfuse.model.detr;

import io.transfuse.backend.Activation;
import io.transfuse.backend.Backend;
import io.transfuse.backend.Conv2d;
import io.transfuse.backend.Conv2dWeights;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Dequantize;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * DETR's ResNet-50 backbone (He et al. 2016, the "v1.5" bottleneck with the stride on the 3x3 conv, as timm,
 * torchvision and HF build it) on a backend, NHWC: an image [height * width][3] in, the last stage's feature map
 * [height/32 * width/32][2048] out (rounded up per conv).
 * <pre>
 *   x = maxpool3x3/2(relu(conv7x7/2(x)))                         the stem
 *   per block: y = relu(conv1x1(x)); y = relu(conv3x3/s(y)); y = conv1x1(y)
 *              x = relu(y + (first block of a stage ? conv1x1/s(x) : x))
 * </pre>
 * Every batch norm is frozen (running statistics), so it is folded into the conv before it at load: with
 * {@code a = gamma / sqrt(var + eps)}, {@code conv(x) * a + (beta - mean a)} is one conv with weights scaled per output
 * channel and a bias. The conv ops fuse the bias and ReLU; the residual sum is an add and an in-place ReLU.
 * The workspace is planned at load for the largest image the preprocessor makes ({@link #plan}); a larger one is refused.
 */
final class ResNetBackbone {
    private final Backend ops;
    private final Conv stem;
    private final Block[][] stages;
    /** Flat buffers by role: the image, the stem's conv output, two block inputs/outputs, three block temporaries, the shortcut. */
    private final Tensor image, stemOut, a, b, t1, t2, t3, shortcut;
    private final long[] capacity;

    /** A conv with its batch norm folded in: weight [out][kh kw in] (OHWI) and bias [out], on the backend. */
    private record Conv(Tensor weight, Tensor bias, int in, int out, int kernel, int stride, int pad) {
        Conv2d geometry(int h, int w) { return Conv2d.square(1, h, w, in, out, kernel, stride, pad, 1, 1); }
    }

    private record Block(Conv reduce, Conv spatial, Conv expand, Conv shortcut) {}

    /** Elements each buffer role needs for an image of {@code h x w}. */
    static long[] plan(int h, int w) {
        long[] need = new long[8];
        need[0] = (long) h * w * 3;
        int sh = out(h, 7, 2, 3), sw = out(w, 7, 2, 3);
        need[1] = (long) sh * sw * DetrConfig.STEM_WIDTH;
        int ph = out(sh, 3, 2, 1), pw = out(sw, 3, 2, 1);
        long ab = (long) ph * pw * DetrConfig.STEM_WIDTH;
        for (int s = 0; s < 4; s++) {
            int width = DetrConfig.STAGE_WIDTHS[s], mid = width / 4, stride = s == 0 ? 1 : 2;
            need[4] = Math.max(need[4], (long) ph * pw * mid);
            int oh = out(ph, 3, stride, 1), ow = out(pw, 3, stride, 1);
            need[5] = Math.max(need[5], (long) oh * ow * mid);
            need[6] = Math.max(need[6], (long) oh * ow * width);
            need[7] = Math.max(need[7], (long) oh * ow * width);
            ab = Math.max(ab, (long) oh * ow * width);
            ph = oh;
            pw = ow;
        }
        need[2] = need[3] = ab;
        return need;
    }

    /** Output size of a conv or pool along one axis. */
    static int out(int size, int kernel, int stride, int pad) { return (size + 2 * pad - kernel) / stride + 1; }

    /** Feature-map size {height, width} for an image of {@code h x w}. */
    static int[] featureSize(int h, int w) {
        h = out(out(h, 7, 2, 3), 3, 2, 1);
        w = out(out(w, 7, 2, 3), 3, 2, 1);
        for (int s = 1; s < 4; s++) {
            h = out(h, 3, 2, 1);
            w = out(w, 3, 2, 1);
        }
        return new int[] {h, w};
    }

    /**
     * @param capacity elements per buffer role ({@link #plan}, the largest over the images to serve)
     * @param staging  host memory for the folded weights until they are uploaded
     */
    ResNetBackbone(DetrWeights w, Backend ops, long[] capacity, TrackedArena staging) {
        this.ops = ops;
        this.capacity = capacity.clone();
        stem = fold(w.stem(), 2, 3, staging);
        stages = new Block[4][];
        for (int s = 0; s < 4; s++) {
            DetrWeights.Bottleneck[] ws = w.stages()[s];
            stages[s] = new Block[ws.length];
            int stride = s == 0 ? 1 : 2;
            for (int i = 0; i < ws.length; i++) {
                DetrWeights.Bottleneck bw = ws[i];
                int st = i == 0 ? stride : 1;
                stages[s][i] = new Block(fold(bw.reduce(), 1, 0, staging), fold(bw.spatial(), st, 1, staging),
                        fold(bw.expand(), 1, 0, staging), bw.shortcut() == null ? null : fold(bw.shortcut(), st, 0, staging));
            }
        }
        DType act = ops.activationType();
        String[] names = {"backbone image", "backbone stem", "backbone block A", "backbone block B", "backbone reduce",
                "backbone 3x3", "backbone expand", "backbone shortcut"};
        Tensor[] t = new Tensor[8];
        for (int i = 0; i < 8; i++) t[i] = ops.allocate(names[i], act, Math.max(1, capacity[i]), 1);
        image = t[0];
        stemOut = t[1];
        a = t[2];
        b = t[3];
        t1 = t[4];
        t2 = t[5];
        t3 = t[6];
        shortcut = t[7];
    }

    /** Folds the frozen batch norm into the conv: OHWI weights times a, bias beta - mean a. */
    private Conv fold(DetrWeights.ConvBn cb, int stride, int pad, TrackedArena staging) {
        Tensor ohwi = Conv2dWeights.ohwi(cb.conv(), staging);
        int out = Math.toIntExact(cb.conv().dim(0)), in = Math.toIntExact(cb.conv().dim(1)), k = Math.toIntExact(cb.conv().dim(2));
        float[] gamma = floats(cb.weight()), beta = floats(cb.bias()), mean = floats(cb.mean()), var = floats(cb.variance());
        MemorySegment wseg = ohwi.data();
        long patch = ohwi.cols();
        MemorySegment bias = staging.allocateFloats(out);
        for (int o = 0; o < out; o++) {
            double scale = gamma[o] / Math.sqrt(var[o] + DetrConfig.BATCH_NORM_EPS);
            if (!Double.isFinite(scale)) {
                throw new ModelFormatException(cb.variance().name() + ": running_var " + var[o] + " at channel " + o
                        + " gives no finite batch-norm scale");
            }
            for (long i = 0; i < patch; i++) {
                long at = o * patch + i;
                wseg.setAtIndex(ValueLayout.JAVA_FLOAT, at, (float) (wseg.getAtIndex(ValueLayout.JAVA_FLOAT, at) * scale));
            }
            bias.setAtIndex(ValueLayout.JAVA_FLOAT, o, (float) (beta[o] - mean[o] * scale));
        }
        DType act = ops.activationType();
        Tensor b = new Tensor(cb.conv().name() + " folded bias", DType.F32, new long[] {out}, bias);
        return new Conv(ops.upload(ohwi, act), ops.upload(b, act), in, out, k, stride, pad);
    }

    private static float[] floats(Tensor t) { return Dequantize.toFloats(t); }

    /**
     * Runs the backbone on {@code nhwc} (F32 [h * w][3], host) and returns the feature map's rows
     * [fh * fw][2048] (a view of a workspace buffer, valid until the next call).
     */
    Tensor run(float[] nhwc, int h, int w) {
        long[] need = plan(h, w);
        for (int i = 0; i < need.length; i++) {
            if (need[i] > capacity[i]) {
                throw new IllegalArgumentException("an image of " + w + "x" + h + " needs " + need[i] + " elements in the backbone's "
                        + names(i) + " buffer; the workspace was planned for " + capacity[i] + " (the preprocessor's largest image)");
            }
        }
        ops.write(view(image, (long) h * w, 3), nhwc, 0, nhwc.length);
        Conv2d g = stem.geometry(h, w);
        Tensor s = view(stemOut, g.outPixels(), stem.out);
        ops.conv2d(s, view(image, (long) h * w, 3), stem.weight, stem.bias, g, true);
        Conv2d pool = Conv2d.square(1, g.outHeight(), g.outWidth(), stem.out, stem.out, 3, 2, 1, 1, 1);
        Tensor x = view(a, pool.outPixels(), stem.out), cur = a, spare = b; // x lives in cur; blocks write to spare
        ops.maxPool2d(x, s, pool);
        int ch = pool.outHeight(), cw = pool.outWidth();
        for (Block[] stage : stages) {
            for (Block blk : stage) {
                Conv2d g1 = blk.reduce.geometry(ch, cw);
                Tensor y1 = view(t1, g1.outPixels(), blk.reduce.out);
                ops.conv2d(y1, x, blk.reduce.weight, blk.reduce.bias, g1, true);
                Conv2d g2 = blk.spatial.geometry(ch, cw);
                Tensor y2 = view(t2, g2.outPixels(), blk.spatial.out);
                ops.conv2d(y2, y1, blk.spatial.weight, blk.spatial.bias, g2, true);
                Conv2d g3 = blk.expand.geometry(g2.outHeight(), g2.outWidth());
                Tensor y3 = view(t3, g3.outPixels(), blk.expand.out);
                ops.conv2d(y3, y2, blk.expand.weight, blk.expand.bias, g3, false);
                Tensor sc = x;
                if (blk.shortcut != null) {
                    Conv2d gs = blk.shortcut.geometry(ch, cw);
                    sc = view(shortcut, gs.outPixels(), blk.shortcut.out);
                    ops.conv2d(sc, x, blk.shortcut.weight, blk.shortcut.bias, gs, false);
                }
                Tensor next = view(spare, g3.outPixels(), blk.expand.out);
                ops.add(next, y3, sc);
                ops.biasAct(next, null, Activation.RELU);
                Tensor swap = cur;
                cur = spare;
                spare = swap;
                x = next;
                ch = g2.outHeight();
                cw = g2.outWidth();
            }
        }
        return x;
    }

    private static String names(int role) {
        return new String[] {"image", "stem", "block A", "block B", "reduce", "3x3", "expand", "shortcut"}[role];
    }

    /** The first rows * cols elements of a flat buffer as [rows][cols]. */
    private static Tensor view(Tensor flat, long rows, long cols) {
        return flat.rows(0, rows * cols).reshape(rows, cols);
    }
}
