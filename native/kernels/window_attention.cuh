// window_attention.cuh: Swin's (shifted) window multi-head self-attention, W-MSA and SW-MSA (Liu et al. 2021).
//
// What it computes
//   One image's tokens lie on a grid_h x grid_w grid, row-major (token y * grid_w + x). The grid rolled by
//   -shift on both axes is cut into window x window windows (N = window^2 <= 64 tokens each, or <= 144 at head
//   dim 32); per head h and
//   token i of a window:
//     O[i] = sum_j softmax_j(scale q_i . k_j + bias[rel(i, j)][h] + mask(i, j)) v_j    over the window's tokens,
//   rel(i, j) = (yi - yj + window - 1)(2 window - 1) + (xi - xj + window - 1) on local coordinates (HF's
//   relative_position_index), bias the relative_position_bias_table (fp32 [(2w-1)^2][n_heads]) and
//   mask(i, j) = -100 when shift > 0 and i, j lie in different regions of the rolled grid (HF/torchvision's
//   attn_mask: regions split at grid - window and grid - shift on each axis). The roll and the window
//   partition/reverse are index maps (window_token): row i of a window is token ((ys + shift) % grid_h,
//   (xs + shift) % grid_w) and its output goes back to that token's row, so no rolled or partitioned copy of
//   Q, K, V or O is made (a gather op would move 4 x tokens x C elements more per block for nothing).
//   Swin-V2 (logit_scale given): cosine attention, logit_scale[h] q_i . k_j / (max(|q_i|, 1e-12) max(|k_j|, 1e-12))
//   in place of scale q_i . k_j; the inverse norms are taken once per staged row and applied to the fp32 scores.
//   q, k, v: token t's heads [n_heads][D] at q + t * stride (the column blocks of one fused QKV projection);
//   O packed [tokens][n_heads * D]. Rows are staged in 16-byte cp.async chunks: q, k, v, o 16-byte aligned,
//   stride and D multiples of 8 elements (the launcher rejects anything else).
//
// How it tiles the work
//   One CTA of 4 warps per (window, head): gridDim = (windows, n_heads), so a Swin-T stage-1 block (56x56
//   tokens, 3 heads) is one launch of 192 CTAs, not 192 tiny GEMMs. The window's Q, K and V rows (N <= 64,
//   padded to 64 with zero rows; windows 9-12: N <= 144, padded to 144, 9 warps, head dim 32) are staged once
//   into shared memory with cp.async. Each warp owns 16 query rows: S = Q K^T over all 64 (144) keys (mma.m16n8k16, fp32 accumulate; Q as A fragments from ldmatrix, K rows as
//   the "col" B operand), then scale, bias and mask are added to the fragments in place (keys past N get
//   -inf), one softmax over the row (the whole row is in registers: one online_softmax step from an empty
//   state), P rounded to T and reused in registers as the A operand of O = P V (V via ldmatrix.trans). O is
//   normalised by the quad-summed row sum and stored as T to the tokens' rows. The pieces are
//   attention_common.cuh's, shared with attention prefill.
//
// Registers vs shared memory
//   Registers per thread: S/P ROWS/2 fp32 (32 or 72), O D/2 fp32, Q fragments D/4 x 32-bit, P fragments ROWS/4.
//   Shared memory (static): Q, K, V tiles 64 x (D + 8) elements of T: 15 KiB at D = 32, 27 KiB at D = 64;
//   the 16-byte row pad keeps ldmatrix conflict free (attention_common.cuh); 512 B of inverse row norms (V2).
//   ROWS = 144: 35 KiB. ptxas: 63 registers at D = 32, 72-96 at D = 64, 114-124 for ROWS = 144, no spills (sm_80,
//   sm_90).
//
// Bytes per FLOP
//   Per CTA 4 N^2 D FLOPs (two GEMMs; 64^2 computed for N = 49, 41 % of it padding) for 4 N D sizeof(T)
//   bytes of Q, K, V, O: N = 49, D = 32, fp16 -> 307 KFLOP per 12.5 KB, ~25 FLOP/B from global memory
//   (bias table reads hit L1/L2). Swin's attention is a small share of its FLOPs next to the QKV, output
//   and MLP GEMMs (cuBLAS); what matters here is one launch per block and no extra passes over memory.
#pragma once
#include "attention_common.cuh"
#include "norm_elementwise_io.cuh"

