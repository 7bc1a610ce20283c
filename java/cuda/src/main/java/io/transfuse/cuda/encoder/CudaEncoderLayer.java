package io.transfuse.cuda.encoder;

import io.transfuse.backend.Activation;
import io.transfuse.cuda.kernels.KernelLibrary;
import io.transfuse.cuda.llama.HalfConvert;
import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.cuda.memory.DeviceBuffer;
import io.transfuse.cuda.runtime.ElemType;
import io.transfuse.cuda.runtime.Gemm;
import io.transfuse.cuda.runtime.GpuRuntime;
import io.transfuse.cuda.runtime.GpuStream;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One transformer encoder layer on a GPU runtime (cuda or cuda-emu), in place on the residual stream
 * x [tokens][dim] of an {@link EncoderWorkspace}, for either LayerNorm convention:
 * <pre>
 *   POST_LN (BERT): x = LN1(x + Wo attn(x) + bo);       x = LN2(x + W2 act(W1 x + b1) + b2)
 *   PRE_LN  (ViT):  x = x + Wo attn(LN1(x)) + bo;       x = x + W2 act(W1 LN2(x) + b1) + b2
 *   attn(h) = per head softmax(q k^T / sqrt(headDim)) v,  q|k|v = h W{q|k|v}^T + b{q|k|v},
 *             bidirectional, each sequence of the packed batch attending only to itself
 * </pre>
 * Kernels per layer: Q, K and V as one strided-batched GEMM into [3][tokens][width] (weights stored
 * stacked), one tf_bias_act for their three biases, varlen flash attention, the output GEMM, one
 * tf_bias_act adding bias and residual, tf_layernorm (in place for post-LN, into the scratch for pre-LN);
 * the FFN likewise with GELU fused into the first bias add. Every activation is stored in the layer's
 * dtype (f16 or bf16) and computed in fp32 inside the kernels and GEMMs.
 *
 * <p>Head padding: attention prefill exists for head dims 32, 64 and 128; other head dims d run as
 * the next supported D with zeros in lanes d..D-1 (zero rows in Wq/Wk/Wv and their biases, zero input
 * columns in Wo), which leaves scores, softmax (scale 1/sqrt(d)) and outputs unchanged, as in the
 * Llama path's DeviceWeights.
 */
public final class CudaEncoderLayer {
    private final EncoderConfig c;
    private final ElemType t;
    private final DeviceBuffer wqkv, bqkv, wo, bo, norm1, norm1Bias, w1, b1, w2, b2, norm2, norm2Bias;

    private CudaEncoderLayer(DeviceArena arena, EncoderConfig c, EncoderLayerWeights w, ElemType t, String name) {
        this.c = c;
        this.t = t;
        int dim = c.dim(), hd = c.headDim(), D = c.paddedHeadDim(), W = c.paddedWidth(), ffn = c.ffn();
        Tensor[] qkvW = {w.wq(), w.wk(), w.wv()}, qkvB = {w.bq(), w.bk(), w.bv()};
        wqkv = upload(arena, name + "wq|wk|wv", t, 3 * W, dim, put -> {
            for (int p = 0; p < 3; p++) {
                int base = p * W;
                HalfConvert.forEachRow(qkvW[p], c.heads() * hd, dim, (row, f) -> {
                    int dst = base + (row / hd) * D + row % hd;
                    for (int j = 0; j < dim; j++) put.set(dst, j, f.getAtIndex(ValueLayout.JAVA_FLOAT, j));
                });
            }
        });
        bqkv = upload(arena, name + "bq|bk|bv", t, 3, W, put -> {
            for (int p = 0; p < 3; p++) {
                int row = p;
                HalfConvert.forEachRow(qkvB[p], 1, c.heads() * hd, (r, f) -> {
                    for (int j = 0; j < c.heads() * hd; j++) put.set(row, (j / hd) * D + j % hd, f.getAtIndex(ValueLayout.JAVA_FLOAT, j));
                });
            }
        });
        wo = upload(arena, name + "wo", t, dim, W, put -> HalfConvert.forEachRow(w.wo(), dim, c.heads() * hd,
                (row, f) -> { for (int j = 0; j < c.heads() * hd; j++) put.set(row, (j / hd) * D + j % hd, f.getAtIndex(ValueLayout.JAVA_FLOAT, j)); }));
        bo = vector(arena, name + "bo", t, w.bo(), dim);
        norm1 = vector(arena, name + "attention LayerNorm weight", t, w.attnNorm(), dim);
        norm1Bias = vector(arena, name + "attention LayerNorm bias", t, w.attnNormBias(), dim);
        w1 = matrix(arena, name + "w1", t, w.w1(), ffn, dim);
        b1 = vector(arena, name + "b1", t, w.b1(), ffn);
        w2 = matrix(arena, name + "w2", t, w.w2(), dim, ffn);
        b2 = vector(arena, name + "b2", t, w.b2(), dim);
        norm2 = vector(arena, name + "FFN LayerNorm weight", t, w.ffnNorm(), dim);
        norm2Bias = vector(arena, name + "FFN LayerNorm bias", t, w.ffnNormBias(), dim);
    }

    /**
     * Checks the host weights against {@code config}, converts them to {@code dtype} (f16 or bf16) and
     * uploads them once into {@code arena} (freed when it closes). {@code name} prefixes the buffer
     * names in errors (e.g. "layer 3 ").
     */
    public static CudaEncoderLayer upload(DeviceArena arena, EncoderConfig config, EncoderLayerWeights weights, ElemType dtype,
                                          String name) {
        if (dtype == ElemType.F32) throw new IllegalArgumentException("encoder weights are uploaded as f16 or bf16, not f32");
        weights.check(config);
        return new CudaEncoderLayer(arena, config, weights, dtype, name);
    }

