/*
 * transfuse.h: the one C ABI that Java binds (through Panama). Stable and documented.
 *
 * Conventions
 *  - All pointers are raw addresses owned by Java (arenas, mapped files, device pools).
 *    No function here allocates memory that outlives the call or keeps a pointer.
 *  - Matrices are row-major. A weight matrix W of a linear layer is [out][in], as stored by
 *    GGUF and safetensors, so y = W x is a dot product of each row with x.
 *  - Functions returning int return 0 on success and a nonzero error code otherwise.
 *
 * Sections (each has one owner; keep declarations inside your own section):
 *   0. Shared constants (activations, RoPE layouts)         prefix TF_ACT_, TF_ROPE_
 *   1. CPU backend (libtransfuse_cpu)                       prefix tf_cpu_
 *   2. CUDA kernel launchers (libtransfuse_cuda / _emu)      prefix tf_
 *   3. Emulated runtime (libtransfuse_emu)                   prefix tf_emu_
 */
#ifndef TRANSFUSE_H
#define TRANSFUSE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ==== 0. Shared constants ================================================================ */
/* Elementwise activations, the same codes for the CPU ops and the CUDA kernels
 * (io.transfuse.backend.Activation). */
#define TF_ACT_SILU 0      /* x * sigmoid(x) */
#define TF_ACT_GELU_TANH 1 /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
#define TF_ACT_GELU_ERF 2  /* 0.5 x (1 + erf(x / sqrt(2))) */
#define TF_ACT_IDENTITY 3  /* x */
#define TF_ACT_RELU 4      /* max(x, 0) (NaN stays NaN) */
/* Rotary-embedding pair layouts, the same for the CPU ops and the CUDA kernels
 * (io.transfuse.backend.RopeLayout, in this order). */
#define TF_ROPE_ADJACENT 0   /* pairs (x[2i], x[2i+1]): GGUF / Meta / GPT-J */
#define TF_ROPE_HALF_SPLIT 1 /* pairs (x[i], x[i + rotary_dim/2]): Hugging Face / GPT-NeoX */

/* ==== 1. CPU backend ==================================================================== */
/* (section: CPU backend) */
/*
 * libtransfuse_cpu: optimised CPU kernels (its own thread pool + SIMD). All activations are f32,
 * row-major; `tokens` rows of `dim` values are contiguous. Weight matrices are [out][in] in a
 * GGML type: TF_CPU_F32 0, TF_CPU_F16 1, TF_CPU_Q4_0 2, TF_CPU_Q8_0 8, TF_CPU_BF16 30
 * (Q8_0 block: f16 scale + 32 int8; Q4_0 block: f16 scale + 16 bytes, element j in the low
 * nibble of byte j and element j+16 in the high nibble, value (q - 8) * scale).
 * Functions do not validate their arguments (the Java binding does); they never allocate on
 * the heap per call. The instruction set (generic x86-64, AVX2+FMA+F16C, AVX-512) is chosen
 * once at load time, or forced by the environment variable TRANSFUSE_CPU_ISA=generic|avx2|avx512.
 */
#define TF_CPU_F32 0
#define TF_CPU_F16 1
#define TF_CPU_Q4_0 2
#define TF_CPU_Q8_0 8
#define TF_CPU_BF16 30
/* The other ggml block types, read in place by matmul and embedding (layouts: ggml-common.h, summarised
 * in native/cpu/quant_blocks.h). Rows hold whole blocks: 32 elements for Q4_1/Q5_0/Q5_1, 256 for the
 * K-quants. matmul quantises x to int8 per 256 elements (d = max|x|/127) for them. */
#define TF_CPU_Q4_1 3
#define TF_CPU_Q5_0 6
#define TF_CPU_Q5_1 7
#define TF_CPU_Q4_K 12
#define TF_CPU_Q5_K 13
#define TF_CPU_Q6_K 14
/* F32 weights repacked by tf_cpu_pack_f32 into column panels (not a GGML type; only matmul reads it). */
#define TF_CPU_F32_PANELS 200
/* Output columns per panel of TF_CPU_F32_PANELS (the same for every instruction set). */
#define TF_CPU_PANEL 32
/* F32 weights split by tf_cpu_pack_f32_amx into three bf16 parts in AMX tile order (not a GGML type;
 * only matmul reads it). */
#define TF_CPU_F32_AMX 201
/* Q8_0 / Q4_0 weights repacked by tf_cpu_pack_rows16 into groups of 16 rows (not GGML types; matmul and
 * embedding read them). */
#define TF_CPU_Q8_0_R16 202
#define TF_CPU_Q4_0_R16 203

#define TF_CPU_ISA_GENERIC 0
#define TF_CPU_ISA_AVX2 1
#define TF_CPU_ISA_AVX512 2

/* Largest head_dim of tf_cpu_rope_kv_cache and the attention ops. */
#define TF_CPU_MAX_HEAD_DIM 1024

/* ABI version of this section (3: tf_cpu_attention_paged takes softcap; 4: the paged KV cache's element type,
 * kv_type, in tf_cpu_rope_kv_cache and tf_cpu_attention_paged). */
int tf_cpu_version(void);

/* Threads the ops use, the caller included (n >= 1; default: the processors this process may run on). */
void tf_cpu_set_threads(int n);
int tf_cpu_get_threads(void);

/* Forces an instruction set (TF_CPU_ISA_*); returns it, or -1 (and changes nothing) when this
 * CPU lacks it. Not thread-safe with running ops: for tests and benchmarks. */
int tf_cpu_set_isa(int isa);
/* The instruction set in use (TF_CPU_ISA_*), and the best one this CPU supports. */
int tf_cpu_get_isa(void);
int tf_cpu_best_isa(void);

/* -- matmul -- */

/* out[t*out_dim + o] = sum_i W[o][i] * x[t*in_dim + i]; W [out_dim][in_dim] of type w_type
 * (in_dim % 32 == 0 for Q8_0/Q4_0). out must not overlap x or w.
 * With Q8_0/Q4_0 weights x is quantised first, per block of 32: d = max|x| / 127 (f32),
 * q = x * (127 / max|x|) rounded to nearest even (|q| <= 127), and x is used as d * q
 * (integer dot products per block, scaled by d_w * d_x, summed in f32). */
void tf_cpu_matmul(float* out, const float* x, const void* w, int w_type, int tokens, int in_dim, int out_dim);

/* A Linear layer: out[t][o] = act(matmul + bias[o]) (act TF_ACT_*, section 0; bias may be NULL for none).
 * The same result, bit for bit, as tf_cpu_matmul then tf_cpu_bias_act; with TF_CPU_F32_PANELS or
 * TF_CPU_F32_AMX weights the bias and activation are applied to each block of output while it is still
 * in cache, in the matmul's own parallel region. out must not overlap x, w or bias. */
void tf_cpu_matmul_bias(float* out, const float* x, const void* w, int w_type, int tokens, int in_dim, int out_dim,
                        const float* bias, int act);

/* Bytes of W [out_dim][in_dim] f32 in the panel layout: ceil(out_dim / TF_CPU_PANEL) panels, each
 * [in_dim][TF_CPU_PANEL] floats: panel p, row k, column j holds W[p * TF_CPU_PANEL + j][k] (zero past
 * out_dim). Prefill multiplies it with an outer-product register tile, without the per-call repacking that
 * plain F32 weights need; tf_cpu_matmul takes it as w_type TF_CPU_F32_PANELS for any token count. */
long tf_cpu_packed_f32_bytes(int in_dim, int out_dim);
/* Writes W (f32 [out_dim][in_dim]) into dst (tf_cpu_packed_f32_bytes bytes) in the panel layout. */
void tf_cpu_pack_f32(void* dst, const float* w, int in_dim, int out_dim);

