// attention_decode.cuh: attention for one new token per sequence over a paged KV cache
// (flash-decoding: the key range split across CTAs, partials merged by log-sum-exp).
//
// What it computes
//   For each sequence b and query head h: o[b][h] = softmax_j(cap(scale * q . k_j) + bias) v_j over the
//   cached tokens j < context_lens[b] (the query is the token at position context_lens[b] - 1),
//   optionally only the last `window` of them (pos - j < window), optional ALiBi bias
//   -slope_h * (pos - j), optional soft-cap cap(x) = c * tanh(x / c) (c > 0; else cap(x) = x).
//   K/V token j of sequence b is slot j % block_size of physical block block_table[b][j / block_size]
//   of a cache laid out [num_blocks][block_size][n_kv_heads][D].
//
// How it tiles the work (two kernels)
//   1. split kernel, grid (n_kv_heads x query slabs, splits, batch), 4 warps. A CTA takes one KV head
//      and up to 16 of the query heads that share it (the whole GQA group when it has <= 16 heads; a
//      larger group, e.g. MQA with 32 heads, is cut into 16-head slabs): the group's queries are the 16
//      rows of an mma.m16n8k16 A operand, so every K/V tile is read from memory once per group and
//      the dot products run on tensor cores. The splits cut the visible keys (with a sliding window
//      only the last `window` tokens, so a long context's splits all do work and the grid is sized by
//      min(context, window)). The CTA walks its split of kv_split_len tokens in tiles of 64 tokens, gathered from the paged cache with 16-byte cp.async (double-buffered). Warp w
//      takes tokens 16w..16w+15 of each tile and keeps its own online-softmax state and O accumulator;
//      at the end the four warps merge through shared memory and the CTA writes, per query head, the
//      normalised partial output (fp32) and its log2-sum-exp to the workspace.
//   2. combine kernel, grid (n_heads, batch): o = sum_s 2^(lse_s - max) o_s / sum_s 2^(lse_s - max).
//
// Registers vs shared memory
//   Registers: Q fragments (D/4 x 32-bit; D = 256 re-reads Q from the shared slab instead, see
//   kQInRegisters), O accumulator (D/2 fp32), scores (8 fp32), softmax state.
//   Shared: Q slab 16 x (D+8), 2 x (K, V) tiles 64 x (D+8) in T (D=64: 38 KiB, D=128: 72 KiB,
//   D=256: 140 KiB, one CTA per SM on A100 and H100); the cross-warp merge (4 x 16 x D fp32) reuses
//   the K/V buffers.
//
// Bytes per FLOP
//   Each cached K and V element (2 bytes) is read once per group and used in 2 x G FLOPs
//   (G = query heads per KV head): G/2 FLOP per byte, e.g. 2 for Llama-style G = 4. Decode is
//   therefore bound by HBM bandwidth; tensor cores only keep the arithmetic out of the way (rows
//   beyond G in the 16-row slab are wasted mma work, which costs nothing at this intensity).
//   Workspace traffic: splits x (D + 1) x 4 bytes per head, small against the cache for splits of
//   hundreds of tokens.
//
// Performance target
//   ~70-80% of HBM bandwidth (A100 ~1.5-2 TB/s, H100 ~3.35 TB/s) when batch x kv_heads x splits fills
//   the machine (a few CTAs per SM); the caller picks kv_split_len so that it does. Paged gathers
//   read whole 16-byte chunks of 128-, 256- or 512-byte token rows, so block_size does not change the
//   access granularity.
#pragma once
#include "attention_common.cuh"

