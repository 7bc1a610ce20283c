package io.transfuse.backend;

import io.transfuse.memory.TrackedArena;
import io.transfuse.model.RopeLayout;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.MemorySegment;

/**
 * The op set the model graphs are written against. Buffers are segments of memory the backend
 * can address (host memory for cpu, device memory for cuda); activations are F32 unless an op
 * says otherwise. Row-major throughout; a weight matrix is [out][in].
 */
public interface Backend {
    String name();

    /** out[t][o] = sum_i w[o][i] * x[t][i]. */
    void matmul(MemorySegment out, MemorySegment x, MemorySegment w, DType wType, int tokens, int inDim, int outDim);

    /**
     * A Linear layer: {@code out[t][o] = act(sum_i w[o][i] * x[t][i] + bias[o])}, the same result as
     * {@link #matmul} followed by {@link #addBias} or {@link #biasGelu} (which is what this default does;
     * a backend may apply the bias and activation while the matmul's output is still in cache).
     */
    default void matmulBias(MemorySegment out, MemorySegment x, MemorySegment w, DType wType, int tokens, int inDim,
                            int outDim, MemorySegment bias, Activation act) {
        matmul(out, x, w, wType, tokens, inDim, outDim);
        if (act == Activation.GELU_ERF) biasGelu(out, bias, tokens, outDim);
        else addBias(out, bias, tokens, outDim);
    }

    /**
     * The weight w [out][in] in the layout this backend's {@link #matmul} reads fastest: a copy in
     * {@code arena}, or w itself when its layout is already the best. Called once per weight at load by
     * graphs whose weights stay resident; the result's dtype is what to pass to matmul.
     */
    default Tensor prepareMatmulWeight(Tensor w, TrackedArena arena) {
        return w;
    }

    void rmsnorm(MemorySegment out, MemorySegment x, MemorySegment weight, int tokens, int dim, float eps);

    /** Rotates x [tokens][heads][headDim] in place; token t is at position startPos + t. */
    void rope(MemorySegment x, int tokens, int heads, int headDim, int startPos, MemorySegment invFreq, RopeLayout layout);

    /**
     * Causal grouped-query attention of q [tokens][heads][headDim] (positions startPos..) over the
     * cache rows 0..startPos+tokens-1 of k and v ([position][kvHeads][headDim]).
     */
    void attention(MemorySegment out, MemorySegment q, MemorySegment k, MemorySegment v,
                   int tokens, int startPos, int heads, int kvHeads, int headDim);

    /** out = silu(gate) * up, elementwise over n values. */
    void siluGlu(MemorySegment out, MemorySegment gate, MemorySegment up, long n);

    /** out = a + b, elementwise over n values. */
    void add(MemorySegment out, MemorySegment a, MemorySegment b, long n);

    /** Gathers rows ids[0..tokens) (int32) of table [vocab][dim] of the given type into out as F32. */
    void embedding(MemorySegment out, MemorySegment table, DType type, MemorySegment ids, int tokens, int dim);

    // Mamba-1 ops. Defaults throw, so a backend without them still compiles and fails clearly when a
    // Mamba graph is loaded onto it.

    /**
     * Causal depthwise conv1d over x [tokens][dim], kernel width {@code width}, F32 weight [dim][width]
     * and optional bias [dim]; the inputs before token 0 come from convState [dim][width-1] (oldest
     * first), which is advanced to the last width-1 inputs. SiLU on the output when {@code silu}.
     * out may be x itself.
     */
    default void causalConv1d(MemorySegment out, MemorySegment convState, MemorySegment x, MemorySegment weight,
                              MemorySegment bias, int tokens, int dim, int width, boolean silu) {
        throw new UnsupportedOperationException("the " + name() + " backend has no causalConv1d (Mamba) yet");
    }

    /**
     * Mamba-1 selective scan over [tokens][dim] carrying state [dim][dstate]: per token,
     * {@code dt = softplus(delta + deltaBias)} (plain sum unless {@code deltaSoftplus}),
     * {@code state = exp(dt A) state + dt B u}, {@code out = (state . C + D u) * silu(z)}.
     * A [dim][dstate]; B, C [tokens][dstate]; D, deltaBias [dim]; D, z, deltaBias may be null.
     * out may be u, delta or z itself.
     */
    default void selectiveScan(MemorySegment out, MemorySegment state, MemorySegment u, MemorySegment delta,
                               MemorySegment a, MemorySegment b, MemorySegment c, MemorySegment d, MemorySegment z,
                               MemorySegment deltaBias, int tokens, int dim, int dstate, boolean deltaSoftplus) {
        throw new UnsupportedOperationException("the " + name() + " backend has no selectiveScan (Mamba) yet");
    }

    // ---- encoder ops (bidirectional encoders: BERT family, ViT) ----

    /**
     * LayerNorm over [tokens][dim] of {@code x + xBias + residual} (xBias [dim] and residual may each be
     * null), times weight plus bias; out may alias x or residual.
     */
    void layerNorm(MemorySegment out, MemorySegment x, MemorySegment xBias, MemorySegment residual, MemorySegment weight,
                   MemorySegment bias, int tokens, int dim, float eps);

    /** {@code x[r][i] += bias[i]} over [rows][dim]. */
    void addBias(MemorySegment x, MemorySegment bias, int rows, int dim);

    /** GELU, erf form, in place over n values. */
    void gelu(MemorySegment x, long n);

    /** {@code x[r] = gelu(x[r] + bias)} over [rows][dim], in place. */
    void biasGelu(MemorySegment x, MemorySegment bias, int rows, int dim);

    /**
     * Non-causal attention over a padded batch: rows {@code b * seqLen + i} of q, k, v (row stride
     * qkvStride floats, [heads][headDim] each); int32 lengths[b] real rows per sequence (keys past it
     * masked, query rows past it written as zeros); out [batch * seqLen][heads * headDim].
     */
    void attentionBidirectional(MemorySegment out, MemorySegment q, MemorySegment k, MemorySegment v, MemorySegment lengths,
                                int batch, int seqLen, int heads, int headDim, int qkvStride);
}
