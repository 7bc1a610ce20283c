package io.transfuse.model.swin;

import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Dequantize;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Swin-V2's attention constants, computed once at load from the block's weights (they depend on nothing else):
 * the log-spaced continuous position bias (Liu et al. 2022, section 3.3; HF Swinv2SelfAttention) and the clamped,
 * exponentiated logit scales of its cosine attention.
 */
final class SwinV2PositionBias {
    private SwinV2PositionBias() {}

    /**
     * The bias table [(2w-1)^2][heads] in the window-attention op's layout (row (dy + w - 1)(2w - 1) + dx + w - 1):
     * per relative offset, c = offset / (w' - 1) * 8 (w' the pretrained window, or w when 0), mapped to
     * sign(c) log2(|c| + 1) / 3, through the MLP relu(W1 c + b1) then W2, and squashed to 16 sigmoid(.).
     */
    static Tensor table(SwinWeights.Block b, int window, int pretrainedWindow, TrackedArena arena) {
        float[] w1 = Dequantize.toFloats(b.cpb1()), b1 = Dequantize.toFloats(b.cpb1Bias()), w2 = Dequantize.toFloats(b.cpb2());
        int hidden = b1.length, heads = w2.length / hidden, span = 2 * window - 1;
        double norm = (pretrainedWindow > 0 ? pretrainedWindow : window) - 1;
        MemorySegment out = arena.allocateFloats((long) span * span * heads);
        double[] h = new double[hidden];
        for (int dy = -(window - 1); dy < window; dy++) {
            for (int dx = -(window - 1); dx < window; dx++) {
                double cy = logSpaced(dy, norm), cx = logSpaced(dx, norm);
                for (int j = 0; j < hidden; j++) h[j] = Math.max(0, w1[2 * j] * cy + w1[2 * j + 1] * cx + b1[j]);
                long row = (long) (dy + window - 1) * span + dx + window - 1;
                for (int head = 0; head < heads; head++) {
                    double acc = 0;
                    for (int j = 0; j < hidden; j++) acc += w2[head * hidden + j] * h[j];
                    out.setAtIndex(ValueLayout.JAVA_FLOAT, row * heads + head, (float) (16 / (1 + Math.exp(-acc))));
                }
            }
        }
        return new Tensor(b.cpb2().name() + " (position bias table)", DType.F32, new long[] {(long) span * span, heads}, out);
    }

    /** An offset scaled to [-8, 8] by the window, then log-spaced: sign(c) log2(|c| + 1) / log2(8). */
    private static double logSpaced(int offset, double norm) {
        double c = norm > 0 ? offset / norm * 8 : 0;
        return Math.signum(c) * (Math.log(Math.abs(c) + 1) / Math.log(2)) / 3;
    }

    /** exp(min(logit_scale, ln 100)) per head, F32 [heads]. */
    static Tensor logitScales(Tensor logitScale, TrackedArena arena) {
        float[] v = Dequantize.toFloats(logitScale);
        MemorySegment out = arena.allocateFloats(v.length);
        for (int i = 0; i < v.length; i++) out.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) Math.exp(Math.min(v[i], Math.log(100))));
        return new Tensor(logitScale.name() + " (clamped, exponentiated)", DType.F32, new long[] {v.length}, out);
    }
}