namespace tf_win {

using tf_attn::ElemTraits;
using tf_attn::kSmemStride;

// Padded window tokens of the two instantiations: 64 (N <= 64: windows up to 8, Swin at 224/256 px) and 144
// (windows 9-12, Swin at 384 px; head dim 32 only: its three tiles of D = 64 would pass 48 KiB of static shared
// memory). A CTA has one warp per 16 rows: 4 or 9 warps.
constexpr int kWinRowsSmall = 64;
constexpr int kWinRowsLarge = 144;
template <int ROWS> constexpr int kWinThreads = ROWS / 16 * 32;

struct WindowParams {
  const void* q;
  const void* k;
  const void* v;
  void* o;
  const float* bias;  // [(2 window - 1)^2][n_heads]
  const float* logit_scale;  // nullptr, or Swin-V2's cosine attention: [n_heads]
  int grid_h, grid_w, window, shift, n_heads;
  long stride;        // elements between tokens' rows of q, k, v
  float scale;
};

// Row of the token at local index i of window w (windows row-major over the rolled grid).
__device__ __forceinline__ long window_token(const WindowParams& p, int w, int i) {
  const int windows_x = p.grid_w / p.window;
  int y = (w / windows_x) * p.window + i / p.window + p.shift;
  int x = (w % windows_x) * p.window + i % p.window + p.shift;
  if (y >= p.grid_h) y -= p.grid_h;
  if (x >= p.grid_w) x -= p.grid_w;
  return long(y) * p.grid_w + x;
}

// Region of rolled coordinate c on an axis of n positions (the mask's slices).
__device__ __forceinline__ int window_region(int c, int n, int window, int shift) {
  return c < n - window ? 0 : c < n - shift ? 1 : 2;
}

template <int D, int ROWS, typename T>
__global__ void __launch_bounds__(kWinThreads<ROWS>) window_attention_kernel(WindowParams p) {
  constexpr int kWinRows = ROWS, kThreads = kWinThreads<ROWS>;
  static_assert(ROWS % 16 == 0 && kThreads == 2 * ROWS, "one warp per 16 rows; one thread per Q or K row for the norms");
  __shared__ uint4 smem[3 * kWinRows * kSmemStride<D> * sizeof(T) / 16];  // uint4: 16-byte aligned for cp.async
  T* qtile = reinterpret_cast<T*>(smem);
  T* ktile = qtile + kWinRows * kSmemStride<D>;
  T* vtile = ktile + kWinRows * kSmemStride<D>;
  const int w = blockIdx.x, h = blockIdx.y, tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int n = p.window * p.window;
  const T* q = static_cast<const T*>(p.q) + h * D;
  const T* k = static_cast<const T*>(p.k) + h * D;
  const T* v = static_cast<const T*>(p.v) + h * D;
  auto row_of = [&](const T* base) {
    return [&p, w, n, base](int r) -> const T* { return r < n ? base + window_token(p, w, r) * p.stride : nullptr; };
  };
  tf_attn::stage_rows_async<kWinRows, D, kThreads>(qtile, row_of(q), q, tid);
  tf_attn::stage_rows_async<kWinRows, D, kThreads>(ktile, row_of(k), k, tid);
  tf_attn::stage_rows_async<kWinRows, D, kThreads>(vtile, row_of(v), v, tid);
  tf::cp_async_commit();
  tf::cp_async_wait<0>();
  __syncthreads();
  // Swin-V2: 1 / max(|row|, 1e-12) of every Q and K row (threads 0..ROWS-1 Q, the rest K), applied to the fp32 scores
  // below, so the normalised rows are never rounded to T.
  __shared__ float inv_norm[2 * kWinRows];
  const bool cosine = p.logit_scale != nullptr;
  if (cosine) {
    const T* row = (tid < kWinRows ? qtile : ktile) + (tid % kWinRows) * kSmemStride<D>;
    float ss = 0.f;
#pragma unroll 8
    for (int d = 0; d < D; ++d) {
      const float x = tf_ew::to_f32(row[d]);
      ss += x * x;
    }
    inv_norm[tid] = 1.f / fmaxf(sqrtf(ss), 1e-12f);
    __syncthreads();
  }

  // S = Q K^T for this warp's 16 rows and all 64 (padded) keys.
  uint32_t qf[D / 16][4];
  tf_attn::load_a_frags<D>(qf, qtile, warp * 16, lane);
  float s[kWinRows / 8][4];
  tf_attn::qk_scores<D, kWinRows>(s, qf, ktile, 0, lane);

  // Scale, relative position bias and shift mask, into the log2 domain; padding keys -inf. Rows past N
  // (padding queries) compute finite garbage that is never stored.
  const int g = lane >> 2, t = lane & 3, win = p.window, span = 2 * win - 1;
  const int windows_x = p.grid_w / win, wy = (w / windows_x) * win, wx = (w % windows_x) * win;
  const float logit = cosine ? __ldg(p.logit_scale + h) : 0.f;
  int qi[2], qregion[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int i = warp * 16 + g + r * 8;
    qi[r] = i < n ? i : 0;
    qregion[r] = p.shift == 0 ? 0
                              : window_region(wy + qi[r] / win, p.grid_h, win, p.shift) * 3 +
                                    window_region(wx + qi[r] % win, p.grid_w, win, p.shift);
  }
#pragma unroll
  for (int j = 0; j < kWinRows / 8; ++j) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int r = e >> 1, key = j * 8 + 2 * t + (e & 1);
      if (key >= n) {
        s[j][e] = -INFINITY;
        continue;
      }
      const int i = qi[r];
      const int rel = (i / win - key / win + win - 1) * span + (i % win - key % win + win - 1);
      const float dot = cosine ? s[j][e] * inv_norm[i] * inv_norm[kWinRows + key] * logit : s[j][e] * p.scale;
      float x = dot + __ldg(p.bias + rel * p.n_heads + h);
      if (p.shift != 0) {
        const int kregion = window_region(wy + key / win, p.grid_h, win, p.shift) * 3 +
                            window_region(wx + key % win, p.grid_w, win, p.shift);
        if (kregion != qregion[r]) x -= 100.f;
      }
      s[j][e] = x * tf_attn::kLog2e;
    }
  }

  // Softmax over the whole row (one step from an empty state), then O = P V.
  float o[D / 8][4];
#pragma unroll
  for (int j = 0; j < D / 8; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
  tf_attn::online_softmax<kWinRows / 8, D / 8>(s, o, m, l);
  uint32_t pf[kWinRows / 16][4];
  tf_attn::p_fragments<kWinRows, T>(pf, s);
  tf_attn::pv_accumulate<D, kWinRows>(o, pf, vtile, 0, lane);

  T* out = static_cast<T*>(p.o);
  const long width = long(p.n_heads) * D;
  // quad_sum shuffles: every lane takes part, before any row is skipped
  const float inv_sum[2] = {1.f / tf_attn::quad_sum(l[0]), 1.f / tf_attn::quad_sum(l[1])};
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int i = warp * 16 + g + r * 8;
    if (i >= n) continue;
    const float inv = inv_sum[r];
    T* orow = out + window_token(p, w, i) * width + h * D;
#pragma unroll
    for (int j = 0; j < D / 8; ++j) {
      orow[j * 8 + 2 * t] = ElemTraits<T>::from_float(o[j][2 * r] * inv);
      orow[j * 8 + 2 * t + 1] = ElemTraits<T>::from_float(o[j][2 * r + 1] * inv);
    }
  }
}

}  // namespace tf_win