namespace tf_attn {

struct DecodeParams {
  const void* q;               // [batch][n_heads][D]
  const void* k_cache;         // [num_blocks][block_size][n_kv_heads][D]
  const void* v_cache;
  void* o;                     // [batch][n_heads][D]
  const int32_t* block_table;  // [batch][max_blocks_per_seq]
  const int32_t* context_lens; // [batch]
  float* ws_o;                 // [batch][n_heads][num_splits][D] normalised partial outputs
  float* ws_lse;               // [batch][n_heads][num_splits] log2-sum-exp (-inf: empty split)
  int n_heads;
  int n_kv_heads;
  int block_size;
  int max_blocks_per_seq;
  int num_splits;
  int split_len;
  float scale_log2;            // softmax_scale * log2(e)
  int window;
  float softcap_log2;          // soft-cap c * log2(e), 0: none (MaskSpec)
  float softcap_in;            // softmax_scale / c
  const float* alibi_slopes;   // [n_heads] or nullptr
};

// The parameters of one launch from the C entry point's arguments (softcap 0: none); the workspace
// fields are filled by launch_decode.
inline DecodeParams decode_params(const void* q, const void* k_cache, const void* v_cache, void* o,
                                  const int32_t* block_table, const int32_t* context_lens, int n_heads, int n_kv_heads,
                                  int block_size, int max_blocks_per_seq, int kv_split_len, float softmax_scale,
                                  int window, float softcap, const float* alibi_slopes) {
  DecodeParams p{};
  p.q = q;
  p.k_cache = k_cache;
  p.v_cache = v_cache;
  p.o = o;
  p.block_table = block_table;
  p.context_lens = context_lens;
  p.n_heads = n_heads;
  p.n_kv_heads = n_kv_heads;
  p.block_size = block_size;
  p.max_blocks_per_seq = max_blocks_per_seq;
  p.split_len = kv_split_len;
  p.scale_log2 = softmax_scale * kLog2e;
  p.window = window;
  p.softcap_log2 = softcap > 0.f ? softcap * kLog2e : 0.f;
  p.softcap_in = softcap > 0.f ? softmax_scale / softcap : 0.f;
  p.alibi_slopes = alibi_slopes;
  return p;
}

constexpr int kDecodeBN = 64;       // tokens per shared-memory tile (16 per warp)
constexpr int kDecodeThreads = 128;
constexpr int kDecodeRows = 16;     // query heads per CTA (the m of the mma)

template <int D>
constexpr int kDecodeSmemBytes = (kDecodeRows + 4 * kDecodeBN) * kSmemStride<D> * 2;

inline int decode_num_splits(int max_context_len, int split_len) {
  return max_context_len > split_len ? (max_context_len + split_len - 1) / split_len : 1;
}

template <int D, typename T>
__global__ void __launch_bounds__(kDecodeThreads) attention_decode_split_kernel(DecodeParams p) {
  constexpr int BN = kDecodeBN, S = kSmemStride<D>, WARPS = kDecodeThreads / 32;
  static_assert(WARPS * 16 == BN, "each warp takes 16 tokens of a tile");
  static_assert(kDecodeSmemBytes<D> <= kMaxSmemBytesSm80, "shared memory must fit an sm_80 CTA");
  TF_DYNAMIC_SHARED(T, smem);
  T* q_tile = smem;
  auto k_tile = [&](int buf) { return smem + (kDecodeRows + buf * BN) * S; };
  auto v_tile = [&](int buf) { return smem + (kDecodeRows + (2 + buf) * BN) * S; };

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int group = p.n_heads / p.n_kv_heads;
  const int slabs = (group + kDecodeRows - 1) / kDecodeRows;
  const int kv_head = blockIdx.x / slabs, slab = blockIdx.x % slabs;
  const int head0 = kv_head * group + slab * kDecodeRows;
  const int rows = min(kDecodeRows, group - slab * kDecodeRows);
  const int split = blockIdx.y, b = blockIdx.z;
  const int ctx = p.context_lens[b];

  // Splits start at the first visible key: position ctx - window with a window, else 0.
  const int first = p.window > 0 && ctx > p.window ? ctx - p.window : 0;
  const int k_lo = first + split * p.split_len;
  const int k_hi = min(ctx, k_lo + p.split_len);
  const size_t ws_row0 = (size_t)b * p.n_heads + head0;  // workspace row of (b, head0)
  if (k_lo >= k_hi) {  // split past the visible keys: contributes nothing
    if (tid < rows) p.ws_lse[(ws_row0 + tid) * p.num_splits + split] = -INFINITY;
    return;
  }
  const int n_tiles = (k_hi - k_lo + BN - 1) / BN;

  const T* q = static_cast<const T*>(p.q);
  const T* kc = static_cast<const T*>(p.k_cache);
  const T* vc = static_cast<const T*>(p.v_cache);
  const int32_t* table = p.block_table + (size_t)b * p.max_blocks_per_seq;

  // Address of token j's row for this KV head in a paged cache, or nullptr past the split.
  auto token_row = [&](const T* cache, int j) -> const T* {
    if (j >= k_hi) return nullptr;
    const int block = table[j / p.block_size];
    return cache + (((size_t)block * p.block_size + j % p.block_size) * p.n_kv_heads + kv_head) * D;
  };
  auto stage_kv = [&](int tile, int buf) {
    const int key0 = k_lo + tile * BN;
    stage_rows_async<BN, D, kDecodeThreads>(k_tile(buf), [&](int r) { return token_row(kc, key0 + r); }, kc, tid);
    stage_rows_async<BN, D, kDecodeThreads>(v_tile(buf), [&](int r) { return token_row(vc, key0 + r); }, vc, tid);
  };
  stage_rows_async<kDecodeRows, D, kDecodeThreads>(
      q_tile,
      [&](int r) -> const T* { return r < rows ? q + ((size_t)b * p.n_heads + head0 + r) * D : nullptr; }, q, tid);
  stage_kv(0, 0);
  tf::cp_async_commit();

  // All 16 rows are the same token position; rows are different heads (ALiBi slope per row).
  const MaskSpec ms{k_hi, 1, p.window, p.scale_log2, p.softcap_log2, p.softcap_in};
  const int q_pos[2] = {ctx - 1, ctx - 1};
  const int g = lane >> 2;
  float alibi_log2[2] = {0.f, 0.f};
  if (p.alibi_slopes) {
    if (g < rows) alibi_log2[0] = p.alibi_slopes[head0 + g] * kLog2e;
    if (g + 8 < rows) alibi_log2[1] = p.alibi_slopes[head0 + g + 8] * kLog2e;
  }

  float acc[D / 8][4];
#pragma unroll
  for (int j = 0; j < D / 8; ++j) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;
  float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.f, 0.f};
  QFragments<D> q_frag;