/* 1 when tf_cpu_matmul of TF_CPU_F32_AMX weights runs on AMX tiles now (CPU with AMX-BF16, the OS
 * allows it, the AVX-512 instruction set chosen, TRANSFUSE_CPU_AMX not 0); then packing F32 weights
 * with tf_cpu_pack_f32_amx makes prefill faster than the panel layout. Each f32
 * weight and x value is split exactly into three bf16 parts and a product is summed from the six
 * largest partial products, accumulated in f32 (the three left out are below 2^-24 of it): an
 * f32-accurate result, though not bit-identical to a plain f32 loop. Without AMX (e.g. after
 * tf_cpu_set_isa), TF_CPU_F32_AMX weights still work: each column is rebuilt and summed in f32,
 * slowly. */
int tf_cpu_f32_amx_enabled(void);
/* Bytes of W [out_dim][in_dim] f32 in the TF_CPU_F32_AMX layout: out_dim padded to a multiple of
 * 32 and in_dim to a multiple of 32, 6 bytes per element. */
long tf_cpu_packed_f32_amx_bytes(int in_dim, int out_dim);
/* Writes W (f32 [out_dim][in_dim], finite) into dst (tf_cpu_packed_f32_amx_bytes bytes). */
void tf_cpu_pack_f32_amx(void* dst, const float* w, int in_dim, int out_dim);

/* The 16-row-group type the kernels prefer for weights of `type` now, or -1 to keep them as they are:
 * TF_CPU_Q8_0 -> TF_CPU_Q8_0_R16 and TF_CPU_Q4_0 -> TF_CPU_Q4_0_R16 with the AVX-512 instruction set with
 * VNNI chosen (Q8_0 only while AMX int8 is not in use: AMX takes Q8_0 prefill to its own tiles). In these
 * layouts each vpdpbusd lane sums one row's whole 32-element block, 16 rows per vector, with x broadcast:
 * 11 vector instructions per 512 multiply-adds instead of 32 (Q4_0: 3 more per block and group, shared by
 * the tokens), which batched decode (compute-bound from a few sequences on) needs; one token reads the
 * same bytes. The numerics are those of Q8_0 / Q4_0 (x quantised per block as tf_cpu_matmul says, exact
 * int32 block dot products scaled by d_w * d_x and summed in f32 in block order), so every token count
 * and every instruction set gives the same bits for a row. Other instruction sets read the 16-row types
 * correctly, slowly. */
int tf_cpu_rows16_type(int type);
/* Bytes of W [out_dim][in_dim] (in_dim % 32 == 0) in 16-row-group type `type` (TF_CPU_Q8_0_R16 or
 * TF_CPU_Q4_0_R16; -1 for others): ceil(out_dim / 16) groups of 16 rows, each nb = in_dim / 32 blocks of
 * quant bytes (512 for Q8_0, 256 for Q4_0), then nb * 16 f16 scales, then zero padding to a multiple of 64
 * bytes. Q8_0: quant byte 64 * (e / 4) + 4 * j + e % 4 of block b holds element e of block b of row
 * 16 * group + j as q + 128 (unsigned). Q4_0: byte 64 * (f / 4) + 4 * j + f % 4 (f < 16) is byte f of the
 * row's Q4_0 block as stored (element f, q + 8, in the low nibble and element 16 + f in the high one).
 * Scale j of block b is that row's d. Rows past out_dim are q = 0, d = 0. Q8_0 and Q4_0 sizes but for
 * that padding. */
long tf_cpu_packed_rows16_bytes(int type, int in_dim, int out_dim);
/* Writes W (Q8_0 for TF_CPU_Q8_0_R16, Q4_0 for TF_CPU_Q4_0_R16, [out_dim][in_dim]) into dst
 * (tf_cpu_packed_rows16_bytes bytes). */
void tf_cpu_pack_rows16(int type, void* dst, const void* w, int in_dim, int out_dim);

/* -- norms and activations (rows of dim contiguous values) -- */

/* RMSNorm with optional fused residual add (the contract of tf_rmsnorm, section 2b): residual NULL:
 * h = x. Otherwise h = residual + x, written back to residual (the new residual stream), and the norm
 * is taken of that h. out[r] = h[r] / sqrt(mean(h[r]^2) + eps) * weight (sum of squares in double).
 * out may alias x or residual; x and residual must not overlap. */
void tf_cpu_rmsnorm(float* out, float* residual, const float* x, const float* weight, int rows, int dim, float eps);

/* LayerNorm, the same residual contract: out = (h - mean) / sqrt(var + eps) * weight + bias (biased
 * variance; bias NULL: no bias). out may alias x or residual (post-LN: out == residual). */
void tf_cpu_layernorm(float* out, float* residual, const float* x, const float* weight, const float* bias, int rows,
                      int dim, float eps);

/* x[r][i] = act(x[r][i] + bias[i]) in place over [rows][dim] (act TF_ACT_*; bias NULL: no bias).
 * Vectorised forms: SILU x / (1 + exp(-x)), within ~5 ulp; GELU_TANH as x * sigmoid(2u) (the same
 * function), within (4|u| + 8) 2^-24 relative, plus < 5e-39 |x| absolute below x = -10 where
 * exp saturates; GELU_ERF with erf by Abramowitz & Stegun 7.1.26, within 1e-7 |x| + a few ulp. */
void tf_cpu_bias_act(float* x, const float* bias, int rows, int dim, int act);

/* Gated linear unit: out[i] = act(gate[i]) * up[i] over n values (act TF_ACT_SILU, GELU_TANH or
 * GELU_ERF, as tf_cpu_bias_act); out may alias gate or up. */
void tf_cpu_glu(float* out, const float* gate, const float* up, long n, int act);

/* out = a + b over n values; out may alias a or b. */
void tf_cpu_add(float* out, const float* a, const float* b, long n);

/* out[t] = row ids[t] of table [vocab][dim] (type as for matmul, the 16-row types included), as f32. ids are
 * not checked. */
void tf_cpu_embedding(float* out, const void* table, int type, const int32_t* ids, int tokens, int dim);

/* -- attention: a paged KV cache shared with the CUDA kernels (section 2a/2b) --
 * Per layer, k_cache and v_cache are [num_blocks][block_size][n_kv_heads][head_dim] of kv_type:
 * TF_CPU_F32 (floats) or TF_CPU_F16 (IEEE binary16, half the bytes: batched decode reads the whole cache
 * every step and is bound by memory bandwidth). A half cache stores each value rounded to nearest even
 * (with overflow to infinity past 65504, subnormals kept) and widens it to f32 on every read; all
 * arithmetic stays f32. Queries, inputs and outputs are f32 either way. A sequence's
 * position p lives in block block_table[seq][p / block_size], slot p % block_size, with block_table
 * int32 [rows][max_blocks_per_seq]. Query head h reads kv head h / (n_heads / n_kv_heads) (GQA;
 * n_heads % n_kv_heads == 0). head_dim <= TF_CPU_MAX_HEAD_DIM. Blocks, positions and sequence ids are
 * not checked here (the Java binding checks them all). The attention ops keep their scratch on the stack
 * of each thread that runs them (the caller's and the pool's): up to about 200 KiB. */

/* RoPE fused with the cache write (tf_rope_kv_cache's semantics, section 2b): for token t of sequence
 * seq_ids[t] at position p = positions[t], q [tokens][n_heads][head_dim] is rotated in place (q may be
 * NULL), k [tokens][n_kv_heads][head_dim] is rotated (k itself is not modified) and stored, and v is
 * stored unchanged, at block block_table[seq_ids[t] * max_blocks_per_seq + p / block_size], slot
 * p % block_size. Pair i < rotary_dim/2 (layout TF_ROPE_ADJACENT 0: x[2i], x[2i+1]; TF_ROPE_HALF_SPLIT 1:
 * x[i], x[i + rotary_dim/2]) turns by angle = (float)p * inv_freq[i] (in float): c = cosf(angle) * mscale,
 * s = sinf(angle) * mscale, (a, b) -> (a c - b s, a s + b c). Values past rotary_dim (even, <= head_dim)
 * are kept; rotary_dim 0 rotates nothing (a plain cache write; inv_freq may be NULL). The outputs overlap
 * no input, and no two tokens may share a cache slot. */
