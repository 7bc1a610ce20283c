package io.transfuse.cuda.kernels;

import io.transfuse.backend.NativeLibrary;
import io.transfuse.backend.Activation;
import io.transfuse.backend.Conv2d;
import io.transfuse.tensor.DType;
import io.transfuse.cuda.runtime.GpuRuntime;
import io.transfuse.cuda.runtime.GpuStream;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Arrays;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Panama bindings of the CUDA kernel launchers of transfuse.h section 2 (the tf_* symbols), the
 * same for libtransfuse_cuda and libtransfuse_emu: only the {@link SymbolLookup} differs. Device
 * pointers are raw addresses. Every method checks its scalar arguments (the launchers trust them)
 * and issues the launch through {@link GpuRuntime#launch}, so a capturing emulated stream records it.
 */
public final class KernelLibrary {
    /** Head dimensions the attention kernels are instantiated for (256: Gemma). */
    public static final int[] ATTENTION_HEAD_DIMS = {64, 128, 256};
    /** Head dimensions attention prefill (not decode) is instantiated for: 32 too, for small encoders. */
    public static final int[] PREFILL_HEAD_DIMS = {32, 64, 128, 256};
    /** Largest SSM state (dstate) the selective-scan kernels take. */
    public static final int MAX_SCAN_STATE = 256;
    /** Largest SSM state (dstate) the Mamba-2 SSD kernels take. */
    public static final int MAX_SSD_STATE = 128;
    /** Widest causal conv1d the conv kernels take. */
    public static final int MAX_CONV_WIDTH = 4;
    /** Most tokens per window of the window-attention kernel: window 8 (a 64-row tile), or window 12 at head dim 32. */
    public static final int MAX_WINDOW_TOKENS = 64, MAX_WINDOW_TOKENS_HEAD_DIM_32 = 144;

    private final GpuRuntime rt;
    private final MethodHandle rmsnorm, embedding, rope, ropeKvCache, glu, prefillF16, prefillBf16,
            decodeF16, decodeBf16, decodeWorkspace, decodeSplitLen, selectiveScan, selectiveStateUpdate, causalConv1d,
            causalConv1dUpdate, layernorm, biasAct, transpose, ssdScan, ssdStateUpdate, gatedRmsnorm, windowAttention, conv2d;
    // RWKV (issue 17)
    private final MethodHandle rwkvTokenShift, rwkvTokenMix, rwkvPointwise, rwkvWkv6, rwkvWkv7;

    public KernelLibrary(SymbolLookup lib, String libraryName, GpuRuntime rt) {
        this.rt = rt;
        Binder b = (name, fd) -> NativeLibrary.downcall(lib, libraryName, name, fd);
        rmsnorm = b.bind("tf_rmsnorm", fd(ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_INT, ADDRESS));
        layernorm = b.bind("tf_layernorm", fd(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_INT, ADDRESS));
        biasAct = b.bind("tf_bias_act", fd(ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
        embedding = b.bind("tf_embedding", fd(ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
        rope = b.bind("tf_rope", fd(ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_FLOAT, JAVA_INT, ADDRESS));
        ropeKvCache = b.bind("tf_rope_kv_cache", fd(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
        glu = b.bind("tf_glu", fd(ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS));
        FunctionDescriptor prefill = fd(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_FLOAT, JAVA_INT, JAVA_INT, JAVA_FLOAT, ADDRESS, ADDRESS);
        prefillF16 = b.bind("tf_attention_prefill_f16", prefill);
        prefillBf16 = b.bind("tf_attention_prefill_bf16", prefill);
        FunctionDescriptor decode = fd(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_INT, JAVA_FLOAT, ADDRESS, ADDRESS, ADDRESS);
        decodeF16 = b.bind("tf_attention_decode_f16", decode);
        decodeBf16 = b.bind("tf_attention_decode_bf16", decode);
        decodeWorkspace = b.bind("tf_attention_decode_workspace_bytes",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
        decodeSplitLen = b.bind("tf_attention_decode_default_split_len",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
        selectiveScan = b.bind("tf_selective_scan", fd(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
        selectiveStateUpdate = b.bind("tf_selective_state_update", fd(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
        causalConv1d = b.bind("tf_causal_conv1d", fd(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
        causalConv1dUpdate = b.bind("tf_causal_conv1d_update", fd(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
        windowAttention = b.bind("tf_window_attention", fd(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_FLOAT, JAVA_INT, ADDRESS));
        transpose = b.bind("tf_transpose", fd(ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
        ssdScan = b.bind("tf_ssd_scan", fd(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
        ssdStateUpdate = b.bind("tf_ssd_state_update", fd(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
        gatedRmsnorm = b.bind("tf_gated_rmsnorm", fd(ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT,
                JAVA_INT, ADDRESS));
        conv2d = b.bind("tf_conv2d", fd(ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
        maxPool2d = b.bind("tf_max_pool2d", fd(ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS)); // DETR
        // BERT variants
        noNorm = b.bind("tf_no_norm", fd(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
        // encoder-decoder (seq2seq)
        attentionRelBias = b.bind("tf_attention_rel_bias", fd(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_INT, ADDRESS));
        // RWKV (issue 17)
        rwkvTokenShift = b.bind("tf_rwkv_token_shift", fd(ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
        rwkvTokenMix = b.bind("tf_rwkv_token_mix", fd(ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT,
                ADDRESS));
        rwkvPointwise = b.bind("tf_rwkv_pointwise", fd(ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS));
        rwkvWkv6 = b.bind("tf_rwkv_wkv6", fd(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT,
                JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_INT, ADDRESS));
        rwkvWkv7 = b.bind("tf_rwkv_wkv7", fd(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_INT, ADDRESS));
        // seq2seq decoder on the paged KV cache (issue 17)
        attentionRelBiasPaged = b.bind("tf_attention_rel_bias_paged", fd(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_INT, ADDRESS));
    }

    /**
     * 2-D convolution, NHWC, the implicit-GEMM kernel (tf_conv2d, conv2d.cuh): x [pixels][inChannels], weight
     * [outChannels][kh * kw * inChannels / groups], bias (0 = none) [outChannels], out [outPixels][outChannels], all of
     * {@code t}; ReLU fused when {@code relu}. The geometry travels as a host array read by the launcher.
     */
    public void conv2d(GpuStream s, long out, long x, long weight, long bias, Conv2d conv, boolean relu, DType t) {
        nonNull("conv2d", out, x, weight);
        if (conv == null) throw new IllegalArgumentException("conv2d: conv (the geometry) is null");
        int r = relu ? 1 : 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment geom = arena.allocateFrom(ValueLayout.JAVA_INT, conv.geometry());
            rt.launch(s, "tf_conv2d", st -> (int) conv2d.invokeExact(p(out), p(x), p(weight), p(bias), r, geom, t.tfCode(), st));
        }
    }

    /** RMSNorm with optional fused residual (residual 0 = none): see tf_rmsnorm. out may be x, residual or both. */
    public void rmsnorm(GpuStream s, long out, long residual, long x, long weight, int rows, int dim, float eps, DType t) {
        nonNull("rmsnorm", out, x, weight);
        positive("rmsnorm rows", rows);
        positive("rmsnorm dim", dim);
        rt.launch(s, "tf_rmsnorm", st -> (int) rmsnorm.invokeExact(p(out), p(residual), p(x), p(weight), rows, dim, eps, t.tfCode(), st));
    }

    /**
     * LayerNorm with optional fused residual (residual 0 = none) and bias (0 = none): see tf_layernorm. out may be x,
     * residual or both (post-LN in place: {@code layernorm(s, x, x, delta, ...)} leaves norm(x + delta) in x).
     */
    public void layernorm(GpuStream s, long out, long residual, long x, long weight, long bias, int rows, int dim, float eps,
                          DType t) {
        nonNull("layernorm", out, x, weight);
        positive("layernorm rows", rows);
        positive("layernorm dim", dim);
        rt.launch(s, "tf_layernorm", st -> (int) layernorm.invokeExact(p(out), p(residual), p(x), p(weight), p(bias), rows, dim,
                eps, t.tfCode(), st));
    }

    /**
     * The encoder GEMM epilogue (tf_bias_act): {@code out[r][j] = act(x[r][j] + bias[r / groupRows][j]) + residual[r][j]}
     * over [rows][n]; bias and residual 0 for none, groupRows 0 for one bias row. out may alias x or residual.
     */
    public void biasAct(GpuStream s, long out, long x, long bias, long residual, int rows, int n, int groupRows,
                        Activation act, DType t) {
        nonNull("bias_act", out, x);
        positive("bias_act rows", rows);
        positive("bias_act n", n);
        if (groupRows < 0) throw new IllegalArgumentException("bias_act group rows must be >= 0, got " + groupRows);
        rt.launch(s, "tf_bias_act", st -> (int) biasAct.invokeExact(p(out), p(x), p(bias), p(residual), rows, n, groupRows,
                act.code(), t.tfCode(), st));
    }

    /** out[t] = table[ids[t]] (ids int32 on the device); table and out of type t. */
    public void embedding(GpuStream s, long out, long ids, long table, int tokens, int dim, int vocab, DType t) {
        nonNull("embedding", out, ids, table);
        positive("embedding tokens", tokens);
        positive("embedding dim", dim);
        positive("embedding vocab", vocab);
        rt.launch(s, "tf_embedding", st -> (int) embedding.invokeExact(p(out), p(ids), p(table), tokens, dim, vocab,
                t.tfCode(), t.tfCode(), st));
    }

    /** RoPE in place on q (or 0) and k (or 0), cos and sin scaled by mscale: see tf_rope. */
    public void rope(GpuStream s, long q, long k, long positions, long invFreq, int tokens, int heads, int kvHeads,
                     int headDim, int rotaryDim, int layout, float mscale, DType t) {
        nonNull("rope", positions, invFreq);
        positive("rope tokens", tokens);
        checkRotary(headDim, rotaryDim);
        checkMscale(mscale);
        rt.launch(s, "tf_rope", st -> (int) rope.invokeExact(p(q), p(k), p(positions), p(invFreq), tokens, heads, kvHeads,
                headDim, rotaryDim, layout, mscale, t.tfCode(), st));
    }

    /**
     * Fused RoPE + paged KV-cache write: see tf_rope_kv_cache. rotaryDim 0 is a plain KV-cache write (no rotation, q
     * untouched; invFreq may then be 0).
     */
    public void ropeKvCache(GpuStream s, long q, long k, long v, long kCache, long vCache, long blockTable, long positions,
                            long seqIds, long invFreq, int tokens, int heads, int kvHeads, int headDim, int rotaryDim,
                            int layout, float mscale, int blockSize, int maxBlocksPerSeq, DType t) {
        nonNull("rope_kv_cache", k, v, kCache, vCache, blockTable, positions, seqIds);
        if (rotaryDim > 0) nonNull("rope_kv_cache inv_freq", invFreq);
        positive("rope_kv_cache tokens", tokens);
        positive("rope_kv_cache block size", blockSize);
        positive("rope_kv_cache max blocks per sequence", maxBlocksPerSeq);
        checkRotary(headDim, rotaryDim);
        checkMscale(mscale);
        rt.launch(s, "tf_rope_kv_cache", st -> (int) ropeKvCache.invokeExact(p(q), p(k), p(v), p(kCache), p(vCache),
                p(blockTable), p(positions), p(seqIds), p(invFreq), tokens, heads, kvHeads, headDim, rotaryDim, layout, mscale,
                blockSize, maxBlocksPerSeq, t.tfCode(), st));
    }

    /**
     * Gated linear unit: {@code out[t][j] = act(gate[t * inStride + j]) * up[t * inStride + j]}, out [tokens][ffn] packed
     * (tf_glu). Separate gate and up buffers: inStride = ffn (then out may be gate or up, in place). The two halves of
     * one fused [tokens][2 ffn] gate/up GEMM output: up = gate + ffn * t.elementBytes(), inStride = 2 ffn.
     */
    public void glu(GpuStream s, long out, long gate, long up, int tokens, int ffn, long inStride, Activation act, DType t) {
        nonNull("glu", out, gate, up);
        positive("glu tokens", tokens);
        positive("glu ffn", ffn);
        if (inStride < ffn) throw new IllegalArgumentException("glu in_stride " + inStride + " must be >= ffn " + ffn);
        rt.launch(s, "tf_glu", st -> (int) glu.invokeExact(p(out), p(gate), p(up), tokens, ffn, inStride, act.code(),
                t.tfCode(), st));
    }

    /** Varlen attention prefill without window or soft-cap (encoders): the method below with window 0, softcap 0. */
    public void attentionPrefill(GpuStream s, long q, long k, long v, long o, long cuSeqlensQ, long cuSeqlensK, int batch,
                                 int maxSeqlenQ, int heads, int kvHeads, int headDim, long qStride, long kvStride,
                                 float scale, boolean causal, DType t) {
        attentionPrefill(s, q, k, v, o, cuSeqlensQ, cuSeqlensK, batch, maxSeqlenQ, heads, kvHeads, headDim, qStride, kvStride,
                scale, causal, 0, 0f, t);
    }

    /**
     * Varlen attention prefill, causal or bidirectional, with a sliding window (0: none) and a logit soft-cap
     * (0: none), no ALiBi, no lse: see tf_attention_prefill_*. Head dims: {@link #PREFILL_HEAD_DIMS}. Row strides
     * in elements: q rows start qStride apart (>= heads * headDim), k and v rows kvStride apart (>= kvHeads * headDim); packed tensors pass exactly those,
     * column blocks of one fused QKV GEMM output pass its row length for both. Strides must be multiples of 8 and
     * q, k, v, o 16-byte aligned (the kernel's 16-byte loads). o is packed [tokens][heads][headDim].
     */
    public void attentionPrefill(GpuStream s, long q, long k, long v, long o, long cuSeqlensQ, long cuSeqlensK, int batch,
                                 int maxSeqlenQ, int heads, int kvHeads, int headDim, long qStride, long kvStride,
                                 float scale, boolean causal, int window, float softcap, DType t) {
        nonNull("attention prefill", q, k, v, o, cuSeqlensQ, cuSeqlensK);
        checkHeads(heads, kvHeads);
        if (!supportsPrefillHeadDim(headDim)) {
            throw new IllegalArgumentException("attention prefill supports head dim " + Arrays.toString(PREFILL_HEAD_DIMS) + ", got " + headDim);
        }
        checkWindowSoftcap("attention prefill", window, softcap);
        positive("attention prefill batch", batch);
        positive("attention prefill max_seqlen_q", maxSeqlenQ);
        checkRowStride("attention prefill q", qStride, (long) heads * headDim);
        checkRowStride("attention prefill k/v", kvStride, (long) kvHeads * headDim);
        aligned16("attention prefill", q, k, v, o);
        MethodHandle h = half(t, prefillF16, prefillBf16);
        rt.launch(s, "tf_attention_prefill_" + name(t), st -> (int) h.invokeExact(p(q), p(k), p(v), p(o), MemorySegment.NULL,
                p(cuSeqlensQ), p(cuSeqlensK), batch, maxSeqlenQ, heads, kvHeads, headDim, qStride, kvStride, scale,
                causal ? 1 : 0, window, softcap, MemorySegment.NULL, st));
    }

    /**
     * Paged flash-decoding with a sliding window (0: none) and a logit soft-cap (0: none): see
     * tf_attention_decode_*. {@code workspace} holds {@link #decodeWorkspaceBytes} bytes.
     */
    public void attentionDecode(GpuStream s, long q, long kCache, long vCache, long o, long blockTable, long contextLens,
                                int batch, int heads, int kvHeads, int headDim, int blockSize, int maxBlocksPerSeq,
                                int maxContextLen, int splitLen, float scale, int window, float softcap, long workspace, DType t) {
        nonNull("attention decode", q, kCache, vCache, o, blockTable, contextLens, workspace);
        checkAttention(heads, kvHeads, headDim);
        checkWindowSoftcap("attention decode", window, softcap);
        positive("attention decode batch", batch);
        positive("attention decode block size", blockSize);
        positive("attention decode split length", splitLen);
        positive("attention decode max context length", maxContextLen);
        MethodHandle h = half(t, decodeF16, decodeBf16);
        rt.launch(s, "tf_attention_decode_" + name(t), st -> (int) h.invokeExact(p(q), p(kCache), p(vCache), p(o),
                p(blockTable), p(contextLens), batch, heads, kvHeads, headDim, blockSize, maxBlocksPerSeq, maxContextLen,
                splitLen, scale, window, softcap, MemorySegment.NULL, p(workspace), st));
    }

    /**
     * Mamba-1 selective scan over channel-major rows, softplus on dt: see tf_selective_scan. A, D, deltaBias,
     * finalState and initialState are fp32 (D, z, deltaBias, finalState, initialState may be 0); the rest of type t.
     */
    public void selectiveScan(GpuStream s, long out, long finalState, long u, long delta, long a, long b, long c, long d,
                              long z, long deltaBias, long initialState, int batch, int dim, int seqlen, int dstate,
                              int nGroups, DType t) {
        nonNull("selective_scan", out, u, delta, a, b, c);
        positive("selective_scan seqlen", seqlen);
        checkScan("selective_scan", batch, dim, dstate, nGroups);
        rt.launch(s, "tf_selective_scan", st -> (int) selectiveScan.invokeExact(p(out), p(finalState), p(u), p(delta), p(a),
                p(b), p(c), p(d), p(z), p(deltaBias), p(initialState), batch, dim, seqlen, dstate, nGroups, 1, t.tfCode(), st));
    }

    /**
     * One token of the selective scan per sequence (decode), softplus on dt, fp32 state in place: see
     * tf_selective_state_update. out may be x (in place).
     */
    public void selectiveStateUpdate(GpuStream s, long out, long state, long x, long delta, long a, long b, long c, long d,
                                     long z, long deltaBias, int batch, int dim, int dstate, int nGroups, DType t) {
        nonNull("selective_state_update", out, state, x, delta, a, b, c);
        checkScan("selective_state_update", batch, dim, dstate, nGroups);
        rt.launch(s, "tf_selective_state_update", st -> (int) selectiveStateUpdate.invokeExact(p(out), p(state), p(x), p(delta),
                p(a), p(b), p(c), p(d), p(z), p(deltaBias), batch, dim, dstate, nGroups, 1, t.tfCode(), st));
    }

    /**
     * Swin's (shifted) window attention over one image's gridH x gridW tokens (tf_window_attention): q, k, v rows
     * {@code stride} elements apart (fused QKV column blocks), out packed, bias F32 [(2 window - 1)^2][heads] on the
     * device; logitScale 0, or F32 [heads] for Swin-V2's cosine attention. Window at most 8 (64 tokens) at head dim 64,
     * 12 (144 tokens) at head dim 32; stride a multiple of 8; F16 or BF16.
     */
    public void windowAttention(GpuStream s, long q, long k, long v, long out, long bias, long logitScale, int gridH, int gridW, int window,
                                int shift, int heads, int headDim, long stride, float scale, DType t) {
        nonNull("window attention", q, k, v, out, bias);
        positive("window attention heads", heads);
        int maxTokens = headDim == 32 ? MAX_WINDOW_TOKENS_HEAD_DIM_32 : MAX_WINDOW_TOKENS;
        if (window < 1 || window * window > maxTokens) {
            throw new IllegalArgumentException("window attention: window " + window + " has " + (long) window * window
                    + " tokens; the CUDA kernel takes at most " + maxTokens + " at head dim " + headDim);
        }
        if (headDim != 32 && headDim != 64) {
            throw new IllegalArgumentException("window attention: head dim " + headDim + " is not one the CUDA kernel is built for (32, 64)");
        }
        if (gridH % window != 0 || gridW % window != 0 || gridH < 1 || gridW < 1) {
            throw new IllegalArgumentException("window attention: the " + gridH + "x" + gridW + " grid is not a whole number of windows of " + window);
        }
        if (shift < 0 || shift >= window) throw new IllegalArgumentException("window attention: shift " + shift + " outside [0, " + window + ")");
        if (stride % 8 != 0 || stride < (long) heads * headDim) {
            throw new IllegalArgumentException("window attention: row stride " + stride + " must be a multiple of 8 and >= heads * headDim");
        }
        if (t != DType.F16 && t != DType.BF16) throw new IllegalArgumentException("window attention: F16 or BF16, not " + t);
        rt.launch(s, "tf_window_attention", st -> (int) windowAttention.invokeExact(p(q), p(k), p(v), p(out), p(bias), p(logitScale), gridH, gridW,
                window, shift, heads, headDim, stride, scale, t.tfCode(), st));
    }

    /**
     * Causal depthwise conv1d over channel-major rows [batch][dim][seqlen], with SiLU when {@code silu}: see
     * tf_causal_conv1d. convStateOut (or 0) receives the last width-1 inputs; bias may be 0; out must not alias x.
     */
    public void causalConv1d(GpuStream s, long out, long convStateOut, long x, long weight, long bias, int batch, int dim,
                             int seqlen, int width, boolean silu, DType t) {
        nonNull("causal_conv1d", out, x, weight);
        positive("causal_conv1d batch", batch);
        positive("causal_conv1d dim", dim);
        positive("causal_conv1d seqlen", seqlen);
        checkConvWidth(width);
        rt.launch(s, "tf_causal_conv1d", st -> (int) causalConv1d.invokeExact(p(out), p(convStateOut), p(x), p(weight), p(bias),
                batch, dim, seqlen, width, silu ? 1 : 0, t.tfCode(), st));
    }

    /**
     * One decode step of the conv per sequence, rolling convState [batch][dim][width-1] in place: see
     * tf_causal_conv1d_update. out may be x (in place).
     */
    public void causalConv1dUpdate(GpuStream s, long out, long convState, long x, long weight, long bias, int batch, int dim,
                                   int width, boolean silu, DType t) {
        nonNull("causal_conv1d_update", out, x, weight);
        if (width > 1) nonNull("causal_conv1d_update", convState);
        positive("causal_conv1d_update batch", batch);
        positive("causal_conv1d_update dim", dim);
        checkConvWidth(width);
        rt.launch(s, "tf_causal_conv1d_update", st -> (int) causalConv1dUpdate.invokeExact(p(out), p(convState), p(x), p(weight),
                p(bias), batch, dim, width, silu ? 1 : 0, t.tfCode(), st));
    }

    /**
     * Mamba-2 SSD scan over one token-major sequence (chunked): see tf_ssd_scan. A, D, dtBias and the state are fp32
     * (D, dtBias may be 0); the state is read unless {@code fresh} and written back. out must not overlap the inputs.
     */
    public void ssdScan(GpuStream s, long out, long state, long x, long dt, long a, long b, long c, long d, long dtBias,
                        boolean fresh, int seqlen, int heads, int headDim, int groups, int dstate, DType t) {
        nonNull("ssd_scan", out, state, x, dt, a, b, c);
        positive("ssd_scan seqlen", seqlen);
        checkSsd("ssd_scan", 1, heads, headDim, groups, dstate);
        rt.launch(s, "tf_ssd_scan", st -> (int) ssdScan.invokeExact(p(out), p(state), p(x), p(dt), p(a), p(b), p(c), p(d),
                p(dtBias), fresh ? 1 : 0, seqlen, heads, headDim, groups, dstate, t.tfCode(), st));
    }

    /** One token per sequence of the SSD scan (decode), fp32 state in place: see tf_ssd_state_update. out must not be x. */
    public void ssdStateUpdate(GpuStream s, long out, long state, long x, long dt, long a, long b, long c, long d, long dtBias,
                               int batch, int heads, int headDim, int groups, int dstate, DType t) {
        nonNull("ssd_state_update", out, state, x, dt, a, b, c);
        checkSsd("ssd_state_update", batch, heads, headDim, groups, dstate);
        rt.launch(s, "tf_ssd_state_update", st -> (int) ssdStateUpdate.invokeExact(p(out), p(state), p(x), p(dt), p(a), p(b),
                p(c), p(d), p(dtBias), batch, heads, headDim, groups, dstate, t.tfCode(), st));
    }

    /** Gated RMSNorm in groups of {@code groupSize} columns: see tf_gated_rmsnorm. out may be x or z. */
    public void gatedRmsnorm(GpuStream s, long out, long x, long z, long weight, int rows, int dim, int groupSize, float eps, DType t) {
        nonNull("gated_rmsnorm", out, x, z, weight);
        positive("gated_rmsnorm rows", rows);
        positive("gated_rmsnorm dim", dim);
        positive("gated_rmsnorm group size", groupSize);
        if (dim % groupSize != 0) throw new IllegalArgumentException("gated_rmsnorm: group size " + groupSize + " must divide dim " + dim);
        rt.launch(s, "tf_gated_rmsnorm", st -> (int) gatedRmsnorm.invokeExact(p(out), p(x), p(z), p(weight), rows, dim, groupSize,
                eps, t.tfCode(), st));
    }

    private static void checkSsd(String op, int batch, int heads, int headDim, int groups, int dstate) {
        positive(op + " batch", batch);
        positive(op + " heads", heads);
        positive(op + " head dim", headDim);
        positive(op + " groups", groups);
        positive(op + " dstate", dstate);
        if (heads % groups != 0) throw new IllegalArgumentException(op + ": heads " + heads + " must be a multiple of groups " + groups);
        if (dstate > MAX_SSD_STATE) throw new IllegalArgumentException(op + ": dstate must be <= " + MAX_SSD_STATE + ", got " + dstate);
    }

    /**
     * {@code out[c][r] = in[r][c]} for in [rows][cols], out [cols][rows], any element type (tf_transpose): between
     * token-major activations and the channel-major Mamba kernels. out must not overlap in.
     */
    public void transpose(GpuStream s, long out, long in, int rows, int cols, DType t) {
        nonNull("transpose", out, in);
        positive("transpose rows", rows);
        positive("transpose cols", cols);
        long bytes = (long) rows * cols * t.elementBytes();
        if (out < in + bytes && in < out + bytes) {
            throw new IllegalArgumentException("transpose: out must not overlap in (" + bytes + " bytes each)");
        }
        rt.launch(s, "tf_transpose", st -> (int) transpose.invokeExact(p(out), p(in), rows, cols, t.tfCode(), st));
    }

    public long decodeWorkspaceBytes(int batch, int heads, int headDim, int maxContextLen, int splitLen) {
        return NativeLibrary.callLong(() -> (long) decodeWorkspace.invokeExact(batch, heads, headDim, maxContextLen, splitLen));
    }

    public int decodeDefaultSplitLen(int batch, int heads, int kvHeads, int maxContextLen, int multiprocessors) {
        return NativeLibrary.callInt(() -> (int) decodeSplitLen.invokeExact(batch, heads, kvHeads, maxContextLen, multiprocessors));
    }

    /** Whether the attention kernels support this head dimension. */
    public static boolean supportsHeadDim(int d) {
        for (int x : ATTENTION_HEAD_DIMS) if (x == d) return true;
        return false;
    }

    /** Whether attention prefill supports this head dimension. */
    public static boolean supportsPrefillHeadDim(int d) {
        for (int x : PREFILL_HEAD_DIMS) if (x == d) return true;
        return false;
    }

    private static MemorySegment p(long address) {
        return address == 0 ? MemorySegment.NULL : MemorySegment.ofAddress(address);
    }

    private static FunctionDescriptor fd(MemoryLayout... args) {
        return FunctionDescriptor.of(JAVA_INT, args);
    }

    private static MethodHandle half(DType t, MethodHandle f16, MethodHandle bf16) {
        return switch (t) {
            case F16 -> f16;
            case BF16 -> bf16;
            default -> throw new IllegalArgumentException("attention kernels take f16 or bf16, not " + t);
        };
    }

    private static String name(DType t) { return t == DType.F16 ? "f16" : "bf16"; }

    private static void nonNull(String what, long... addresses) {
        for (long a : addresses) if (a == 0) throw new IllegalArgumentException(what + ": a required device pointer is null");
    }

    private static void positive(String what, int v) {
        if (v <= 0) throw new IllegalArgumentException(what + " must be positive, got " + v);
    }

    /** Elements between rows: at least the row's heads, and a multiple of 8 (16 bytes of f16 / bf16). */
    private static void checkRowStride(String what, long stride, long minimum) {
        if (stride < minimum || stride % 8 != 0) {
            throw new IllegalArgumentException(what + " row stride " + stride + " must be >= " + minimum + " and a multiple of 8");
        }
    }

    private static void aligned16(String what, long... addresses) {
        for (long a : addresses) {
            if ((a & 15) != 0) throw new IllegalArgumentException(what + ": device pointer 0x" + Long.toHexString(a) + " is not 16-byte aligned");
        }
    }

    private static void checkRotary(int headDim, int rotaryDim) {
        if (headDim <= 0 || rotaryDim < 0 || rotaryDim % 2 != 0 || rotaryDim > headDim) {
            throw new IllegalArgumentException("rotary dim " + rotaryDim + " must be even and <= head dim " + headDim);
        }
    }

    private static void checkMscale(float mscale) {
        if (!(mscale > 0) || Float.isInfinite(mscale)) throw new IllegalArgumentException("rope mscale must be positive and finite, got " + mscale);
    }

    private static void checkScan(String what, int batch, int dim, int dstate, int nGroups) {
        positive(what + " batch", batch);
        positive(what + " dim", dim);
        if (dstate < 1 || dstate > MAX_SCAN_STATE) throw new IllegalArgumentException(what + ": dstate " + dstate + " must be in [1, " + MAX_SCAN_STATE + "]");
        if (nGroups < 1 || dim % nGroups != 0) throw new IllegalArgumentException(what + ": dim " + dim + " must be a multiple of n_groups " + nGroups);
    }

    private static void checkConvWidth(int width) {
        if (width < 1 || width > MAX_CONV_WIDTH) throw new IllegalArgumentException("causal conv1d width " + width + " must be in [1, " + MAX_CONV_WIDTH + "]");
    }

    private static void checkAttention(int heads, int kvHeads, int headDim) {
        checkHeads(heads, kvHeads);
        if (!supportsHeadDim(headDim)) {
            throw new IllegalArgumentException("attention kernels support head dim " + Arrays.toString(ATTENTION_HEAD_DIMS) + ", got " + headDim);
        }
    }

    private static void checkWindowSoftcap(String what, int window, float softcap) {
        if (window < 0) throw new IllegalArgumentException(what + ": window must be >= 0 (0: none), got " + window);
        if (!(softcap >= 0) || !Float.isFinite(softcap)) {
            throw new IllegalArgumentException(what + ": softcap must be finite and >= 0 (0: none), got " + softcap);
        }
    }

    private static void checkHeads(int heads, int kvHeads) {
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0) {
            throw new IllegalArgumentException("attention: " + heads + " heads must be a positive multiple of " + kvHeads + " kv heads");
        }
    }

    // ---- DETR: max pooling --------------------------------------------------------------------------

    private final MethodHandle maxPool2d;

    /**
     * 2-D max pooling, NHWC (tf_max_pool2d, max_pool2d.cuh): x [pixels][channels], out [outPixels][channels], both of
     * {@code t}; {@code pool} the geometry with inChannels == outChannels, travelling as a host array.
     */
    public void maxPool2d(GpuStream s, long out, long x, Conv2d pool, DType t) {
        nonNull("maxPool2d", out, x);
        if (pool == null) throw new IllegalArgumentException("maxPool2d: pool (the geometry) is null");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment geom = arena.allocateFrom(ValueLayout.JAVA_INT, pool.geometry());
            rt.launch(s, "tf_max_pool2d", st -> (int) maxPool2d.invokeExact(p(out), p(x), geom, t.tfCode(), st));
        }
    }

    // ---- BERT variants (MobileBERT, ModernBERT, nomic-bert, JinaBERT) ----

    private final MethodHandle noNorm;


    /** MobileBERT's NoNorm with the residual contract of {@link #layernorm}: see tf_no_norm. bias and residual may be 0. */
    public void noNorm(GpuStream s, long out, long residual, long x, long weight, long bias, int rows, int dim, DType t) {
        nonNull("no_norm", out, x, weight);
        positive("no_norm rows", rows);
        positive("no_norm dim", dim);
        rt.launch(s, "tf_no_norm", st -> (int) noNorm.invokeExact(p(out), p(residual), p(x), p(weight), p(bias), rows, dim, t.tfCode(), st));
    }

    /**
     * Bidirectional varlen attention prefill with a symmetric window (0: none; key j visible from query i when
     * |i - j| &lt; window) and ALiBi slopes (F32 [heads] on the device, or 0): tf_attention_prefill_* with causal 0.
     * Head dims, strides and alignment as {@link #attentionPrefill}.
     */
    public void attentionPrefillMasked(GpuStream s, long q, long k, long v, long o, long cuSeqlens, int batch, int maxSeqlen, int heads,
                                       int kvHeads, int headDim, long qStride, long kvStride, float scale, int window, long alibiSlopes,
                                       DType t) {
        nonNull("attention prefill", q, k, v, o, cuSeqlens);
        checkHeads(heads, kvHeads);
        if (!supportsPrefillHeadDim(headDim)) {
            throw new IllegalArgumentException("attention prefill supports head dim " + Arrays.toString(PREFILL_HEAD_DIMS) + ", got " + headDim);
        }
        checkWindowSoftcap("attention prefill", window, 0f);
        positive("attention prefill batch", batch);
        positive("attention prefill max_seqlen_q", maxSeqlen);
        checkRowStride("attention prefill q", qStride, (long) heads * headDim);
        checkRowStride("attention prefill k/v", kvStride, (long) kvHeads * headDim);
        aligned16("attention prefill", q, k, v, o);
        MethodHandle h = half(t, prefillF16, prefillBf16);
        rt.launch(s, "tf_attention_prefill_" + name(t), st -> (int) h.invokeExact(p(q), p(k), p(v), p(o), MemorySegment.NULL,
                p(cuSeqlens), p(cuSeqlens), batch, maxSeqlen, heads, kvHeads, headDim, qStride, kvStride, scale,
                0, window, 0f, p(alibiSlopes), st));
    }

    // ---- encoder-decoder (seq2seq) ------------------------------------------------------------

    /** Largest head dimension of {@link #attentionRelBias} (8 elements per lane of one warp). */
    public static final int MAX_REL_BIAS_HEAD_DIM = 256;

    private final MethodHandle attentionRelBias;

    /**
     * Attention over key spans with a relative-position bias (tf_attention_rel_bias, rel_bias_attention.cuh): q, out
     * [tokens][heads * headDim], k, v [rows][kvHeads * headDim] of {@code t}; spans I32 [tokens][3] on the device
     * (checked by the caller against k's rows); bias 0 (none) or F32 [heads][2 radius + 1].
     */
    public void attentionRelBias(GpuStream s, long q, long k, long v, long out, long spans, long bias, int radius, int tokens,
                                 int heads, int kvHeads, int headDim, float scale, DType t) {
        nonNull("relative-bias attention", q, k, v, out, spans);
        if (headDim < 1 || headDim > MAX_REL_BIAS_HEAD_DIM) {
            throw new IllegalArgumentException("relative-bias attention: head dim " + headDim + " outside 1.." + MAX_REL_BIAS_HEAD_DIM);
        }
        rt.launch(s, "tf_attention_rel_bias", st -> (int) attentionRelBias.invokeExact(p(q), p(k), p(v), p(out), p(spans), p(bias),
                radius, tokens, heads, kvHeads, headDim, scale, t.tfCode(), st));
    }

    // ---- RWKV (issue 17): tf_rwkv_* of transfuse.h section 2e ------------------------------------------

    /** Head sizes of the WKV kernels (one block of that many threads per head). */
    public static final int[] WKV_HEAD_SIZES = {32, 64};

    /** RWKV token shift over one sequence [tokens][dim]; the state [dim] of {@code t} is advanced. */
    public void rwkvTokenShift(GpuStream s, long out, long state, long x, int tokens, int dim, boolean fresh, DType t) {
        nonNull("rwkv_token_shift", out, state, x);
        positive("rwkv_token_shift tokens", tokens);
        positive("rwkv_token_shift dim", dim);
        rt.launch(s, "tf_rwkv_token_shift", st -> (int) rwkvTokenShift.invokeExact(p(out), p(state), p(x), tokens, dim, fresh ? 1 : 0,
                t.tfCode(), st));
    }

    /** out = x + sx * (mix + bias): mix of 1 or {@code tokens} rows, bias 0 for none. */
    public void rwkvTokenMix(GpuStream s, long out, long x, long sx, long mix, int mixRows, long bias, int tokens, int dim, DType t) {
        nonNull("rwkv_token_mix", out, x, sx, mix);
        positive("rwkv_token_mix tokens", tokens);
        positive("rwkv_token_mix dim", dim);
        if (mixRows != 1 && mixRows != tokens) throw new IllegalArgumentException("rwkv_token_mix: mix has " + mixRows + " rows, not 1 or " + tokens);
        rt.launch(s, "tf_rwkv_token_mix", st -> (int) rwkvTokenMix.invokeExact(p(out), p(x), p(sx), p(mix), mixRows, p(bias), tokens, dim,
                t.tfCode(), st));
    }

    /** In place x = fn(x) over n values (fn a TF_RWKV_* code). */
    public void rwkvPointwise(GpuStream s, long x, long n, int fn, DType t) {
        nonNull("rwkv_pointwise", x);
        if (n <= 0) throw new IllegalArgumentException("rwkv_pointwise: n must be positive, got " + n);
        if (fn < 0 || fn > 3) throw new IllegalArgumentException("rwkv_pointwise: unknown function code " + fn);
        rt.launch(s, "tf_rwkv_pointwise", st -> (int) rwkvPointwise.invokeExact(p(x), n, fn, t.tfCode(), st));
    }

    /** RWKV-6 WKV with the head group norm over one sequence: see tf_rwkv_wkv6. state and u fp32. */
    public void rwkvWkv6(GpuStream s, long out, long state, long r, long k, long v, long w, long u, long lnW, long lnB, int tokens,
                         int heads, int headSize, float eps, DType t) {
        nonNull("rwkv_wkv6", out, state, r, k, v, w, u, lnW, lnB);
        checkWkv("rwkv_wkv6", tokens, heads, headSize);
        rt.launch(s, "tf_rwkv_wkv6", st -> (int) rwkvWkv6.invokeExact(p(out), p(state), p(r), p(k), p(v), p(w), p(u), p(lnW), p(lnB),
                tokens, heads, headSize, eps, t.tfCode(), st));
    }

    /** RWKV-7 WKV with the head group norm and bonus over one sequence: see tf_rwkv_wkv7. vFirst and vMix both 0 or both set. */
    public void rwkvWkv7(GpuStream s, long out, long state, long r, long w, long k, long v, long a, long vFirst, long vMix, long kK,
                         long kA, long rK, long lnW, long lnB, int tokens, int heads, int headSize, float eps, DType t) {
        nonNull("rwkv_wkv7", out, state, r, w, k, v, a, kK, kA, rK, lnW, lnB);
        if ((vFirst == 0) != (vMix == 0)) throw new IllegalArgumentException("rwkv_wkv7: vFirst and vMix must both be given or both be 0");
        checkWkv("rwkv_wkv7", tokens, heads, headSize);
        rt.launch(s, "tf_rwkv_wkv7", st -> (int) rwkvWkv7.invokeExact(p(out), p(state), p(r), p(w), p(k), p(v), p(a), p(vFirst), p(vMix),
                p(kK), p(kA), p(rK), p(lnW), p(lnB), tokens, heads, headSize, eps, t.tfCode(), st));
    }

    private static void checkWkv(String op, int tokens, int heads, int headSize) {
        positive(op + " tokens", tokens);
        positive(op + " heads", heads);
        if (Arrays.stream(WKV_HEAD_SIZES).noneMatch(h -> h == headSize)) {
            throw new IllegalArgumentException(op + ": head size " + headSize + " is not one of " + Arrays.toString(WKV_HEAD_SIZES));
        }
    }

    // ---- seq2seq decoder on the paged KV cache (issue 17) ---------------------------------------

    private final MethodHandle attentionRelBiasPaged;

    /**
     * A seq2seq decoder's causal self-attention over its paged KV cache with a relative-position bias
     * (tf_attention_rel_bias_paged, rel_bias_attention.cuh): q, out [tokens][heads * headDim] and the caches of
     * {@code t}; blockTables I32 [tokens][maxBlocks] and positions I32 [tokens] on the device (checked by the caller:
     * each position inside its table); bias 0 (none) or F32 [heads][2 radius + 1].
     */
    public void attentionRelBiasPaged(GpuStream s, long q, long kCache, long vCache, long out, long blockTables, long positions, long bias,
                                      int radius, int tokens, int heads, int kvHeads, int headDim, int blockSize, int maxBlocks,
                                      float scale, DType t) {
        nonNull("paged relative-bias attention", q, kCache, vCache, out, blockTables, positions);
        if (headDim < 1 || headDim > MAX_REL_BIAS_HEAD_DIM) {
            throw new IllegalArgumentException("paged relative-bias attention: head dim " + headDim + " outside 1.." + MAX_REL_BIAS_HEAD_DIM);
        }
        positive("paged relative-bias attention block size", blockSize);
        positive("paged relative-bias attention max blocks", maxBlocks);
        rt.launch(s, "tf_attention_rel_bias_paged", st -> (int) attentionRelBiasPaged.invokeExact(p(q), p(kCache), p(vCache), p(out),
                p(blockTables), p(positions), p(bias), radius, tokens, heads, kvHeads, headDim, blockSize, maxBlocks, scale,
                t.tfCode(), st));
    }

    @FunctionalInterface
    private interface Binder {
        MethodHandle bind(String name, FunctionDescriptor fd);
    }
}