  for (int tile = 0; tile < n_tiles; ++tile) {
    const int buf = tile & 1;
    if (tile + 1 < n_tiles) {
      stage_kv(tile + 1, buf ^ 1);
      tf::cp_async_commit();
      tf::cp_async_wait<1>();
    } else {
      tf::cp_async_wait<0>();
    }
    __syncthreads();
    if (tile == 0) load_q<D>(q_frag, q_tile, 0, lane);

    const int key0 = k_lo + tile * BN + warp * 16;  // this warp's 16 tokens
    float s[2][4];
    qk_scores<D, 16>(s, q_frag, q_tile, 0, k_tile(buf), warp * 16, lane);
    const bool need_mask = tile_needs_mask(ms, key0, 16, ctx - 1, ctx - 1, p.alibi_slopes != nullptr);
    mask_and_scale<16>(s, ms, key0, q_pos, alibi_log2, lane, need_mask);
    online_softmax(s, acc, m_run, l_run);
    uint32_t p_frag[1][4];
    p_fragments<16, T>(p_frag, s);
    pv_accumulate<D, 16, T>(acc, p_frag, v_tile(buf), warp * 16, lane);
    __syncthreads();  // buffer reuse by the next prefetch (and, after the last tile, by the merge)
  }

  // Merge the four warps' partial softmax states: red_o [warp][16][D], red_m / red_l [warp][16].
  static_assert(WARPS * kDecodeRows * (D + 2) * 4 <= 4 * BN * S * 2, "merge area fits in the K/V buffers");
  float* red_o = reinterpret_cast<float*>(smem + kDecodeRows * S);
  float* red_m = red_o + WARPS * kDecodeRows * D;
  float* red_l = red_m + WARPS * kDecodeRows;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int row = g + 8 * r;
    float* dst = red_o + (warp * kDecodeRows + row) * D + 2 * (lane & 3);
#pragma unroll
    for (int j = 0; j < D / 8; ++j) {
      dst[j * 8] = acc[j][2 * r];
      dst[j * 8 + 1] = acc[j][2 * r + 1];
    }
    const float l = quad_sum(l_run[r]);
    if ((lane & 3) == 0) {
      red_m[warp * kDecodeRows + row] = m_run[r];
      red_l[warp * kDecodeRows + row] = l;
    }
  }
  __syncthreads();
  for (int idx = tid; idx < rows * D; idx += kDecodeThreads) {
    const int row = idx / D, d = idx % D;
    float m = -INFINITY;
#pragma unroll
    for (int w = 0; w < WARPS; ++w) m = fmaxf(m, red_m[w * kDecodeRows + row]);
    float l = 0.f, o = 0.f;
#pragma unroll
    for (int w = 0; w < WARPS; ++w) {  // a warp whose tokens were all masked has m = -inf: weight 0
      const float scale = exp2f(red_m[w * kDecodeRows + row] - m);
      l += red_l[w * kDecodeRows + row] * scale;
      o += red_o[(w * kDecodeRows + row) * D + d] * scale;
    }
    const size_t ws_row = (ws_row0 + row) * p.num_splits + split;
    p.ws_o[ws_row * D + d] = o / l;  // l > 0: the split holds at least one visible token
    if (d == 0) p.ws_lse[ws_row] = m + logf(l) * kLog2e;
  }
}