void tf_cpu_rope_kv_cache(float* q, const float* k, const float* v, void* k_cache, void* v_cache, int kv_type,
                          const int32_t* block_table, const int32_t* positions, const int32_t* seq_ids,
                          const float* inv_freq, int tokens, int n_heads, int n_kv_heads, int head_dim, int rotary_dim,
                          int layout, float mscale, int block_size, int max_blocks_per_seq);

/* Attention over the paged cache (tf_attention_decode's semantics, section 2a, with batch = tokens):
 * query row t of q, out [tokens][n_heads][head_dim] sits at position p = context_lens[t] - 1 of the
 * sequence whose block-table row is t, and attends to its keys j = 0 .. p (window > 0: only those with
 * p - j < window): out = softmax(cap(scale q k^T)) v, fp32, where cap(x) = softcap * tanh(x / softcap) for
 * softcap > 0 (Gemma 2's logit soft-capping) and cap(x) = x for softcap 0. context_lens[t] 0 gives out = 0. One
 * call serves decode (a token per sequence) and chunked prefill (a row per token, each with its own
 * context length, e.g. the same table row repeated). out must not overlap q or the caches. */
void tf_cpu_attention_paged(float* out, const float* q, const void* k_cache, const void* v_cache, int kv_type,
                            const int32_t* block_table, const int32_t* context_lens, int tokens, int n_heads,
                            int n_kv_heads, int head_dim, int block_size, int max_blocks_per_seq, float scale,
                            int window, float softcap);

/* Packed variable-length attention (tf_attention_prefill's semantics, section 2a, without window,
 * soft-cap, ALiBi or lse, and with the same rows for queries and keys): sequence b owns rows cu_seqlens[b] ..
 * cu_seqlens[b+1]-1 (int32 [batch + 1], non-decreasing from 0). Row r's query heads
 * [n_heads][head_dim] start at q + r * q_stride floats, its key and value heads [n_kv_heads][head_dim]
 * at k + r * kv_stride and v + r * kv_stride (so q, k, v may be column blocks of one fused QKV buffer);
 * out is packed [rows][n_heads * head_dim]. causal != 0: query i of a sequence sees its keys j <= i;
 * else all keys of its sequence. out must not overlap q, k or v. */
void tf_cpu_attention_varlen(float* out, const float* q, const float* k, const float* v, const int32_t* cu_seqlens,
                             int batch, int n_heads, int n_kv_heads, int head_dim, long q_stride, long kv_stride,
                             float scale, int causal);

/* Swin's (shifted) window attention over one image (Liu et al. 2021, "Swin Transformer", section 3.2), as
 * Hugging Face's SwinSelfAttention with its roll / window partition / reverse folded into index maps:
 * tokens are the grid_h x grid_w grid row-major (token y * grid_w + x). The grid is rolled by -shift on
 * both axes (shifted position (ys, xs) holds token ((ys + shift) % grid_h, (xs + shift) % grid_w)) and cut
 * into window x window windows; each token attends to the N = window^2 tokens of its window:
 *   out_i = sum_j softmax_j(scale q_i . k_j + bias[rel(i, j)][h] + mask(i, j)) v_j     per head h,
 * rel(i, j) = (yi - yj + window - 1) * (2 window - 1) + (xi - xj + window - 1) on the window's local
 * coordinates (HF relative_position_index), bias the relative_position_bias_table f32
 * [(2 window - 1)^2][n_heads], and mask(i, j) = -100 when shift > 0 and i, j lie in different regions of
 * the shifted grid (region of a row ys: 0 below grid_h - window, 1 below grid_h - shift, else 2; the same
 * for columns; HF/torchvision's attn_mask), else 0. The output of token t goes to row t (the roll undone).
 * q, k, v: row t's heads [n_heads][head_dim] at q + t * stride (and k, v: one fused QKV buffer's column
 * blocks); out [grid_h * grid_w][n_heads * head_dim] packed, overlapping no input. grid_h and grid_w are
 * multiples of window, 0 <= shift < window, window^2 <= TF_CPU_WINDOW_MAX_TOKENS, head_dim <=
 * TF_CPU_WINDOW_MAX_HEAD_DIM. f32; a work item is (window, head).
 * logit_scale non-NULL (f32 [n_heads]): Swin-V2's cosine attention instead of scale q . k: q and k are each
 * divided by max(|x|, 1e-12) over the head and the score is logit_scale[h] cos(q_i, k_j) (the caller passes
 * exp(min(logit_scale, ln 100)) as HF/torchvision apply it); scale is then unused. */
#define TF_CPU_WINDOW_MAX_TOKENS 144
#define TF_CPU_WINDOW_MAX_HEAD_DIM 64
void tf_cpu_window_attention(float* out, const float* q, const float* k, const float* v, const float* bias,
                             const float* logit_scale, int grid_h, int grid_w, int window, int shift, int n_heads,
                             int head_dim, long stride, float scale);

/* -- Mamba-1 ops (ssm_ops.cpp). Token-major [tokens][dim] f32; each carries a per-sequence state, so
 * one call serves prefill (many tokens) and decode (tokens = 1). Same recurrences as the CUDA
 * tf_causal_conv1d / tf_selective_scan (section 2c), which are channel-major. -- */
#define TF_CPU_MAX_CONV_WIDTH 4
#define TF_CPU_MAX_DSTATE 256
/* Causal depthwise conv1d, 1 <= width <= TF_CPU_MAX_CONV_WIDTH:
 *  out[t][d] = bias[d] + sum_{k<width} weight[d][k] * in(t - (width-1) + k), then SiLU if silu != 0,
 *  where in(j) = x[j][d] for j >= 0 and conv_state[d][width-1 + j] for j < 0. conv_state [dim][width-1]
 *  holds the width-1 inputs before this call, oldest first (zeros at the start of a sequence); on
 *  return it holds the last width-1 inputs of (state, x). weight [dim][width] (HF conv1d.weight
 *  [dim][1][width]); bias [dim] or NULL. out may alias x exactly; conv_state overlaps neither. */
void tf_cpu_causal_conv1d(float* out, float* conv_state, const float* x, const float* weight, const float* bias,
                          int tokens, int dim, int width, int silu);
/* -- 2-D convolution, NHWC (conv_ops.cpp; the CUDA tf_conv2d in section 2c has the same contract) --
 * Geometry: TF_CONV2D_GEOM_INTS ints in the order of this enum (Java passes one int array):
 *  x [n][h][w][c_in], weight [c_out][kh][kw][c_in / groups] (PyTorch's OIHW weight permuted to OHWI),
 *  bias [c_out] or NULL, out [n][oh][ow][c_out] with oh = (h + 2 pad_h - dil_h (kh - 1) - 1) / stride_h + 1
 *  (likewise ow; both >= 1). Output channel o belongs to group o / (c_out / groups), which reads input
 *  channels [g c_in/groups, (g+1) c_in/groups). out[p][o] = act(bias[o] + sum x * weight), zero padding;
 *  relu != 0: max(0, .). NHWC because a feature map is then [pixels][channels], the [rows][cols] of every
 *  other op (DETR flattens the backbone output into tokens with no transpose), im2col rows are GEMM rows
 *  and cuDNN's tensor-core convolutions want NHWC too. */
