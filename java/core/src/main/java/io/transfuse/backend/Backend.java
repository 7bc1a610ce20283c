package io.transfuse.backend;

import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

/**
 * The op set every model graph is written against, once, for every device: {@code cpu}
 * (libtransfuse_cpu), {@code cuda} and {@code cuda-emu} (the CUDA kernels on a GPU or on the host
 * emulator). A backend owns the memory it hands out ({@link #allocate}, {@link #upload},
 * {@link #weight}) and frees it all when closed; one backend serves one loaded model.
 *
 * <p>Tensors are matrices of {@code rows x cols} ({@link Tensor#rows()}, {@link Tensor#cols()}), row-major;
 * a weight is [out][in]. Shapes are taken from the tensors, so a call reads like its equation. Activations
 * are of {@link #activationType()} (F32 on the CPU, F16 or BF16 on a GPU, accumulating in F32); token ids,
 * positions and tables are I32; logits may be F32 on any backend. Unless an op says otherwise its tensors
 * are contiguous and must not overlap. Arguments are checked before any native call: a bad call is an
 * {@link IllegalArgumentException} naming the argument, never a crash.
 */
public interface Backend extends AutoCloseable {
    /** {@code cpu}, {@code cuda} or {@code cuda-emu}. */
    String name();

    /** Element type of activations and uploaded parameters on this backend. */
    DType activationType();

    /**
     * Element type of the paged KV cache ({@code KvCache} allocates its layers with it; {@link #ropeKv} writes
     * it and {@link #attention} reads it). By default the activation type (a GPU's F16 or BF16); the CPU
     * keeps F32 activations but an F16 cache, as batched decode there is bound by reading the cache.
     */
    default DType kvCacheType() { return activationType(); }

    // ---- memory -------------------------------------------------------------------------------

    /**
     * Bytes the model's state (KV cache, recurrent state slots) may take on this backend, checked before they are
     * allocated ({@code io.transfuse.model.MemoryBudget}): on the CPU the machine's memory (the cache is committed as
     * it fills), on a GPU the device memory free at the time. Default: no limit known.
     */
    default long memoryAvailable() { return Long.MAX_VALUE; }

    /** Zero-filled memory of {@code type} and {@code shape}, owned by this backend. {@code name} appears in errors. */
    Tensor allocate(String name, DType type, long... shape);

    /** A copy of the host tensor {@code host} converted to {@code type} (F32, F16 or BF16; from any stored type). */
    Tensor upload(Tensor host, DType type);

    /** How a graph multiplies by a weight, so that {@link #weight} can choose its layout. */
    enum WeightUse {
        /**
         * Mostly a few rows per call, kept as stored: embedding tables (read by {@link #gatherRows}, and by
         * {@link #matmul} as a head tied to them). The CPU keeps the stored type and reads it in place.
         */
        STREAMED,
        /**
         * A decoder's matrices: multiplied by one row per sequence at each decode step (a batch of sequences:
         * a few rows per call) and by prefill chunks. The whole weight streams once per step, so the backend may
         * repack it for its kernels only where the bytes read per step do not grow (the CPU: F32 into column
         * panels, whose kernel is as fast as plain rows for one token and ~1.8x faster for 16).
         */
        DECODE,
        /** Many rows per call (encoders, vision): the backend may repack for its fastest compute-bound kernel. */
        BATCHED
    }

    /**
     * The weight [out][in] (or an embedding table) in the form this backend's {@link #matmul} and
     * {@link #gatherRows} read best: the host tensor itself (the CPU reading a memory-mapped file in place),
     * a repacked copy, or a copy on the device. As the result may be {@code host} itself, the host memory
     * must stay valid while this backend is open (a mapped file, or a copy in the model's arena).
     */
    Tensor weight(Tensor host, WeightUse use);

    /** Writes {@code values[from, from + count)} into the first {@code count} elements of the I32 tensor {@code dst}. */
    void write(Tensor dst, int[] values, int from, int count);