template <int D, typename T>
__global__ void __launch_bounds__(64) attention_decode_combine_kernel(DecodeParams p) {
  const int head = blockIdx.x, b = blockIdx.y;
  const size_t row = (size_t)b * p.n_heads + head;
  const float* lse = p.ws_lse + row * p.num_splits;
  float m = -INFINITY;
  for (int s = 0; s < p.num_splits; ++s) m = fmaxf(m, lse[s]);
  T* out = static_cast<T*>(p.o) + row * D;
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float acc = 0.f, wsum = 0.f;
    for (int s = 0; s < p.num_splits; ++s) {
      if (lse[s] == -INFINITY) continue;  // empty split: its ws_o was never written
      const float w = exp2f(lse[s] - m);
      wsum += w;
      acc += w * p.ws_o[(row * p.num_splits + s) * D + d];
    }
    out[d] = ElemTraits<T>::from_float(wsum > 0.f ? acc / wsum : 0.f);  // context_len 0: zeros
  }
}

// A split length that gives the split kernel about two CTAs per SM when the batch alone does not:
// multiples of the 64-token tile, at least 256 tokens so the merge stays cheap against the cache reads.
inline int decode_default_split_len(int batch, int n_heads, int n_kv_heads, int max_context_len, int num_sms) {
  if (batch <= 0 || n_kv_heads <= 0 || n_heads < n_kv_heads || max_context_len <= 0 || num_sms <= 0) return 256;
  const long slabs = (n_heads / n_kv_heads + kDecodeRows - 1) / kDecodeRows;
  const long ctas_per_split = (long)batch * n_kv_heads * slabs;
  const long splits = (2L * num_sms + ctas_per_split - 1) / ctas_per_split;
  long len = (max_context_len + splits - 1) / splits;
  len = (len + kDecodeBN - 1) / kDecodeBN * kDecodeBN;
  return (int)(len < 256 ? 256 : len);
}

inline size_t decode_workspace_bytes(int batch, int n_heads, int head_dim, int max_context_len, int split_len) {
  if (batch <= 0 || n_heads <= 0 || head_dim <= 0 || split_len <= 0) return 0;
  const size_t rows = (size_t)batch * n_heads * decode_num_splits(max_context_len, split_len);
  return rows * ((size_t)head_dim + 1) * sizeof(float);
}

// Host side. p.ws_o / ws_lse / num_splits are filled here from the workspace. Returns 0 or an error
// code (1 = invalid value, as cudaErrorInvalidValue).
template <typename T>
int launch_decode(DecodeParams p, int batch, int head_dim, int max_context_len, void* workspace, void* stream) {
  if (batch <= 0) return 0;
  if (p.n_heads <= 0 || p.n_kv_heads <= 0 || p.n_heads % p.n_kv_heads != 0) return 1;
  if (p.block_size <= 0 || p.split_len <= 0 || max_context_len < 0 || workspace == nullptr) return 1;
  // With a window at most `window` keys are visible, whatever the context.
  const int max_visible = p.window > 0 && p.window < max_context_len ? p.window : max_context_len;
  p.num_splits = decode_num_splits(max_visible, p.split_len);
  p.ws_o = static_cast<float*>(workspace);
  p.ws_lse = p.ws_o + (size_t)batch * p.n_heads * p.num_splits * head_dim;
  const int slabs = (p.n_heads / p.n_kv_heads + kDecodeRows - 1) / kDecodeRows;
  const dim3 grid(p.n_kv_heads * slabs, p.num_splits, batch), block(kDecodeThreads);
  const dim3 grid_combine(p.n_heads, batch), block_combine(64);
  int err = 0;
  switch (head_dim) {
    case 64:
      err = TF_LAUNCH((attention_decode_split_kernel<64, T>), grid, block, kDecodeSmemBytes<64>, stream, p);
      if (err) return err;
      return TF_LAUNCH((attention_decode_combine_kernel<64, T>), grid_combine, block_combine, 0, stream, p);
    case 128:
      err = TF_LAUNCH((attention_decode_split_kernel<128, T>), grid, block, kDecodeSmemBytes<128>, stream, p);
      if (err) return err;
      return TF_LAUNCH((attention_decode_combine_kernel<128, T>), grid_combine, block_combine, 0, stream, p);
    case 256:
      err = TF_LAUNCH((attention_decode_split_kernel<256, T>), grid, block, kDecodeSmemBytes<256>, stream, p);
      if (err) return err;
      return TF_LAUNCH((attention_decode_combine_kernel<256, T>), grid_combine, block_combine, 0, stream, p);
    default:
      return 1;
  }
}

}  // namespace tf_attn