enum {
  TF_CONV2D_N, TF_CONV2D_H, TF_CONV2D_W, TF_CONV2D_C_IN, TF_CONV2D_C_OUT, TF_CONV2D_KH, TF_CONV2D_KW,
  TF_CONV2D_STRIDE_H, TF_CONV2D_STRIDE_W, TF_CONV2D_PAD_H, TF_CONV2D_PAD_W, TF_CONV2D_DIL_H, TF_CONV2D_DIL_W,
  TF_CONV2D_GROUPS, TF_CONV2D_GEOM_INTS
};
/* Returns 0, -1 for a geometry that is not valid (checked here too), -2 when scratch memory could not be
 * had. out must not overlap x, weight or bias. f32 throughout. */
int tf_cpu_conv2d(float* out, const float* x, const float* weight, const float* bias, int relu, const int32_t* geom);

/* Selective scan: per channel d and state n, for t = 0 .. tokens-1:
 *  dt = delta[t][d] + delta_bias[d];  if delta_softplus: dt = softplus(dt) = log1p(exp(dt)) (dt > 20: dt)
 *  state[d][n] = exp(dt * A[d][n]) * state[d][n] + dt * B[t][n] * u[t][d]
 *  y = sum_n state[d][n] * C[t][n] + D[d] * u[t][d];  if z: y *= z[t][d] * sigmoid(z[t][d]);  out[t][d] = y
 *  u, delta, z, out [tokens][dim]; B, C [tokens][dstate]; A [dim][dstate] (Mamba: -exp(A_log));
 *  D, delta_bias [dim]; state [dim][dstate] in/out (zeros at the start of a sequence), dstate <=
 *  TF_CPU_MAX_DSTATE. D, z and delta_bias may be NULL. out may alias u, delta or z exactly; nothing
 *  else overlaps. */
void tf_cpu_selective_scan(float* out, float* state, const float* u, const float* delta, const float* A,
                           const float* B, const float* C, const float* D, const float* z, const float* delta_bias,
                           int tokens, int dim, int dstate, int delta_softplus);

/* -- Mamba-2 ops (ssd_ops.cpp): the SSD ("state space duality", Dao & Gu 2024) scan and the gated
 * RMSNorm of the Mamba-2 mixer. Token-major f32, state carried per sequence as for the Mamba-1 ops. -- */
#define TF_CPU_MAX_SSD_STATE 256
/* SSD scan over one sequence, heads h of head_dim p-channels, groups g of B/C shared by heads/groups heads
 * (head h reads group h / (heads / groups)); per head h and token t:
 *  dt = softplus(dt_in[t][h] + dt_bias[h]);  a = exp(dt * A[h])            (A[h] < 0: Mamba-2's -exp(A_log))
 *  state[h][p][n] = a * state[h][p][n] + dt * x[t][h][p] * B[t][g][n]
 *  out[t][h][p]   = sum_n C[t][g][n] * state[h][p][n] + D[h] * x[t][h][p]
 *  x, out [tokens][heads * head_dim]; dt_in [tokens][heads]; B, C [tokens][groups * dstate]; A, D, dt_bias
 *  [heads] (D and dt_bias may be NULL); state [heads][head_dim][dstate] in/out, zeros at the start of a
 *  sequence; dstate <= TF_CPU_MAX_SSD_STATE; heads % groups == 0. One token is the plain recurrence (decode);
 *  more run in the chunked form (chunks of TF_CPU_SSD_CHUNK tokens: within a chunk the masked product
 *  (C B^T o decay) x, between chunks the state passed on), equal up to rounding. out overlaps nothing. */
#define TF_CPU_SSD_CHUNK 64
void tf_cpu_ssd_scan(float* out, float* state, const float* x, const float* dt_in, const float* A, const float* B,
                     const float* C, const float* D, const float* dt_bias, int tokens, int heads, int head_dim,
                     int groups, int dstate);
/* Gated RMSNorm (Mamba-2's mixer norm, norm_before_gate = false), per row r and group of group_size columns:
 *  v = x[r][i] * silu(z[r][i]);  out[r][i] = v / sqrt(mean over the group of v^2 + eps) * weight[i]
 *  x, z, out [rows][dim], dim % group_size == 0; weight [dim]. out may alias x or z exactly. */
void tf_cpu_gated_rmsnorm(float* out, const float* x, const float* z, const float* weight, int rows, int dim,
                          int group_size, float eps);

/* -- BERT variants (MobileBERT, ModernBERT, nomic-bert, JinaBERT): bert_variant_ops.cpp -- */

/* MobileBERT's NoNorm with the residual contract of tf_cpu_layernorm: residual NULL: h = x; else
 * h = residual + x, written back to residual. out[r][i] = h[r][i] * weight[i] + bias[i] (bias NULL: none).
 * out may alias x or residual exactly. */
void tf_cpu_no_norm(float* out, float* residual, const float* x, const float* weight, const float* bias, int rows,
                    int dim);


/* Rotary embedding in place (tf_rope's semantics, section 2b): q [tokens][n_heads][head_dim] and k
 * [tokens][n_kv_heads][head_dim], contiguous (either may be NULL); positions int32 [tokens]; inv_freq
 * [rotary_dim / 2]; layout TF_ROPE_*; rotary_dim even, <= head_dim; elements past rotary_dim untouched. */
void tf_cpu_rope(float* q, float* k, const int32_t* positions, const float* inv_freq, int tokens, int n_heads,
                 int n_kv_heads, int head_dim, int rotary_dim, int layout, float mscale);

/* Bidirectional packed attention (tf_cpu_attention_varlen's layout) with the encoder masks of
 * tf_attention_prefill: window > 0 lets query i see key j only when |i - j| < window (ModernBERT's local
 * layers: window = local_attention / 2 + 1), and alibi_slopes (f32 [n_heads] or NULL) adds
 * -slope[h] * |i - j| to the scaled score (JinaBERT). out packed [rows][n_heads * head_dim], no overlap. */
void tf_cpu_attention_varlen_masked(float* out, const float* q, const float* k, const float* v,
                                    const int32_t* cu_seqlens, int batch, int n_heads, int n_kv_heads, int head_dim,
                                    long q_stride, long kv_stride, float scale, int window, const float* alibi_slopes);


/* ---- encoder-decoder (seq2seq): attention with a relative-position bias ------------------------------------
 * For each query token t and head h, over the keys j = 0 .. count-1 of its span (spans int32 [tokens][3]:
 * first key row, key count, query position i):
 *   out[t][h] = sum_j softmax_j(scale q[t][h] . k[first + j][kh] + B[h][clamp(j - i, -R, R) + R]) v[first + j][kh]
 * with kh = h / (n_heads / n_kv_heads), B = bias f32 [n_heads][2R + 1] (R = bias_radius) or NULL for none (then
 * R is unused). Causal or bidirectional is the caller's choice of count. q, out [tokens][n_heads * head_dim];
 * k, v [rows][n_kv_heads * head_dim]; all contiguous f32. count 0 gives out = 0. out overlaps no input.
 * (T5's relative attention bias is B with the bucket function applied by the caller: it is constant beyond
 * max_distance, so R = max_distance is exact.) */
void tf_cpu_attention_rel_bias(float* out, const float* q, const float* k, const float* v, const int32_t* spans,
                               const float* bias, int bias_radius, int tokens, int n_heads, int n_kv_heads,
                               int head_dim, float scale);

/* The same attention for a seq2seq decoder's self-attention over its paged KV cache: query token t at position
 * p = positions[t] attends to keys j = 0 .. p of its own row, key j at row block_tables[t][j / block_size] *
 * block_size + j % block_size of k_cache / v_cache ([blocks * block_size][n_kv_heads * head_dim] f32, the layout of
 * the decoders' paged cache), relative position j - p (causal):
 *   out[t][h] = sum_j softmax_j(scale q[t][h] . k_j[kh] + B[h][clamp(j - p, -R, R) + R]) v_j[kh]
 * block_tables int32 [tokens][max_blocks] (each token's own row, as DecoderBatch.tokenBlockTables lays them out),
 * positions int32 [tokens]; bias as above or NULL. The caller guarantees p < max_blocks * block_size and valid blocks. */