    public EncoderConfig config() { return c; }

    public ElemType dtype() { return t; }

    /**
     * Runs the layer on the residual stream of {@code ws} for the batch last given to
     * {@link EncoderWorkspace#setBatch} (its tokens packed in rows 0 .. tokens-1), in place.
     */
    public void forward(GpuStream s, EncoderWorkspace ws) {
        if (ws.config.dim() != c.dim() || ws.config.paddedWidth() != c.paddedWidth() || ws.config.ffn() != c.ffn() || ws.dtype != t) {
            throw new IllegalArgumentException("encoder workspace planned for " + ws.config + " " + ws.dtype + " cannot run a layer of " + c + " " + t);
        }
        EncoderBatch b = ws.batch();
        GpuRuntime rt = ws.runtime();
        KernelLibrary kk = rt.kernels();
        int n = b.tokens(), dim = c.dim(), W = c.paddedWidth(), D = c.paddedHeadDim(), ffn = c.ffn();
        long e = t.bytes();
        long x = ws.x.address(), normed = ws.normed.address(), attn = ws.attn.address(), hidden = ws.hidden.address(),
                proj = ws.proj.address(), cu = ws.cuSeqlens.address();
        long q = ws.qkv.address(), k = q + (long) n * W * e, v = k + (long) n * W * e;
        boolean pre = c.convention() == EncoderConvention.PRE_LN;
        float eps = c.eps();

        // Attention block.
        long in = x;
        if (pre) {
            kk.layernorm(s, normed, 0, x, norm1.address(), norm1Bias.address(), n, dim, eps, t);
            in = normed;
        }
        // q|k|v[p] = in W[p]^T for p = 0, 1, 2: column-major C (W x n) = op(A) B with A = the stacked
        // weights (stride W*dim per entry), B = in^T (shared, stride 0), C entries n*W apart.
        rt.gemm(s, new Gemm(true, false, W, n, dim, 1f, wqkv.address(), t, dim, (long) W * dim, in, t, dim, 0, 0f,
                q, t, W, (long) n * W, 3));
        kk.biasAct(s, q, q, bqkv.address(), 0, 3 * n, W, n, Activation.IDENTITY, t);
        kk.attentionPrefill(s, q, k, v, attn, cu, cu, b.size(), b.maxLength(), c.heads(), c.heads(), D, W, W,
                (float) (1.0 / Math.sqrt(c.headDim())), false, t);
        rt.gemm(s, Gemm.linear(proj, t, attn, wo.address(), t, n, W, dim));
        kk.biasAct(s, x, proj, bo.address(), x, n, dim, 0, Activation.IDENTITY, t);
        if (!pre) kk.layernorm(s, x, 0, x, norm1.address(), norm1Bias.address(), n, dim, eps, t);

        // FFN block.
        in = x;
        if (pre) {
            kk.layernorm(s, normed, 0, x, norm2.address(), norm2Bias.address(), n, dim, eps, t);
            in = normed;
        }
        rt.gemm(s, Gemm.linear(hidden, t, in, w1.address(), t, n, dim, ffn));
        kk.biasAct(s, hidden, hidden, b1.address(), 0, n, ffn, 0, c.activation(), t);
        rt.gemm(s, Gemm.linear(proj, t, hidden, w2.address(), t, n, ffn, dim));
        kk.biasAct(s, x, proj, b2.address(), x, n, dim, 0, Activation.IDENTITY, t);
        if (!pre) kk.layernorm(s, x, 0, x, norm2.address(), norm2Bias.address(), n, dim, eps, t);
    }

    /** Writes element (row, col) of a host staging matrix. */
    @FunctionalInterface
    interface Put {
        void set(int row, int col, float v);
    }

    @FunctionalInterface
    interface Fill {
        void fill(Put put);
    }

    static DeviceBuffer vector(DeviceArena arena, String name, ElemType t, Tensor src, int n) {
        return upload(arena, name, t, 1, n, put -> HalfConvert.forEachRow(src, 1, n,
                (r, f) -> { for (int j = 0; j < n; j++) put.set(0, j, f.getAtIndex(ValueLayout.JAVA_FLOAT, j)); }));
    }

    static DeviceBuffer matrix(DeviceArena arena, String name, ElemType t, Tensor src, int rows, int cols) {
        return upload(arena, name, t, rows, cols, put -> HalfConvert.forEachRow(src, rows, cols,
                (r, f) -> { for (int j = 0; j < cols; j++) put.set(r, j, f.getAtIndex(ValueLayout.JAVA_FLOAT, j)); }));
    }

    /** Builds a zero-filled [rows][cols] matrix of type t on the host with {@code fill}, then copies it to a new device buffer. */
    private static DeviceBuffer upload(DeviceArena arena, String name, ElemType t, int rows, int cols, Fill fill) {
        long bytes = (long) rows * cols * t.bytes();
        DeviceBuffer b = arena.allocate(name, bytes);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(bytes, 64);
            fill.fill((r, col, v) -> HalfConvert.put(host, (long) r * cols + col, v, t));
            GpuRuntime rt = arena.runtime();
            rt.copyHostToDevice(rt.defaultStream(), host, b.address(), bytes);
        }
        return b;
    }
}
