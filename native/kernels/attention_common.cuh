// attention_common.cuh: the pieces shared by attention prefill and decode.
//
// What it holds
//   - ElemTraits<T>: the tensor-core mma for T (fp16 or bf16 inputs, fp32 accumulate) and packing
//     two fp32 values into one 32-bit register of T pairs (the A/B fragment element type).
//   - Shared-memory tile staging: rows of head_dim elements copied with 16-byte cp.async into a
//     row-padded tile (row stride head_dim + 8 elements). The 16-byte pad shifts consecutive rows by
//     four banks, so the eight 16-byte row reads of one ldmatrix phase hit eight distinct bank groups
//     (conflict free) without an XOR swizzle, at a cost of 8/head_dim extra shared memory.
//   - Warp-level building blocks on one 16-row query slab (the m16 of mma.m16n8k16):
//       load_a_frags:     Q[16 x D] from shared into A fragments (ldmatrix.x4), kept in registers
//       qk_scores:        S[16 x NK] = Q K^T with K rows from shared (ldmatrix.x4, no transpose:
//                         the B operand "col" layout of K^T is K row-major); Q either as A fragments
//                         kept in registers (D <= 128) or re-read from the shared Q tile one 16-column
//                         step at a time (D = 256: its D/4 fragment registers would not fit beside the
//                         D/2 fp32 accumulators of O without spilling; see kQInRegisters)
//       pv_accumulate:    O[16 x D] += P V with V rows from shared (ldmatrix.x4.trans)
//       mask_and_scale:   scale (and optional tanh soft-cap) into the log2 domain, ALiBi bias,
//                         causal / window / length masks
//       online_softmax:   running row max and sum (FlashAttention-2 style; rescales O)
//       p_fragments:      the probabilities, rounded to T, re-used in registers as the A operand
//   Fragment layouts follow the PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point
//   type" and "ldmatrix": with g = lane / 4 and t = lane % 4, accumulator c0,c1 hold row g, columns
//   2t, 2t+1 and c2,c3 row g+8; A a0..a3 hold (row g, k 2t..), (row g+8, k 2t..), (row g, k 2t+8..),
//   (row g+8, k 2t+8..); B b0,b1 hold (k 2t.., col g), (k 2t+8.., col g).
//
// Numerics: scores are accumulated in fp32 and moved to the log2 domain once (score * scale * log2e,
// so exp() becomes one exp2f); with a soft-cap c > 0 (Gemma 2) the scaled score x becomes
// c * tanh(x / c) first, i.e. (c log2e) * tanh(score * (scale / c)), with tanh from one exp2f and one
// fast divide (tanh_approx: absolute error ~1e-7, far below the rounding of P to T). The softmax state
// (row max m, row sum l) is fp32. Only P is rounded to T before P·V, as in FlashAttention; l sums the
// unrounded P.
#pragma once
#include "tf_device.cuh"
#include <stdint.h>

namespace tf_attn {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
constexpr int kSmemPad = 8;  // elements of padding per shared-memory row (16 bytes)

template <int D> constexpr int kSmemStride = D + kSmemPad;  // elements between shared rows

// Whether a warp keeps its Q slab's A fragments in registers for the whole pass (D/4 32-bit registers
// per thread). D = 256 would need 64 of them beside 128 fp32 O accumulators: ptxas then spills under the
// 255-register limit, so Q is re-read from shared memory (one ldmatrix.x4 per 16-column step per key
// tile, on top of the NK/16 ldmatrix of K in that step).
template <int D> constexpr bool kQInRegisters = D <= 128;

// Largest dynamic shared memory a CTA may opt into on sm_80 (A100: 163 KiB); sm_90 allows 227 KiB.
constexpr int kMaxSmemBytesSm80 = 163 * 1024;

template <typename T> struct ElemTraits;

template <> struct ElemTraits<__half> {
  static __device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                             const float (&c)[4]) {
    tf::mma_m16n8k16_f16(d, a, b, c);
  }
  static __device__ __forceinline__ __half from_float(float x) { return __float2half(x); }
  // lo goes to the low 16 bits: the element with the lower column index (PTX fragment order).
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&h);
  }
};

template <> struct ElemTraits<__nv_bfloat16> {
  static __device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                             const float (&c)[4]) {
    tf::mma_m16n8k16_bf16(d, a, b, c);
  }
  static __device__ __forceinline__ __nv_bfloat16 from_float(float x) { return __float2bfloat16(x); }
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&h);
  }
};