void tf_cpu_attention_rel_bias_paged(float* out, const float* q, const float* k_cache, const float* v_cache,
                                     const int32_t* block_tables, const int32_t* positions, const float* bias,
                                     int bias_radius, int tokens, int n_heads, int n_kv_heads, int head_dim, int block_size,
                                     int max_blocks, float scale);

/* -- RWKV ops (rwkv_ops.cpp): RWKV-6 "Finch" and RWKV-7 "Goose" (token shift, token mix, pointwise
 * activations, the WKV recurrences with the per-head group norm fused). Token-major f32; the WKV state of a
 * sequence is [heads][head_size][head_size], row i the value channel, column j the key channel. -- */
#define TF_CPU_MAX_WKV_HEAD 256
/* Token shift over one sequence: out[t] = prev[t] - x[t], prev[0] = state (zeros when fresh), prev[t] = x[t-1];
 *  then state = x[tokens-1]. x, out [tokens][dim]; state [dim] in/out. out overlaps neither x nor state. */
void tf_cpu_rwkv_token_shift(float* out, float* state, const float* x, int tokens, int dim, int fresh);
/* Token mix (RWKV's lerp): out[t][c] = x[t][c] + sx[t][c] * (mix[mix_rows == 1 ? 0 : t][c] + bias[c]);
 *  bias [dim] may be NULL. out may alias x, sx or mix exactly. */
void tf_cpu_rwkv_token_mix(float* out, const float* x, const float* sx, const float* mix, int mix_rows, const float* bias,
                           int tokens, int dim);
/* In place x[i] = f(x[i]) over n values; fn: TF_RWKV_TANH, TF_RWKV_SIGMOID, TF_RWKV_RELU_SQUARED, TF_RWKV_HALVE. */
#define TF_RWKV_TANH 0
#define TF_RWKV_SIGMOID 1
#define TF_RWKV_RELU_SQUARED 2
#define TF_RWKV_HALVE 3
void tf_cpu_rwkv_pointwise(float* x, long n, int fn);
/* RWKV-6 WKV over one sequence, per head h, token t, value channel i, key channel j (head_size S):
 *  decay d_j = exp(-exp(w[t][j]));  y_i = sum_j r_j (u[h][j] k_j v_i + S[i][j]);  S[i][j] = S[i][j] d_j + k_j v_i
 *  out[t] = group_norm(y over the head, eps) * ln_w + ln_b. r, k, v, w, out [tokens][heads * S]; u [heads][S];
 *  ln_w, ln_b [heads * S]; state [heads][S][S] in/out (zeros at a sequence's start). out overlaps nothing. */
void tf_cpu_rwkv_wkv6(float* out, float* state, const float* r, const float* k, const float* v, const float* w,
                      const float* u, const float* ln_w, const float* ln_b, int tokens, int heads, int head_size, float eps);
/* RWKV-7 WKV over one sequence (the generalised delta rule), per head, token, value channel i, key channel j:
 *  d_j = exp(-0.606531 sigmoid(w_j)); a_j = sigmoid(a_raw_j); v'_i = v_i + (v_first_i - v_i) sigmoid(v_mix_i) (v_i
 *  when v_first is NULL); kk = normalize(k o k_k) over the head (L2, at least 1e-12); k'_j = k_j (1 + (a_j - 1) k_a_j);
 *  sa_i = -sum_j kk_j S[i][j];  S[i][j] = S[i][j] d_j + k'_j v'_i + sa_i kk_j a_j;  y_i = sum_j S[i][j] r_j;
 *  out[t] = group_norm(y, eps) * ln_w + ln_b + (sum_j r_j k'_j r_k_j) v'_i.
 *  r, w, k, v, a, v_first, v_mix, out [tokens][heads * S]; k_k, k_a, r_k, ln_w, ln_b [heads * S]; v_first and
 *  v_mix both NULL or both given. out overlaps nothing. */
void tf_cpu_rwkv_wkv7(float* out, float* state, const float* r, const float* w, const float* k, const float* v,
                      const float* a, const float* v_first, const float* v_mix, const float* k_k, const float* k_a,
                      const float* r_k, const float* ln_w, const float* ln_b, int tokens, int heads, int head_size, float eps);

/* ==== 2. CUDA kernel launchers =========================================================== */
/* Every launcher takes a stream as void* (cudaStream_t on the GPU, ignored by the emulator)
 * and returns 0 or a CUDA error code. */

/* -- 2a. attention (prefill, decode) -- */
/* Attention prefill: fused softmax(cap(scale * Q K^T) + bias) V over a variable-length batch.
 *  Layout (tokens packed, no padding rows): token row r of q holds n_heads heads of head_dim elements
 *  at q + r * q_stride (head h at + h * head_dim); rows of k and v hold n_kv_heads heads at
 *  k + r * kv_stride, v + r * kv_stride. Packed tensors have q_stride = n_heads * head_dim and
 *  kv_stride = n_kv_heads * head_dim; Q, K, V as column blocks of one fused QKV GEMM output
 *  [tokens][(n_heads + 2 n_kv_heads) * head_dim] are q = qkv, k = q + n_heads * head_dim,
 *  v = k + n_kv_heads * head_dim with q_stride = kv_stride = (n_heads + 2 n_kv_heads) * head_dim.
 *  o is always packed [total_q][n_heads][head_dim] and must not overlap q, k, v.
 *  Sequence b owns rows cu_seqlens_q[b] .. cu_seqlens_q[b+1]-1
 *  of q/o and cu_seqlens_k[b] .. cu_seqlens_k[b+1]-1 of k/v (int32 prefix sums, batch+1 entries,
 *  device memory). max_seqlen_q bounds len_q of every sequence (it sizes the grid).
 *  Elements are fp16 (_f16) or bf16 (_bf16); accumulation and softmax in fp32.
 *  head_dim: 32, 64, 128 or 256. n_heads must be a multiple of n_kv_heads; query head h
 *  reads KV head h / (n_heads / n_kv_heads) (GQA; n_kv_heads = 1 is MQA).
 *  Rows are loaded in 16-byte chunks: q, k, v, o must be 16-byte aligned, q_stride >= n_heads * head_dim
 *  and kv_stride >= n_kv_heads * head_dim, both multiples of 8 elements. Anything else (or an
 *  unsupported head_dim, or heads that do not group) returns 1 and launches nothing.
 *  Positions: query i of a sequence sits at position i + len_k - len_q (bottom-right alignment, so a
 *  chunk of queries appended after a cached prefix works); key j at j. With q = that position:
 *   causal != 0: key j visible iff j <= q.
 *   window > 0: additionally q - j < window (and, when not causal, j - q < window: a symmetric band).
 *   softcap > 0: the scaled score x = scale * q.k becomes cap(x) = softcap * tanh(x / softcap) (Gemma 2's
 *     attention logit soft-capping: after the scale, before the bias and the softmax); softcap 0: cap(x) = x.
 *   alibi_slopes (float [n_heads], device) != NULL: score += -slope[h] * |q - j|
 *     (for causal this is the usual -slope * (q - j)).
 *  lse (optional, NULL = off): float [total_q][n_heads], natural-log log-sum-exp of the row's biased,
 *  capped, scaled scores. A row with no visible key gets o = 0 and lse = -inf. */
