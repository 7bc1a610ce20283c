package io.transfuse.cuda.encoder;

import io.transfuse.backend.Activation;
import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.cuda.runtime.ElemType;
import io.transfuse.cuda.runtime.EmulatedRuntime;
import io.transfuse.cuda.runtime.GpuRuntime;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Stacks of two random-weight encoder layers on cuda-emu (the real kernels on the host emulator and
 * the emulated GEMM) against {@link EncoderReference}, plain-Java double precision from the equations,
 * for both conventions, a batch of three sequences of different lengths (1 token, a few, and 70: past
 * the attention kernel's 64-row tile), fp16 and bf16.
 *
 * <p>Tolerance. The device rounds the weights and every stored activation to the dtype (unit roundoff
 * u = 2^-11 fp16, 2^-8 bf16), accumulating in fp32. Per layer about ten roundings lie on any path
 * (Q/K/V, P, attention output, Wo output, residual sum, LN output, FFN in/out, residual, LN), each
 * relative u of a value of magnitude ~1-3, and the weight roundings perturb each dot product by ~u
 * times its magnitude; errors add roughly as a random walk, LayerNorm (post-LN) keeps them from
 * growing. So two layers give |error| of order 10-20 u * |x|: ~5e-3 at fp16 for |x| up to 3-4, 8x that
 * at bf16. Measured maxima: fp16 0.0055 (post-LN) and 0.0032 (pre-LN), bf16 0.044 and 0.028. Budgets,
 * about 3x the worst measurement: fp16 0.015, bf16 0.12 absolute on O(1) outputs. What the budget
 * excludes: a causal mask instead of a bidirectional one moves outputs by O(1) (2.4-3.5, checked below
 * against a causal reference), and so does a wrong bias row (0.9-1.1 when the Q/K/V biases are all
 * taken from Q's row: tried), a missing residual or a wrong softmax scale.
 */
public class CudaEncoderEmuTest {
    static final double F16_TOLERANCE = 0.015, BF16_TOLERANCE = 0.12;
    static final int[] LENGTHS = {5, 70, 1};
    static EmulatedRuntime rt;

    @BeforeAll
    static void start() { rt = new EmulatedRuntime(); }

    @AfterAll
    static void stop() { if (rt != null) rt.close(); }

    @Test
    void postLnBertStackFp16MatchesReference() {
        postLnFp16(rt);
    }

    @Test
    void preLnVitStackWithFinalNormAndPaddedHeadsFp16MatchesReference() {
        preLnFp16(rt);
    }

    @Test
    void bothConventionsBf16MatchReference() {
        bf16(rt);
    }

    /** Every comparison with the reference on {@code rt} (the GPU-only test runs them through JCuda / JCublas). */
    public static void allCases(GpuRuntime rt) {
        postLnFp16(rt);
        preLnFp16(rt);
        bf16(rt);
    }

    static void postLnFp16(GpuRuntime rt) {
        // head dim 32: the native instantiation, no padding (all-MiniLM-L6-v2's shape, narrower)
        check(rt, new EncoderConfig(64, 2, 32, 128, 1e-12f, EncoderConvention.POST_LN, Activation.GELU_ERF), false, ElemType.F16, 11);
    }

    static void preLnFp16(GpuRuntime rt) {
        // head dim 16 runs zero-padded to 32; ViT's final LayerNorm
        check(rt, new EncoderConfig(48, 3, 16, 96, 1e-6f, EncoderConvention.PRE_LN, Activation.GELU_ERF), true, ElemType.F16, 12);
    }

    static void bf16(GpuRuntime rt) {
        check(rt, new EncoderConfig(64, 1, 64, 64, 1e-12f, EncoderConvention.POST_LN, Activation.GELU_ERF), false, ElemType.BF16, 13);
        check(rt, new EncoderConfig(64, 2, 32, 128, 1e-6f, EncoderConvention.PRE_LN, Activation.GELU_ERF), true, ElemType.BF16, 14);
    }

    /** Random model, device forward over the packed batch, reference, comparison; a causal reference must fail the budget. */
    static void check(GpuRuntime rt, EncoderConfig c, boolean finalNorm, ElemType t, long seed) {
        Random r = new Random(seed);
        EncoderBatch batch = EncoderBatch.of(LENGTHS);
        int n = batch.tokens(), dim = c.dim();
        try (Arena host = Arena.ofConfined()) {
            EncoderReference.Layer[] ref = {randomLayer(c, r), randomLayer(c, r)};
            float[] nw = finalNorm ? uniform(r, dim, 0.8, 1.2) : null, nb = finalNorm ? uniform(r, dim, -0.2, 0.2) : null;
            float[] input = new float[n * dim];
            for (int i = 0; i < input.length; i++) input[i] = (float) r.nextGaussian();
            MemorySegment in = host.allocateFrom(ValueLayout.JAVA_FLOAT, input), out = host.allocate((long) n * dim * Float.BYTES);
            long before = DeviceArena.bytesInUse();
            try (CudaEncoder enc = new CudaEncoder(rt, "test encoder", c, List.of(tensors(host, ref[0]), tensors(host, ref[1])),
                    nw == null ? null : vec(host, "norm", nw), nb == null ? null : vec(host, "norm bias", nb), t, 128, 4)) {
                assertTrue(enc.deviceBytes() > 0);
                enc.forward(in, batch, out);
            }
            assertEquals(before, DeviceArena.bytesInUse(), "device bytes after close");

            double[][] want = rows(input, n, dim), causal = rows(input, n, dim);
            EncoderReference.forward(want, batch.cuSeqlens(), c, ref, nw, nb, false);
            EncoderReference.forward(causal, batch.cuSeqlens(), c, ref, nw, nb, true);
            double worst = 0, vsCausal = 0;
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < dim; j++) {
                    double got = out.getAtIndex(ValueLayout.JAVA_FLOAT, (long) i * dim + j);
                    worst = Math.max(worst, Math.abs(got - want[i][j]));
                    vsCausal = Math.max(vsCausal, Math.abs(got - causal[i][j]));
                }
            }
            double tol = t == ElemType.F16 ? F16_TOLERANCE : BF16_TOLERANCE;
            System.out.printf("encoder %s %s head dim %d%s: max |diff| vs reference %.5f (budget %.3f), vs a causal reference %.3f%n",
                    c.convention(), t, c.headDim(), finalNorm ? " + final norm" : "", worst, tol, vsCausal);
            assertTrue(worst <= tol, c.convention() + " " + t + ": max difference " + worst + " > " + tol);
            assertTrue(vsCausal > 4 * tol, "the comparison cannot tell a causal mask apart (" + vsCausal + ")");
        }
    }

    @Test
    void paddedBatchEqualsPackedBatchAndZeroesPadding() {
        EncoderConfig c = new EncoderConfig(64, 2, 32, 128, 1e-12f, EncoderConvention.POST_LN, Activation.GELU_ERF);
        Random r = new Random(21);
        int maxLen = 9, dim = c.dim();
        int[] lens = {3, 9, 1};
        EncoderBatch b = EncoderBatch.of(lens);
        try (Arena host = Arena.ofConfined();
             CudaEncoder enc = new CudaEncoder(rt, "padded", c, List.of(tensors(host, randomLayer(c, r))), null, null, ElemType.F16, 32, 4)) {
            MemorySegment padded = host.allocate((long) lens.length * maxLen * dim * Float.BYTES), packed = host.allocate((long) b.tokens() * dim * Float.BYTES);
            for (long i = 0; i < padded.byteSize() / Float.BYTES; i++) padded.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) r.nextGaussian());
            for (int s = 0; s < lens.length; s++) {
                MemorySegment.copy(padded, (long) s * maxLen * dim * 4, packed, (long) b.offset(s) * dim * 4, (long) lens[s] * dim * 4);
            }
            MemorySegment outPadded = host.allocate(padded.byteSize());
            outPadded.fill((byte) 0x7f);
            enc.forwardPadded(padded, lens, maxLen, outPadded);
            enc.forward(packed, b, packed);
            for (int s = 0; s < lens.length; s++) {
                for (int i = 0; i < maxLen; i++) {
                    float[] got = outPadded.asSlice(((long) s * maxLen + i) * dim * 4, dim * 4L).toArray(ValueLayout.JAVA_FLOAT);
                    float[] want = i < lens[s] ? packed.asSlice((long) (b.offset(s) + i) * dim * 4, dim * 4L).toArray(ValueLayout.JAVA_FLOAT) : new float[dim];
                    assertArrayEquals(want, got, "sequence " + s + " row " + i);
                }
            }
        }
    }

    @Test
    void badArgumentsAreRejectedWithClearMessages() {
        EncoderConfig c = new EncoderConfig(64, 2, 32, 128, 1e-12f, EncoderConvention.POST_LN, Activation.GELU_ERF);
        Random r = new Random(31);
        long before = DeviceArena.bytesInUse();
        try (Arena host = Arena.ofConfined()) {
            EncoderLayerWeights good = tensors(host, randomLayer(c, r));
            // A weight of the wrong shape is named; nothing stays allocated.
            EncoderLayerWeights bad = new EncoderLayerWeights(good.wq(), good.bq(), good.wk(), good.bk(), good.wv(), good.bv(), good.w1(),
                    good.bo(), good.attnNorm(), good.attnNormBias(), good.w1(), good.b1(), good.w2(), good.b2(), good.ffnNorm(), good.ffnNormBias());
            var e = assertThrows(IllegalArgumentException.class, () -> new CudaEncoder(rt, "bad", c, List.of(bad), null, null, ElemType.F16, 16, 2));
            assertTrue(e.getMessage().contains("wo") && e.getMessage().contains("[64, 64]"), e.getMessage());
            assertEquals(before, DeviceArena.bytesInUse(), "a failed upload leaves nothing allocated");
            assertThrows(IllegalArgumentException.class, () -> new CudaEncoder(rt, "f32", c, List.of(good), null, null, ElemType.F32, 16, 2));
            assertThrows(IllegalArgumentException.class, () -> new CudaEncoder(rt, "none", c, List.of(), null, null, ElemType.F16, 16, 2));
            assertThrows(IllegalArgumentException.class, () -> new EncoderConfig(512, 2, 256, 128, 1e-6f, EncoderConvention.PRE_LN, Activation.GELU_ERF));
            assertThrows(IllegalArgumentException.class, () -> EncoderConfig.of(100, 3, 128, 1e-6f, EncoderConvention.PRE_LN));
            assertThrows(IllegalArgumentException.class, () -> EncoderBatch.of(4, 0, 2));
            assertThrows(IllegalArgumentException.class, () -> EncoderBatch.of());

            CudaEncoder enc = new CudaEncoder(rt, "limits", c, List.of(good), null, null, ElemType.F16, 16, 2);
            MemorySegment buf = host.allocate(64L * 64 * 4);
            e = assertThrows(IllegalArgumentException.class, () -> enc.forward(buf, EncoderBatch.of(10, 7), buf));
            assertTrue(e.getMessage().contains("17 tokens exceed"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> enc.forward(buf, EncoderBatch.of(1, 1, 1), buf));
            assertTrue(e.getMessage().contains("batch of 3 sequences"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> enc.forward(buf.asSlice(0, 100), EncoderBatch.of(2), buf));
            assertTrue(e.getMessage().contains("input holds 100 bytes"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> enc.forwardPadded(buf, new int[] {3, 5}, 4, buf));
            assertTrue(e.getMessage().contains("padded length 4"), e.getMessage());
            enc.close();
            var closed = assertThrows(IllegalStateException.class, () -> enc.forward(buf, EncoderBatch.of(2), buf));
            assertTrue(closed.getMessage().contains("released"), closed.getMessage());
            assertEquals(before, DeviceArena.bytesInUse(), "device bytes after close");
        }
    }

    static double[][] rows(float[] x, int n, int dim) {
        double[][] out = new double[n][dim];
        for (int i = 0; i < n; i++) for (int j = 0; j < dim; j++) out[i][j] = x[i * dim + j];
        return out;
    }

    /** Weights scaled so every projection keeps unit variance (uniform in +-sqrt(3 / in)). */
    static EncoderReference.Layer randomLayer(EncoderConfig c, Random r) {
        int dim = c.dim(), w = c.heads() * c.headDim(), ffn = c.ffn();
        return new EncoderReference.Layer(
                lin(r, w, dim), uniform(r, w, -0.2, 0.2), lin(r, w, dim), uniform(r, w, -0.2, 0.2), lin(r, w, dim), uniform(r, w, -0.2, 0.2),
                lin(r, dim, w), uniform(r, dim, -0.2, 0.2), uniform(r, dim, 0.8, 1.2), uniform(r, dim, -0.2, 0.2),
                lin(r, ffn, dim), uniform(r, ffn, -0.2, 0.2), lin(r, dim, ffn), uniform(r, dim, -0.2, 0.2),
                uniform(r, dim, 0.8, 1.2), uniform(r, dim, -0.2, 0.2));
    }

    static float[] lin(Random r, int out, int in) {
        double a = Math.sqrt(3.0 / in);
        return uniform(r, out * in, -a, a);
    }

    static float[] uniform(Random r, int n, double lo, double hi) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (lo + (hi - lo) * r.nextDouble());
        return v;
    }

    static EncoderLayerWeights tensors(Arena host, EncoderReference.Layer l) {
        int dim = l.bo().length, w = l.bq().length, ffn = l.b1().length;
        return new EncoderLayerWeights(mat(host, "wq", l.wq(), w, dim), vec(host, "bq", l.bq()), mat(host, "wk", l.wk(), w, dim),
                vec(host, "bk", l.bk()), mat(host, "wv", l.wv(), w, dim), vec(host, "bv", l.bv()), mat(host, "wo", l.wo(), dim, w),
                vec(host, "bo", l.bo()), vec(host, "n1", l.n1()), vec(host, "n1b", l.n1b()), mat(host, "w1", l.w1(), ffn, dim),
                vec(host, "b1", l.b1()), mat(host, "w2", l.w2(), dim, ffn), vec(host, "b2", l.b2()), vec(host, "n2", l.n2()),
                vec(host, "n2b", l.n2b()));
    }

    static Tensor mat(Arena host, String name, float[] v, int rows, int cols) {
        return new Tensor(name, DType.F32, new long[] {rows, cols}, host.allocateFrom(ValueLayout.JAVA_FLOAT, v));
    }

    static Tensor vec(Arena host, String name, float[] v) {
        return new Tensor(name, DType.F32, new long[] {v.length}, host.allocateFrom(ValueLayout.JAVA_FLOAT, v));
    }
}