    /** Writes {@code values[from, from + count)} into the first {@code count} elements of {@code dst}, converted to its type. */
    void write(Tensor dst, float[] values, int from, int count);

    /** Reads the first {@code count} elements of {@code src} (contiguous) as floats into {@code dst[at, at + count)}. */
    void read(Tensor src, float[] dst, int at, int count);

    /**
     * The head dimension this backend's attention runs at for a model's {@code headDim}: the head dim
     * itself, or a larger supported one, in which case the graph pads each head with zeros
     * ({@link io.transfuse.model.HeadPadding}). {@code paged}: the KV-cache ops, else {@link #attentionVarlen}.
     */
    int attentionHeadDim(int headDim, boolean paged);

    /**
     * Runs {@code step}, a fixed sequence of ops. A GPU backend records the step's launches at the first
     * call for {@code key} and replays the recording for later calls (a CUDA graph), so the step must
     * launch the same ops on the same tensors every time; only the contents of tensors written before the
     * call (token ids, positions, tables) may change. The CPU runs it.
     */
    void replay(Object key, Runnable step);

    /** Frees everything this backend allocated. */
    @Override
    void close();

    // ---- dense ----------------------------------------------------------------------------------

    /**
     * {@code out[t][o] = sum_i w[o][i] x[t][i]}: x [n][in] of the activation type, w [out][in] from
     * {@link #weight}, out [n][out] of the activation type or F32.
     */
    void matmul(Tensor out, Tensor x, Tensor w);

    /** A Linear layer, {@code out = act(x w^T + bias)}; bias [out] may be null. As {@link #matmul}, with the bias and activation fused where the backend can. */
    void linear(Tensor out, Tensor x, Tensor w, Tensor bias, Activation act);

    /** In place {@code x[r] = act(x[r] + bias)} over [rows][cols]; bias [cols] may be null. */
    void biasAct(Tensor x, Tensor bias, Activation act);

    /** {@code out = a + b} elementwise (same shapes); out may be a or b. */
    void add(Tensor out, Tensor a, Tensor b);

    /**
     * {@code out[t] = table[rows[t]]}: an embedding lookup (table [vocab][dim] from {@link #upload} or
     * {@link #weight}), or a gather of activation rows. rows: I32 [n]; out [n][dim] of the activation type.
     */
    void gatherRows(Tensor out, Tensor table, Tensor rows);

    /**
     * RMSNorm with the residual add fused: with {@code residual} null, {@code h = x}; else
     * {@code residual += x} and {@code h} is the new residual. {@code out = h / sqrt(mean(h^2) + eps) * weight}.
     * out may be x or residual.
     */
    void rmsNorm(Tensor out, Tensor residual, Tensor x, Tensor weight, float eps);

    /** LayerNorm with the residual contract of {@link #rmsNorm}: {@code out = (h - mean) / sqrt(var + eps) * weight + bias}; bias may be null. */
    void layerNorm(Tensor out, Tensor residual, Tensor x, Tensor weight, Tensor bias, float eps);

    /** Gated linear unit {@code out = act(gate) * up} elementwise over [n][ffn]; out may be gate or up. */
    void glu(Tensor out, Tensor gate, Tensor up, Activation act);

    // ---- attention ------------------------------------------------------------------------------

    /**
     * Rotary embedding fused with the paged KV-cache write, for the tokens of {@code batch}: q
     * [n][heads * headDim] is rotated in place, k [n][kvHeads * headDim] is rotated (k itself may or may not
     * be: backends leave it as {@link #attention} wants it) and stored with v into {@code cache} at each
     * token's sequence and position. {@code rope} with rotary dim 0 stores k unrotated (learned positions).
     */
    void ropeKv(Tensor q, Tensor k, Tensor v, KvLayer cache, Rope rope, Heads heads, DecoderBatch batch);