int tf_attention_prefill_f16(const void* q, const void* k, const void* v, void* o, float* lse,
                             const int32_t* cu_seqlens_q, const int32_t* cu_seqlens_k, int batch,
                             int max_seqlen_q, int n_heads, int n_kv_heads, int head_dim, long q_stride,
                             long kv_stride, float softmax_scale, int causal, int window, float softcap,
                             const float* alibi_slopes, void* stream);
int tf_attention_prefill_bf16(const void* q, const void* k, const void* v, void* o, float* lse,
                              const int32_t* cu_seqlens_q, const int32_t* cu_seqlens_k, int batch,
                              int max_seqlen_q, int n_heads, int n_kv_heads, int head_dim, long q_stride,
                              long kv_stride, float softmax_scale, int causal, int window, float softcap,
                              const float* alibi_slopes, void* stream);

/* Attention decode (flash-decoding): one new query token per sequence against a paged KV cache.
 *  q, o: [batch][n_heads][head_dim]. k_cache, v_cache: [num_blocks][block_size][n_kv_heads][head_dim].
 *  block_table: int32 [batch][max_blocks_per_seq]; token t of sequence b lives in physical block
 *  block_table[b][t / block_size], slot t % block_size. context_lens: int32 [batch] (device), the number
 *  of cached tokens including the current one; the query sits at position p = context_lens[b] - 1 and sees
 *  keys j = 0 .. p (window > 0: only those with p - j < window, the last `window` of them: llama.cpp's
 *  n_swa, Hugging Face's sliding_window). context_len 0 gives o = 0.
 *  max_context_len (host) must be >= every context_lens[b]; it sizes the KV split grid.
 *  The visible keys (with a window: the last min(window, context) of them) are split in chunks of
 *  kv_split_len tokens (> 0; 512 is a good default, smaller for short contexts and few sequences)
 *  processed by separate CTAs and merged by log-sum-exp in a second kernel.
 *  workspace: device memory of tf_attention_decode_workspace_bytes(...) bytes, 16-byte aligned.
 *  softcap and alibi_slopes as for prefill (bias -slope[h] * (p - j)). head_dim 64, 128 or 256; fp16/bf16
 *  as prefill. */
size_t tf_attention_decode_workspace_bytes(int batch, int n_heads, int head_dim, int max_context_len,
                                           int kv_split_len);
/* A kv_split_len that gives the split kernel about two CTAs per SM (num_sms: the device's
 * multiprocessor count): a multiple of 64, at least 256. */
int tf_attention_decode_default_split_len(int batch, int n_heads, int n_kv_heads, int max_context_len,
                                          int num_sms);
int tf_attention_decode_f16(const void* q, const void* k_cache, const void* v_cache, void* o,
                            const int32_t* block_table, const int32_t* context_lens, int batch, int n_heads,
                            int n_kv_heads, int head_dim, int block_size, int max_blocks_per_seq,
                            int max_context_len, int kv_split_len, float softmax_scale, int window,
                            float softcap, const float* alibi_slopes, void* workspace, void* stream);
int tf_attention_decode_bf16(const void* q, const void* k_cache, const void* v_cache, void* o,
                             const int32_t* block_table, const int32_t* context_lens, int batch, int n_heads,
                             int n_kv_heads, int head_dim, int block_size, int max_blocks_per_seq,
                             int max_context_len, int kv_split_len, float softmax_scale, int window,
                             float softcap, const float* alibi_slopes, void* workspace, void* stream);

/* Swin's (shifted) window attention over one image (window_attention.cuh): tf_cpu_window_attention's
 * semantics (section 1) on the GPU, fp16 or bf16 (dtype: TF_DTYPE_F16 / TF_DTYPE_BF16 of 2b) with fp32
 * accumulation and P rounded to the dtype before P V. One CTA per (window, head). window <= 8 with
 * head_dim 32 or 64, or window 9-12 with head_dim 32, stride a multiple of 8 elements, q, k, v, o 16-byte aligned; bias is f32
 * [(2 window - 1)^2][n_heads]; logit_scale NULL, or f32 [n_heads] for Swin-V2's cosine attention (as in
 * section 1). Returns 1 (invalid argument) for anything else. */
int tf_window_attention(const void* q, const void* k, const void* v, void* o, const float* bias,
                        const float* logit_scale, int grid_h,
                        int grid_w, int window, int shift, int n_heads, int head_dim, long stride, float scale,
                        int dtype, void* stream);

/* -- 2b. rope, glu, norms, embedding -- */
/* Element types of these launchers (and of 2c): an int dtype code. Activations are row-major;
 * all pointers are device memory. Every kernel computes in fp32 and rounds its stores to the
 * tensor's type (round to nearest even). 16-byte aligned pointers and row lengths that are a
 * multiple of 16 bytes take the vectorised path; anything else is still correct, just slower. */
#define TF_DTYPE_F32 0
#define TF_DTYPE_F16 1
#define TF_DTYPE_BF16 2

/* RMSNorm with optional fused residual add, x/out/residual [rows][dim], weight [dim], all of type
 * dtype. residual == NULL: h = x. Otherwise h = round(x + residual), written back to residual (the
 * new residual stream), and the norm is taken of that stored h.
 * out[r] = h[r] * rsqrt(mean(h[r]^2) + eps) * weight. dim <= 49152.
 * Aliasing: out may be x, or residual, or both, exactly (the same address; a row is read whole before
 * any of it is written). out == residual overwrites the stream with its norm: the post-LN update
 * x = norm(x + delta) in place is tf_layernorm(out = x, residual = x, x = delta, ...). Partial overlaps
 * are not allowed; weight and bias must not overlap out or residual. */
int tf_rmsnorm(void* out, void* residual, const void* x, const void* weight, int rows, int dim, float eps,
               int dtype, void* stream);
/* LayerNorm, same residual and aliasing contract: out = (h - mean) * rsqrt(var + eps) * weight + bias
 * (biased variance; bias may be NULL). */
int tf_layernorm(void* out, void* residual, const void* x, const void* weight, const void* bias, int rows,
                 int dim, float eps, int dtype, void* stream);

/* Embedding gather: out[t] = table[ids[t]] for t < tokens; table [vocab][dim] of table_dtype, out
 * [tokens][dim] of out_dtype (either the table's type, or TF_DTYPE_F32 to widen). An id outside
 * [0, vocab) gives a row of zeros (never an out-of-bounds read). ids: int32 [tokens], device. */
int tf_embedding(void* out, const int32_t* ids, const void* table, int tokens, int dim, int vocab,
                 int table_dtype, int out_dtype, void* stream);

/* Rotary position embedding (layouts TF_ROPE_*, section 0). */
/* For pair i < rotary_dim/2 of a token at position p: angle = (float)p * inv_freq[i] (fp32),
 * c = cos(angle) * mscale, s = sin(angle) * mscale, (a, b) -> (a c - b s, a s + b c).
 * The frequency table is the caller's (float [rotary_dim/2], device), so linear / NTK / YaRN /
 * Llama-3 scaling are just tables; mscale is YaRN's attention factor (1 otherwise).
 * rotary_dim even and <= head_dim; elements past rotary_dim are left alone.
 * tf_rope: in place on q [tokens][n_heads][head_dim] and k [tokens][n_kv_heads][head_dim] (either
 * may be NULL); positions int32 [tokens]. */
int tf_rope(void* q, void* k, const int32_t* positions, const float* inv_freq, int tokens, int n_heads,
            int n_kv_heads, int head_dim, int rotary_dim, int layout, float mscale, int dtype, void* stream);