// Stage ROWS rows of D elements into a padded shared tile with 16-byte cp.async (THREADS threads
// cooperate, one 16-byte chunk each per step). row_src(r) returns the global address of row r, or
// nullptr for a row past the end: that row is zero-filled (so masked keys hold 0, never stale or NaN
// shared memory, which would poison P·V even with P = 0). `any_valid` is a readable global address
// handed to the zero-fill form, which reads nothing but still takes an address.
template <int ROWS, int D, int THREADS, typename T, typename RowSrc>
__device__ __forceinline__ void stage_rows_async(T* tile, RowSrc row_src, const T* any_valid, int tid) {
  constexpr int kChunks = D / 8;  // 16-byte chunks per row
  constexpr int kTotal = ROWS * kChunks;
  static_assert(kTotal % THREADS == 0, "tile must split evenly over the threads");
#pragma unroll
  for (int i = 0; i < kTotal / THREADS; ++i) {
    const int idx = tid + i * THREADS;
    const int r = idx / kChunks, c = idx % kChunks;
    const T* src = row_src(r);
    const bool valid = src != nullptr;
    tf::cp_async_16_zfill(tile + r * kSmemStride<D> + c * 8, valid ? src + c * 8 : any_valid, valid);
  }
}

// A fragments of the 16 x D slab starting at shared row row0: frag[kk] covers columns 16kk..16kk+15.
// ldmatrix.x4: lanes 0-7 address matrix 0 (rows 0-7, cols 0-7) -> a0, lanes 8-15 matrix 1 (rows 8-15,
// cols 0-7) -> a1, lanes 16-23 matrix 2 (rows 0-7, cols 8-15) -> a2, lanes 24-31 (rows 8-15, cols 8-15) -> a3.
template <int D, typename T>
__device__ __forceinline__ void load_a_frags(uint32_t (&frag)[D / 16][4], const T* tile, int row0, int lane) {
  const int r = row0 + (lane & 7) + ((lane >> 3) & 1) * 8;
  const int c = (lane >> 4) * 8;
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) tf::ldmatrix_x4(frag[kk], tile + r * kSmemStride<D> + kk * 16 + c);
}

// S[16 x NK] = Q · K[key0 .. key0+NK)^T. B = K^T is "col" layout, i.e. K rows in memory, so no
// transpose: matrix 0 = keys 0-7 / d 0-7 (b0 of n-tile 2np), 1 = keys 0-7 / d 8-15 (b1), 2 and 3 the same
// for keys 8-15 (n-tile 2np+1).
template <int D, int NK, typename T>
__device__ __forceinline__ void qk_scores(float (&s)[NK / 8][4], const uint32_t (&qf)[D / 16][4], const T* ktile,
                                          int key0, int lane) {
#pragma unroll
  for (int j = 0; j < NK / 8; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
  const int key_lane = key0 + (lane & 7) + (lane >> 4) * 8;
  const int d_lane = ((lane >> 3) & 1) * 8;
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
#pragma unroll
    for (int np = 0; np < NK / 16; ++np) {
      uint32_t b[4];
      tf::ldmatrix_x4(b, ktile + (key_lane + np * 16) * kSmemStride<D> + kk * 16 + d_lane);
      const uint32_t b_lo[2] = {b[0], b[1]}, b_hi[2] = {b[2], b[3]};
      ElemTraits<T>::mma(s[2 * np], qf[kk], b_lo, s[2 * np]);
      ElemTraits<T>::mma(s[2 * np + 1], qf[kk], b_hi, s[2 * np + 1]);
    }
  }
}

// The same product with Q read from the shared tile (rows q_row0 .. q_row0+15, see load_a_frags) one
// 16-column step at a time instead of from registers (kQInRegisters<D> false).
template <int D, int NK, typename T>
__device__ __forceinline__ void qk_scores_q_shared(float (&s)[NK / 8][4], const T* qtile, int q_row0, const T* ktile,
                                                   int key0, int lane) {
#pragma unroll
  for (int j = 0; j < NK / 8; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
  const int q_r = q_row0 + (lane & 7) + ((lane >> 3) & 1) * 8;
  const int q_c = (lane >> 4) * 8;
  const int key_lane = key0 + (lane & 7) + (lane >> 4) * 8;
  const int d_lane = ((lane >> 3) & 1) * 8;
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    uint32_t qf[4];
    tf::ldmatrix_x4(qf, qtile + q_r * kSmemStride<D> + kk * 16 + q_c);
#pragma unroll
    for (int np = 0; np < NK / 16; ++np) {
      uint32_t b[4];
      tf::ldmatrix_x4(b, ktile + (key_lane + np * 16) * kSmemStride<D> + kk * 16 + d_lane);
      const uint32_t b_lo[2] = {b[0], b[1]}, b_hi[2] = {b[2], b[3]};
      ElemTraits<T>::mma(s[2 * np], qf, b_lo, s[2 * np]);
      ElemTraits<T>::mma(s[2 * np + 1], qf, b_hi, s[2 * np + 1]);
    }
  }
}