    /**
     * Causal attention of each token of {@code batch} over its own sequence's cached keys and values
     * (positions 0 .. its position p, all already in {@code cache} after {@link #ropeKv}; with a sliding window
     * only the keys j with {@code p - j < spec.window()}): {@code out = softmax(cap(spec.scale() q k^T)) v},
     * cap the identity or {@code spec.softcap()}'s tanh soft-cap ({@link AttentionSpec}); q and out
     * [n][heads * headDim]. k and v are the batch's own rows after {@link #ropeKv}: a backend may read them
     * instead of the cache when every sequence of the batch starts at position 0.
     */
    void attention(Tensor out, Tensor q, Tensor k, Tensor v, KvLayer cache, Heads heads, DecoderBatch batch, AttentionSpec spec);

    /**
     * Attention within each sequence of a packed batch ({@code batch}'s sequence b owns rows
     * {@code cuSeqlens[b] .. cuSeqlens[b+1]-1}), causal or bidirectional. q, k and v may be column views of
     * one fused QKV tensor (their row strides apart); out [n][heads * headDim] is contiguous.
     */
    void attentionVarlen(Tensor out, Tensor q, Tensor k, Tensor v, Heads heads, EncoderBatch batch, float scale, boolean causal);

    /**
     * Swin's window multi-head self-attention (W-MSA, or SW-MSA when {@code grid.shift() > 0}) over one image's
     * tokens, the {@code grid} row-major: the grid rolled by {@code -shift} is cut into windows and every token
     * attends to the tokens of its window, {@code out = softmax(scale q k^T + B + M) v} per head, B the
     * relative position bias {@code bias[(yi - yj + w - 1)(2w - 1) + xi - xj + w - 1][head]} (HF's
     * relative_position_bias_table, F32 [(2w-1)^2][heads]) and M = -100 between tokens of different regions of
     * the shifted grid (Swin's attention mask). Each output lands in its token's own row (the roll and the window
     * partition are undone). q, k, v [tokens][heads * headDim] may be column views of one QKV tensor (one row
     * stride); out is contiguous. {@code logitScale} null: scores {@code scale q k^T} (Swin V1); else Swin-V2's cosine
     * attention, {@code logitScale[head] cos(q, k)} (q and k divided by max(norm, 1e-12) per head; F32 [heads], the
     * caller's exp(min(logit_scale, ln 100))) and {@code scale} unused.
     */
    void windowAttention(Tensor out, Tensor q, Tensor k, Tensor v, Tensor bias, Tensor logitScale, WindowGrid grid, int heads,
                         float scale);
    // ---- convolution ----------------------------------------------------------------------------

    /**
     * 2-D convolution, NHWC ({@link Conv2d} gives the geometry): x [batch * height * width][inChannels],
     * weight [outChannels][kernelH * kernelW * inChannels / groups] (PyTorch's OIHW weight permuted to OHWI:
     * {@code io.transfuse.backend.Conv2dWeights}), bias [outChannels] or null, out [batch * outHeight * outWidth]
     * [outChannels]: {@code out = relu?(conv(x, weight) + bias)} with ReLU when {@code relu}. Weight and bias of
     * the activation type ({@link #upload}); out must not overlap x. A feature map is thus [pixels][channels],
     * the rows and columns of every other op (DETR reads the backbone's output as tokens as it is).
     */
    void conv2d(Tensor out, Tensor x, Tensor weight, Tensor bias, Conv2d conv, boolean relu);

    // ---- state-space (Mamba) --------------------------------------------------------------------

    /**
     * Causal depthwise conv1d over one sequence's x [n][dim] (token-major), width w = weight's cols
     * (weight [dim][w] F32 on the CPU, activation type on a GPU; bias [dim] or null), SiLU on the output
     * when {@code silu}; the w-1 inputs before token 0 come from {@code state} [dim][w-1] (oldest first),
     * which is advanced. {@code freshState}: the state is known to be zeros (a new sequence), which lets a
     * backend skip reading it. out may be x.
     */
    void causalConv1d(Tensor out, Tensor x, Tensor state, Tensor weight, Tensor bias, boolean silu, boolean freshState);