/* Fused RoPE + paged KV-cache write: rotates q in place (q may be NULL), rotates k (k itself is not
 * modified) and stores it, and v unchanged, into the cache. rotary_dim == 0 is a plain KV-cache write
 * (no rotation, q untouched; inv_freq may then be NULL) for models without RoPE:
 *  k_cache, v_cache [num_blocks][block_size][n_kv_heads][head_dim]; block_table int32
 *  [batch][max_blocks_per_seq]; token t of sequence seq_ids[t] at position positions[t] goes to block
 *  block_table[seq][p / block_size], slot p % block_size (the attention decode layout).
 *  All tensors of type dtype; seq_ids int32 [tokens]. */
int tf_rope_kv_cache(void* q, const void* k, const void* v, void* k_cache, void* v_cache, const int32_t* block_table,
                     const int32_t* positions, const int32_t* seq_ids, const float* inv_freq, int tokens,
                     int n_heads, int n_kv_heads, int head_dim, int rotary_dim, int layout, float mscale,
                     int block_size, int max_blocks_per_seq, int dtype, void* stream);

/* Gated linear unit (activation codes TF_ACT_*, section 0, all four; IDENTITY is the bilinear GLU):
 * out[t][j] = act(gate[t * in_stride + j]) * up[t * in_stride + j] for t < tokens, j < ffn; out
 * [tokens][ffn] packed; in_stride >= ffn. Two GEMM outputs in separate buffers: in_stride = ffn. One
 * fused gate/up GEMM output [tokens][2*ffn] (gate in the first ffn columns): gate = gu, up = gu + ffn,
 * in_stride = 2*ffn. out, gate, up 16-byte aligned with ffn and in_stride multiples of 16 bytes take the
 * vectorised path, anything else the scalar one. With in_stride = ffn, out may be gate or up exactly
 * (in place); otherwise out must not overlap them. All of one dtype. */
int tf_glu(void* out, const void* gate, const void* up, int tokens, int ffn, long in_stride, int act, int dtype,
           void* stream);
/* Decode GLU: out[j] = act(dot(w_gate[j], x)) * dot(w_up[j], x) for j < ffn, one pass over the
 * weights; act: SiLU or a GELU (not IDENTITY). w_gate, w_up [ffn][dim] of w_dtype (F16, BF16 or F32);
 * x [dim] and out [ffn] of x_dtype (F32 or w_dtype). fp32 dot products. */
int tf_glu_gemv(void* out, const void* w_gate, const void* w_up, const void* x, int ffn, int dim, int act,
                int w_dtype, int x_dtype, void* stream);

/* -- 2c. selective scan, conv1d, transpose; Mamba-2 SSD scan and gated RMSNorm -- */
/* Mamba-1 selective scan (the semantics of mamba_ssm's selective_scan_fn), dtype codes as in 2b.
 *  u, delta, z, out: [batch][dim][seqlen] of dtype; A: float [dim][dstate]; B, C:
 *  [batch][n_groups][dstate][seqlen] of dtype (channel d uses group d / (dim / n_groups); dim %
 *  n_groups == 0); D, delta_bias: float [dim], optional (NULL); z optional (NULL).
 *  Per channel d and state n, over l = 0 .. seqlen-1:
 *    dt = delta[l] + delta_bias[d];  if delta_softplus: dt = softplus(dt) = log1p(exp(dt)) (dt > 20: dt)
 *    h[n] = exp(dt * A[d][n]) * h[n] + dt * B[n][l] * u[l]
 *    y = sum_n h[n] * C[n][l] + D[d] * u[l];  if z: y *= z[l] * sigmoid(z[l]);  out[l] = y
 *  initial_state (optional, else 0) and final_state (optional, written): float [batch][dim][dstate].
 *  dstate <= 256. The state is carried in fp32. */
int tf_selective_scan(void* out, float* final_state, const void* u, const void* delta, const float* A,
                      const void* B, const void* C, const float* D, const void* z, const float* delta_bias,
                      const float* initial_state, int batch, int dim, int seqlen, int dstate, int n_groups,
                      int delta_softplus, int dtype, void* stream);
/* Single-token update of the same recurrence (decode): state float [batch][dim][dstate] in/out;
 *  x, delta, z, out: [batch][dim]; B, C: [batch][n_groups][dstate]; A, D, delta_bias as above.
 *  out may be x exactly (in place: each x element is read before its out element is written). */
int tf_selective_state_update(void* out, float* state, const void* x, const void* delta, const float* A,
                              const void* B, const void* C, const float* D, const void* z,
                              const float* delta_bias, int batch, int dim, int dstate, int n_groups,
                              int delta_softplus, int dtype, void* stream);

/* Causal depthwise conv1d (Mamba's short convolution), 1 <= width <= 4:
 *  out[b][d][l] = bias[d] + sum_k weight[d][k] * x[b][d][l - (width-1) + k]  (x at l < 0 is 0)
 *  then SiLU if silu != 0. x, out [batch][dim][seqlen]; weight [dim][width]; bias [dim] or NULL;
 *  all of dtype. conv_state_out (optional, [batch][dim][width-1] of dtype): receives the last
 *  width-1 inputs x[l = seqlen-width+1 .. seqlen-1] (zeros for l < 0), oldest first, ready for
 *  tf_causal_conv1d_update. */
int tf_causal_conv1d(void* out, void* conv_state_out, const void* x, const void* weight, const void* bias,
                     int batch, int dim, int seqlen, int width, int silu, int dtype, void* stream);
/* One decode step: conv_state [batch][dim][width-1] (the previous width-1 inputs, oldest first) is
 * read and rolled in place (drops the oldest, appends x); x, out [batch][dim]. out may be x exactly
 * (in place: each element is read by the thread that writes it, before it writes it). */
int tf_causal_conv1d_update(void* out, void* conv_state, const void* x, const void* weight, const void* bias,
                            int batch, int dim, int width, int silu, int dtype, void* stream);

/* 2-D convolution, NHWC, with the geometry and layouts of tf_cpu_conv2d (section 1): x, weight, bias and
 *  out of dtype, fp32 accumulation, bias then ReLU (relu != 0) fused, one rounding to dtype. geom is a
 *  host array of TF_CONV2D_GEOM_INTS ints. Returns 0, or kErrInvalidArgument for a bad geometry. */
int tf_conv2d(void* out, const void* x, const void* weight, const void* bias, int relu, const int32_t* geom,
              int dtype, void* stream);

/* Transpose: out[c][r] = in[r][c] for in [rows][cols], out [cols][rows], both row-major, any dtype
 * (TF_DTYPE_F32, F16, BF16: the bits are moved, not converted). For the token-major <-> channel-major
 * changes around the Mamba kernels ([tokens][dim] <-> [dim][tokens] per sequence). out must not overlap
 * in. rows, cols >= 0 (either 0: nothing to do). */
int tf_transpose(void* out, const void* in, int rows, int cols, int dtype, void* stream);

/* Mamba-2 SSD scan over one sequence, token-major (the layout of tf_cpu_ssd_scan, section 1), dtype codes
 * as in 2b for out, x, dt, B, C; A, D, dt_bias [heads] and the state [heads][head_dim][dstate] fp32. Per head h
 * (group g = h / (heads / groups)): dt = softplus(dt[t][h] + dt_bias[h]); state = exp(dt A[h]) state + dt x[t][h]
 * B[t][g]^T; out[t][h] = state C[t][g] + D[h] x[t][h]. The state is read (zeros instead when fresh != 0) and
 * the final state written back. Chunked (ssd_scan.cuh). dstate <= 128; heads % groups == 0; D, dt_bias may
 * be NULL; out overlaps nothing. */
int tf_ssd_scan(void* out, float* state, const void* x, const void* dt, const float* A, const void* B, const void* C,
                const float* D, const float* dt_bias, int fresh, int seqlen, int heads, int head_dim, int groups,
                int dstate, int dtype, void* stream);
/* One token per sequence of the SSD scan (decode): x, out [batch][heads * head_dim], dt [batch][heads], B, C
 * [batch][groups * dstate], state [batch][heads * head_dim][dstate] fp32 in place. out must not alias x. */