// Q fragments of a warp's slab for the pass: the D/16 A fragments in registers when kQInRegisters<D>,
// else nothing (a one-element placeholder) and qk_scores reads Q from the shared tile.
template <int D> struct QFragments {
  uint32_t f[kQInRegisters<D> ? D / 16 : 1][4];
};

template <int D, typename T>
__device__ __forceinline__ void load_q(QFragments<D>& qf, const T* qtile, int row0, int lane) {
  if constexpr (kQInRegisters<D>) load_a_frags<D>(qf.f, qtile, row0, lane);
}

template <int D, int NK, typename T>
__device__ __forceinline__ void qk_scores(float (&s)[NK / 8][4], const QFragments<D>& qf, const T* qtile, int q_row0,
                                          const T* ktile, int key0, int lane) {
  if constexpr (kQInRegisters<D>) qk_scores<D, NK>(s, qf.f, ktile, key0, lane);
  else qk_scores_q_shared<D, NK>(s, qtile, q_row0, ktile, key0, lane);
}

// Row r of a 16-row slab held by this lane: r = 0 -> row g, r = 1 -> row g + 8.
// Masking rule (positions are absolute within the sequence; q_pos is already aligned bottom-right):
//   key valid  <=>  k < k_end  and  (!causal or k <= q)  and  (window <= 0 or q - k < window)
//                  and (causal or window <= 0 or k - q < window)
// Valid scores become f(score) - alibi_log2 * |q - k|, invalid ones -inf, where f is the scaling into
// the log2 domain: f(x) = x * scale_log2, or with a soft-cap c > 0: f(x) = softcap_log2 * tanh(x * softcap_in)
// (softcap_log2 = c log2e, softcap_in = scale / c), i.e. log2e * c * tanh(scale x / c).
struct MaskSpec {
  int k_end;           // keys at or past this position are padding
  int causal;          // nonzero: causal
  int window;          // <= 0: no sliding window
  float scale_log2;    // softmax_scale * log2(e)
  float softcap_log2;  // soft-cap c * log2(e); 0: no soft-cap
  float softcap_in;    // softmax_scale / c (unused without a soft-cap)
};

// tanh(x) = 1 - 2 / (e^{2x} + 1). |x| is clamped to 9 (tanh(9) rounds to 1 in fp32) so that e^{2x} stays
// finite for the fast divide. Absolute error ~1e-7 (the cancellation of 1 - ... near 0): with a cap c the
// score moves by ~1e-7 c, against P's rounding to T of 2^-11 (fp16) or 2^-8 (bf16) relative. Cheaper in
// registers and instructions than tanhf, which the unrolled score tiles would replicate 8 to 32 times.
__device__ __forceinline__ float tanh_approx(float x) {
  const float y = fminf(fmaxf(x, -9.f), 9.f);
  return 1.f - __fdividef(2.f, exp2f(y * (2.f * kLog2e)) + 1.f);
}

// The log2-domain score of a raw dot product (MaskSpec's f).
__device__ __forceinline__ float scaled_score(const MaskSpec& ms, float x) {
  return ms.softcap_log2 > 0.f ? ms.softcap_log2 * tanh_approx(x * ms.softcap_in) : x * ms.scale_log2;
}

template <int NK>
__device__ __forceinline__ void mask_and_scale(float (&s)[NK / 8][4], const MaskSpec& ms, int key0,
                                               const int (&q_pos)[2], const float (&alibi_log2)[2], int lane,
                                               bool need_mask) {
  const int t = lane & 3;
  if (!need_mask) {  // interior tile: plain scaling, the common case of long sequences
    if (ms.softcap_log2 > 0.f) {
#pragma unroll
      for (int j = 0; j < NK / 8; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) s[j][e] = ms.softcap_log2 * tanh_approx(s[j][e] * ms.softcap_in);
    } else {
#pragma unroll
      for (int j = 0; j < NK / 8; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) s[j][e] *= ms.scale_log2;
    }
    return;
  }
#pragma unroll
  for (int j = 0; j < NK / 8; ++j) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int r = e >> 1;
      const int k = key0 + j * 8 + 2 * t + (e & 1);
      const int q = q_pos[r];
      const int dist = q - k;
      bool valid = k < ms.k_end;
      if (ms.causal) valid = valid && dist >= 0;
      if (ms.window > 0) valid = valid && dist < ms.window && (ms.causal || -dist < ms.window);
      const float bias = alibi_log2[r] * (float)(dist < 0 ? -dist : dist);
      s[j][e] = valid ? scaled_score(ms, s[j][e]) - bias : -INFINITY;
    }
  }
}