    /**
     * The Mamba-1 selective scan over one sequence, token-major, carrying {@code state} [dim][dstate] (F32):
     * per token {@code dt = softplus(delta + deltaBias)} (plain sum unless {@code softplus}),
     * {@code state = exp(dt A) state + dt B u}, {@code out = (state . C + D u) * silu(z)}. u, delta, z, out
     * [n][dim]; B, C [n][dstate]; A [dim][dstate], D and deltaBias [dim] (F32). D, z and deltaBias may be
     * null. out may be u, delta or z. {@code freshState} as for {@link #causalConv1d}.
     */
    void selectiveScan(Tensor out, Tensor state, Tensor u, Tensor delta, Tensor a, Tensor b, Tensor c, Tensor d, Tensor z,
                       Tensor deltaBias, boolean softplus, boolean freshState);

    /**
     * The Mamba-2 SSD scan (Dao &amp; Gu 2024) over one sequence, token-major, carrying {@code state}
     * [heads * headDim][dstate] (F32; head h's rows h*headDim ..). heads = dt's cols, headDim = x's cols / heads,
     * dstate = state's cols, groups = b's cols / dstate (head h reads group h / (heads / groups)). Per token t
     * and head h: {@code dt = softplus(dt[t][h] + dtBias[h])}, {@code state[h] = exp(dt A[h]) state[h] + dt x[t][h] B[t][g]^T},
     * {@code out[t][h] = state[h] C[t][g] + D[h] x[t][h]}. x, out [n][heads * headDim]; dt [n][heads]; B, C
     * [n][groups * dstate]; A, D, dtBias [heads] (F32; D and dtBias may be null). A backend runs many tokens in
     * the chunked form and one token as the recurrence; the results agree up to rounding. out overlaps nothing.
     * {@code freshState} as for {@link #causalConv1d}.
     */
    void ssdScan(Tensor out, Tensor state, Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor d, Tensor dtBias,
                 boolean freshState);

    /**
     * Gated RMSNorm (the Mamba-2 mixer norm): per row and group of {@code groupSize} columns,
     * {@code v = x * silu(z)}, {@code out = v / sqrt(mean(v^2 over the group) + eps) * weight}. out, x, z
     * [n][dim] (dim a multiple of groupSize), weight [dim]. out may be x or z.
     */
    void gatedRmsNorm(Tensor out, Tensor x, Tensor z, Tensor weight, int groupSize, float eps);

    // ---- DETR (object detection): max pooling, cross-attention -----------------------------------

    /**
     * 2-D max pooling, NHWC, PyTorch's {@code MaxPool2d} (DETR's ResNet stem: 3x3, stride 2, padding 1): {@code pool} is
     * the geometry as for {@link #conv2d} with {@code inChannels == outChannels} (the channels; groups unused), padding at
     * most half the kernel. x [batch * height * width][channels], out [batch * outHeight * outWidth][channels] of the
     * activation type: each output the maximum of its window's taps inside the image. out must not overlap x.
     */
    void maxPool2d(Tensor out, Tensor x, Conv2d pool);

    /**
     * Cross-attention (DETR's decoder reading the encoder's memory): the queries of sequence b of {@code queries} attend
     * to every key of sequence b of {@code keys}, {@code out = softmax(scale q k^T) v} per head, no mask. q and out
     * [queries.tokens()][heads * headDim], k and v [keys.tokens()][kvHeads * headDim], all contiguous. Both batches hold
     * the same number of sequences.
     */
    void crossAttention(Tensor out, Tensor q, Tensor k, Tensor v, Heads heads, EncoderBatch queries, EncoderBatch keys, float scale);

    // ---- BERT variants (MobileBERT, ModernBERT, nomic-bert, JinaBERT) ------------------------------------