int tf_ssd_state_update(void* out, float* state, const void* x, const void* dt, const float* A, const void* B,
                        const void* C, const float* D, const float* dt_bias, int batch, int heads, int head_dim,
                        int groups, int dstate, int dtype, void* stream);
/* Gated RMSNorm (Mamba-2's mixer norm): per row and group of group_size columns, v = x * silu(z),
 * out = v * rsqrt(mean over the group of v^2 + eps) * weight. [rows][dim], dim % group_size == 0, weight [dim];
 * out may alias x or z. */
int tf_gated_rmsnorm(void* out, const void* x, const void* z, const void* weight, int rows, int dim, int group_size,
                     float eps, int dtype, void* stream);

/* -- 2d. encoder epilogues -- */
/* The elementwise pass after an encoder layer's GEMMs (BERT, ViT), dtype codes as in 2b:
 *  out[r][j] = act(x[r][j] + bias[r / group_rows][j]) + residual[r][j]   (fp32, one rounding)
 *  x, out, residual [rows][n]; bias [ceil(rows / group_rows)][n], or NULL for none; residual NULL for
 *  none. group_rows <= 0 means every row takes bias row 0; group_rows = tokens serves a Q/K/V
 *  projection stored as [3][tokens][n] with biases [3][n]. act: TF_ACT_IDENTITY or a 2b activation
 *  (TF_ACT_GELU_ERF for BERT / ViT). out may alias x or residual exactly.
 *  Post-LN (BERT): x = LN(x + y + b) is this with residual = out = x, then tf_layernorm in place. */
int tf_bias_act(void* out, const void* x, const void* bias, const void* residual, int rows, int n, int group_rows,
                int act, int dtype, void* stream);
/* -- BERT variants: MobileBERT's NoNorm and ReLU (mobilebert_elementwise.cuh) -- */
/* tf_cpu_no_norm's semantics (section 1) on the GPU: h = x, or h = round(residual + x) written back to
 * residual; out = h * weight + bias (bias may be NULL), [rows][dim] of dtype, fp32 arithmetic. out may
 * alias x or residual exactly. (RoPE in place is tf_rope; windowed / ALiBi encoder attention is
 * tf_attention_prefill with causal 0.) */
int tf_no_norm(void* out, void* residual, const void* x, const void* weight, const void* bias, int rows, int dim,
               int dtype, void* stream);

/* ==== DETR: max pooling (section 1 and 2 entries of one family, kept together) ============= */
/* 2-D max pooling, NHWC (PyTorch's MaxPool2d: DETR's ResNet stem, 3x3 stride 2 padding 1). The geometry is
 *  tf_cpu_conv2d's TF_CONV2D_GEOM_INTS ints with c_in == c_out (the channels) and groups ignored:
 *  out[n][oy][ox][c] = max over ky < kh, kx < kw of x[n][oy sh - ph + ky dh][ox sw - pw + kx dw][c], taps in
 *  the padding left out (PyTorch pads with -inf). pad_h <= kh / 2 and pad_w <= kw / 2 (PyTorch's rule), so
 *  every window holds a pixel. NaN inputs propagate (as torch.max). out must not overlap x.
 *  tf_cpu_max_pool2d (pool_ops.cpp): f32; returns 0, or -1 for a bad geometry.
 *  tf_max_pool2d (kernels/max_pool2d.cu): x and out of dtype (2b codes), one thread per output element;
 *  geom is a host array; returns 0, or kErrInvalidArgument for a bad geometry or dtype. */
int tf_cpu_max_pool2d(float* out, const float* x, const int32_t* geom);
int tf_max_pool2d(void* out, const void* x, const int32_t* geom, int dtype, void* stream);

/* ---- encoder-decoder (seq2seq): attention with a relative-position bias (rel_bias_attention.cuh) ----------
 * tf_cpu_attention_rel_bias's semantics on the GPU: q, k, v, o of dtype (TF_DTYPE_F32/F16/BF16), scores, softmax
 * and the weighted sum in fp32, o rounded once; bias f32 or NULL. head_dim <= 256. One warp per (token, head). */
int tf_attention_rel_bias(const void* q, const void* k, const void* v, void* o, const int32_t* spans, const float* bias,
                          int bias_radius, int tokens, int n_heads, int n_kv_heads, int head_dim, float scale, int dtype,
                          void* stream);
/* tf_cpu_attention_rel_bias_paged's semantics on the GPU (a seq2seq decoder's self-attention over its paged KV
 * cache): q, o, k_cache, v_cache of dtype, block_tables int32 [tokens][max_blocks], positions int32 [tokens]. */
int tf_attention_rel_bias_paged(const void* q, const void* k_cache, const void* v_cache, void* o, const int32_t* block_tables,
                                const int32_t* positions, const float* bias, int bias_radius, int tokens, int n_heads,
                                int n_kv_heads, int head_dim, int block_size, int max_blocks, float scale, int dtype,
                                void* stream);

/* -- 2e. RWKV (rwkv.cuh): RWKV-6/7 token shift, token mix, pointwise, WKV with the head group norm fused --
 * The layouts and equations of section 1's tf_cpu_rwkv_* (the same arguments), dtype codes as in 2b for the
 * activations (and the token-shift state, ln_w, ln_b, k_k, k_a, r_k); the WKV state and wkv6's u fp32. The WKV
 * launchers take head_size 32 or 64 (else 1): one block per head, the tokens in order (decode, RWKV-7, and RWKV-6
 * under 16 tokens), or RWKV-6's chunked form from 16 tokens on (rwkv_chunked.cuh; the same result). */
int tf_rwkv_token_shift(void* out, void* state, const void* x, int tokens, int dim, int fresh, int dtype, void* stream);
int tf_rwkv_token_mix(void* out, const void* x, const void* sx, const void* mix, int mix_rows, const void* bias, int tokens,
                      int dim, int dtype, void* stream);
int tf_rwkv_pointwise(void* x, long n, int fn, int dtype, void* stream);
int tf_rwkv_wkv6(void* out, float* state, const void* r, const void* k, const void* v, const void* w, const float* u,
                 const void* ln_w, const void* ln_b, int tokens, int heads, int head_size, float eps, int dtype, void* stream);
int tf_rwkv_wkv7(void* out, float* state, const void* r, const void* w, const void* k, const void* v, const void* a,
                 const void* v_first, const void* v_mix, const void* k_k, const void* k_a, const void* r_k, const void* ln_w,
                 const void* ln_b, int tokens, int heads, int head_size, float eps, int dtype, void* stream);

/* ==== 3. Emulated runtime (libtransfuse_emu only) ======================================== */
/* What the Java cuda-emu runtime needs besides the kernels of section 2 (on a GPU, cuBLAS does it). */
/* GEMM with the semantics of cublasGemmStridedBatchedEx: column-major matrices, trans_* 0 = N,
 * 1 = T; op(A) m x k, op(B) k x n, C m x n; C = alpha * op(A) op(B) + beta * C for each of `batch`
 * entries (entry i at a + i*stride_a elements, likewise b, c). Element types TF_DTYPE_* (2b);
 * accumulation in fp32; C is not read when beta == 0. lda >= max(1, trans_a ? k : m),
 * ldb >= max(1, trans_b ? n : k), ldc >= max(1, m), else returns 1. Runs on the calling thread. */
int tf_emu_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const void* a, int a_dtype, long lda,
                long long stride_a, const void* b, int b_dtype, long ldb, long long stride_b, float beta, void* c,
                int c_dtype, long ldc, long long stride_c, int batch);
/* Text of the last emulated kernel error ("" if none). */
const char* tf_emu_last_error(void);

#ifdef __cplusplus
}
#endif
#endif /* TRANSFUSE_H */