// Whether keys [key0, key0 + nk) are all valid for every query position in [q_lo, q_hi]; if so and
// no ALiBi, mask_and_scale can take its fast path.
__device__ __forceinline__ bool tile_needs_mask(const MaskSpec& ms, int key0, int nk, int q_lo, int q_hi,
                                                bool alibi) {
  if (alibi) return true;
  if (key0 + nk > ms.k_end) return true;
  if (ms.causal && key0 + nk - 1 > q_lo) return true;
  if (ms.window > 0) {
    if (q_hi - key0 >= ms.window) return true;
    if (!ms.causal && key0 + nk - 1 - q_lo >= ms.window) return true;
  }
  return false;
}

// One step of the online softmax over a tile already in the log2 domain. m: running row max; l: this
// lane's partial row sum (its own columns; the quad is summed once at the end, since all four lanes
// apply the same rescale factors). Rows with every key masked so far keep m = -inf and l = 0; the
// subtraction base is 0 for them so no inf - inf NaN appears.
template <int NT, int DT>
__device__ __forceinline__ void online_softmax(float (&s)[NT][4], float (&o)[DT][4], float (&m)[2], float (&l)[2]) {
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float mx = m[r];
#pragma unroll
    for (int j = 0; j < NT; ++j) mx = fmaxf(mx, fmaxf(s[j][2 * r], s[j][2 * r + 1]));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
    const float base = mx == -INFINITY ? 0.f : mx;
    const float alpha = exp2f(m[r] - base);
    m[r] = mx;
    float sum = 0.f;
#pragma unroll
    for (int j = 0; j < NT; ++j) {
      s[j][2 * r] = exp2f(s[j][2 * r] - base);
      s[j][2 * r + 1] = exp2f(s[j][2 * r + 1] - base);
      sum += s[j][2 * r] + s[j][2 * r + 1];
    }
    l[r] = l[r] * alpha + sum;
#pragma unroll
    for (int j = 0; j < DT; ++j) {
      o[j][2 * r] *= alpha;
      o[j][2 * r + 1] *= alpha;
    }
  }
}

// P (accumulator layout, NK/8 n-tiles) -> A fragments (NK/16 k-steps), rounded to T. The accumulator
// of n-tiles 2kk and 2kk+1 is exactly the A fragment of k-step kk (a0 = rows g / cols 2t of n-tile 2kk ...).
template <int NK, typename T>
__device__ __forceinline__ void p_fragments(uint32_t (&pf)[NK / 16][4], const float (&s)[NK / 8][4]) {
#pragma unroll
  for (int kk = 0; kk < NK / 16; ++kk) {
    pf[kk][0] = ElemTraits<T>::pack(s[2 * kk][0], s[2 * kk][1]);
    pf[kk][1] = ElemTraits<T>::pack(s[2 * kk][2], s[2 * kk][3]);
    pf[kk][2] = ElemTraits<T>::pack(s[2 * kk + 1][0], s[2 * kk + 1][1]);
    pf[kk][3] = ElemTraits<T>::pack(s[2 * kk + 1][2], s[2 * kk + 1][3]);
  }
}

// O[16 x D] += P[16 x NK] · V[key0 .. key0+NK)[0 .. D). B = V must be "col" (k = key contiguous per
// column) but V rows are keys, so ldmatrix.trans: matrix 0 = keys 0-7 / d 0-7 gives b0 of d-tile 2dp,
// 1 = keys 8-15 / d 0-7 gives b1, 2 and 3 the same for d 8-15 (d-tile 2dp+1).
template <int D, int NK, typename T>
__device__ __forceinline__ void pv_accumulate(float (&o)[D / 8][4], const uint32_t (&pf)[NK / 16][4], const T* vtile,
                                              int key0, int lane) {
  const int key_lane = key0 + (lane & 7) + ((lane >> 3) & 1) * 8;
  const int d_lane = (lane >> 4) * 8;
#pragma unroll
  for (int kk = 0; kk < NK / 16; ++kk) {
#pragma unroll
    for (int dp = 0; dp < D / 16; ++dp) {
      uint32_t b[4];
      tf::ldmatrix_x4_trans(b, vtile + (key_lane + kk * 16) * kSmemStride<D> + dp * 16 + d_lane);
      const uint32_t b_lo[2] = {b[0], b[1]}, b_hi[2] = {b[2], b[3]};
      ElemTraits<T>::mma(o[2 * dp], pf[kk], b_lo, o[2 * dp]);
      ElemTraits<T>::mma(o[2 * dp + 1], pf[kk], b_hi, o[2 * dp + 1]);
    }
  }
}

// Sum of this lane's partial row sums over its quad (the four lanes sharing a row).
__device__ __forceinline__ float quad_sum(float x) {
  x += __shfl_xor_sync(0xffffffffu, x, 1);
  x += __shfl_xor_sync(0xffffffffu, x, 2);
  return x;
}

}  // namespace tf_attn