    /**
     * MobileBERT's NoNorm (Sun et al. 2020; HF {@code NoNorm}: {@code x * weight + bias}) with the residual contract of
     * {@link #layerNorm}: with {@code residual} null {@code h = x}, else {@code residual += x} and h is the new residual;
     * {@code out = h * weight + bias} elementwise per row (weight and bias [cols]; bias may be null). out may be x or residual.
     */
    void noNorm(Tensor out, Tensor residual, Tensor x, Tensor weight, Tensor bias);

    /**
     * Rotary position embedding in place on an encoder's q [n][heads * headDim] and k [n][kvHeads * headDim] (contiguous,
     * {@code heads.headDim()} the head width they are laid out in), token t at position {@code positions[t]} (I32 [n], e.g.
     * {@link EncoderBatch#positions()}): as {@link #ropeKv} rotates, without a cache. {@code rope} must rotate (rotary dim
     * &gt; 0, at most the head dim); values past the rotary dim are left alone.
     */
    void rope(Tensor q, Tensor k, Tensor positions, Rope rope, Heads heads);

    /**
     * Bidirectional {@link #attentionVarlen} with the masks of the newer encoders: {@code window > 0} lets query i see key
     * j of its sequence only when {@code |i - j| < window} (ModernBERT's local layers: {@code local_attention / 2 + 1}),
     * and {@code alibiSlopes} (F32 [heads] from {@link #upload}, or null) adds {@code -slope[h] |i - j|} to the scaled
     * score (ALiBi, Press et al. 2022, symmetric as JinaBERT uses it). Layout as {@link #attentionVarlen}.
     */
    void attentionVarlenMasked(Tensor out, Tensor q, Tensor k, Tensor v, Heads heads, EncoderBatch batch, float scale, int window,
                               Tensor alibiSlopes);
    // ---- encoder-decoder (seq2seq: T5, BART, Marian) ----------------------------------------------

    /**
     * Attention of each query token over its own span of key rows, with an optional additive per-head bias by
     * relative position (T5's relative attention bias): for token t with span (first, count, i) = {@code spans}
     * row t ({@link KeySpans}), {@code out[t][h] = sum_j softmax_j(scale q[t][h] . k[first+j] + B[h][clamp(j - i, -R, R) + R]) v[first+j]}
     * over j = 0 .. count-1, with {@code B = bias} F32 [heads][2R + 1] (R = {@code biasRadius}) or no bias when null.
     * Causal or bidirectional is the caller's choice of count; cross-attention points at the encoder output's rows,
     * which any number of decoder rows (beam hypotheses) may share. q, out [n][heads * headDim]; k, v [rows][kvHeads *
     * headDim], all contiguous, of the activation type; out overlaps no input. A span with count 0 gives zeros.
     */
    void attentionRelBias(Tensor out, Tensor q, Tensor k, Tensor v, KeySpans spans, Tensor bias, int biasRadius, Heads heads,
                          float scale);
    // ---- RWKV (issue 17: RWKV-6 "Finch", RWKV-7 "Goose"; RwkvChecks checks the arguments) --------------

    /**
     * RWKV's token shift over one sequence's x [n][dim]: {@code out[t] = prev[t] - x[t]} with {@code prev[0] = state}
     * (zeros when {@code freshState}) and {@code prev[t] = x[t-1]}; then {@code state = x[n-1]}. state [1][dim] of
     * the activation type. out overlaps neither x nor state.
     */
    void tokenShift(Tensor out, Tensor x, Tensor state, boolean freshState);

    /**
     * RWKV's token mix (lerp): {@code out[t] = x[t] + sx[t] * (mix[t] + mixBias)} over [n][dim]; mix [n][dim], or
     * [1][dim] for every row; mixBias [dim] or null. out may be x, sx or mix.
     */
    void tokenMix(Tensor out, Tensor x, Tensor sx, Tensor mix, Tensor mixBias);

    /** In place {@code x = fn(x)} elementwise over a contiguous [n][cols] ({@link Pointwise}). */
    void pointwise(Tensor x, Pointwise fn);

    /**
     * The RWKV-6 WKV recurrence over one sequence with the head group norm (ln_x) fused. Heads of S = u's cols
     * channels; state [heads * S][S] (F32; head h's rows h*S.., row i the value channel, column j the key channel).
     * Per token and head: {@code d_j = exp(-exp(w_j))}, {@code y_i = sum_j r_j (u_j k_j v_i + S[i][j])},
     * {@code S[i][j] = S[i][j] d_j + k_j v_i}, {@code out = groupnorm(y) * lnWeight + lnBias} (mean and biased variance
     * over the head, eps). r, k, v, w, out [n][heads * S]; u [heads][S] F32; lnWeight, lnBias [heads * S]. out
     * overlaps nothing. {@code freshState}: the state is zeros (a new sequence).
     */
    void wkv6(Tensor out, Tensor state, Tensor r, Tensor k, Tensor v, Tensor w, Tensor u, Tensor lnWeight, Tensor lnBias,
              float eps, boolean freshState);

    /**
     * The RWKV-7 WKV recurrence (the generalised delta rule) over one sequence, with what surrounds it per head
     * fused: {@code d_j = exp(-0.606531 sigmoid(w_j))}, {@code a_j = sigmoid(a_j)}, the value residual
     * {@code v_i += (vFirst_i - v_i) sigmoid(vMix_i)} (vFirst and vMix both null in layer 0),
     * {@code kk = l2normalize(k * kK)}, {@code k_j *= 1 + (a_j - 1) kA_j}; then {@code sa_i = -sum_j kk_j S[i][j]},
     * {@code S[i][j] = S[i][j] d_j + k_j v_i + sa_i kk_j a_j}, {@code y_i = sum_j S[i][j] r_j} and
     * {@code out = groupnorm(y) * lnWeight + lnBias + (sum_j r_j k_j rK_j) v}. Heads of S = state's cols; state
     * [heads * S][S] F32 as for {@link #wkv6}; r, w, k, v, a, vFirst, vMix, out [n][heads * S]; kK, kA, rK,
     * lnWeight, lnBias [heads * S]. out overlaps nothing.
     */
    void wkv7(Tensor out, Tensor state, Tensor r, Tensor w, Tensor k, Tensor v, Tensor a, Tensor vFirst, Tensor vMix, Tensor kK,
              Tensor kA, Tensor rK, Tensor lnWeight, Tensor lnBias, float eps, boolean freshState);
    // ---- seq2seq decoder on the paged KV cache (issue 17: T5/BART/Marian self-attention over KV blocks) ---------

    /**
     * {@link #attentionRelBias} for a seq2seq decoder's self-attention over its paged KV cache: token t of {@code batch}
     * at position p (its {@link DecoderBatch#positions()} entry) attends causally to keys j = 0 .. p of its own
     * sequence, key j at block {@code batch.tokenBlockTables()[t][j / blockSize]}, slot {@code j % blockSize} of
     * {@code cache} (written there by {@link #ropeKv} with {@link Rope#NONE}):
     * {@code out[t][h] = sum_j softmax_j(scale q[t][h] . k_j + B[h][clamp(j - p, -R, R) + R]) v_j}, B = {@code bias}
     * F32 [heads][2R + 1] (R = {@code biasRadius}) or no bias when null. q, out [n][heads * headDim] contiguous; the
     * cache of q's element type (the activation type), not the decoders' {@link #kvCacheType()}. Sequences may share
     * blocks (forked beam hypotheses): the op only reads the cache.
     */
    void attentionRelBiasPaged(Tensor out, Tensor q, KvLayer cache, DecoderBatch batch, Tensor bias, int biasRadius, Heads heads,
                               float scale);
}
