// rel_bias_attention.cuh: attention over separately packed key spans with an additive per-head bias by
// relative position: the self- and cross-attention of encoder-decoder models (T5's relative position
// buckets; BART/Marian cross-attention with no bias).
//
// What it computes (tf_cpu_attention_rel_bias's semantics, transfuse.h): for query token t and head h, over the
// keys j = 0 .. count-1 of its span (first key row, key count, query position i from spans[t]),
//   o[t][h] = sum_j softmax_j(scale q.k_j + bias[h][clamp(j - i, -R, R) + R]) v_j,  fp32 accumulation.
// Tiling: one warp per (token, head), grid (tokens, heads). Each lane holds head_dim / 32 (<= 8) query
// elements and as many output accumulators in registers; per key the lanes multiply their slice, a
// butterfly warp_sum gives every lane the score, and an online softmax (running max m and sum l) rescales
// the accumulators. No shared memory, no barriers (each warp is independent).
// Bytes per FLOP: every key and value row is read once per query head, 2 * head_dim * sizeof(T) bytes per
// 4 * head_dim FLOPs: memory- and latency-bound by design. Seq2seq decode steps bring one query per row
// against short spans (target and source lengths of tens to hundreds), where a tensor-core tile would idle.
// Non-goals: long contexts (a flash-style tiled kernel would be the next step), head_dim above 256.
#pragma once
#include "norm_elementwise_io.cuh"

namespace tf_relbias {

using namespace tf_ew;

constexpr int kMaxPerLane = 8;  // head_dim <= 256

template <typename T>
__global__ void __launch_bounds__(32) rel_bias_attention_kernel(const T* __restrict__ q, const T* __restrict__ k,
                                                                const T* __restrict__ v, T* __restrict__ o,
                                                                const int32_t* __restrict__ spans,
                                                                const float* __restrict__ bias, int radius, int n_heads,
                                                                int n_kv_heads, int head_dim, float scale) {
  const int t = blockIdx.x, h = blockIdx.y, lane = threadIdx.x;
  const int kh = h / (n_heads / n_kv_heads);
  const int first = spans[3 * t], count = spans[3 * t + 1], pos = spans[3 * t + 2];
  const size_t qw = size_t(n_heads) * head_dim, kvw = size_t(n_kv_heads) * head_dim;
  const T* qi = q + t * qw + size_t(h) * head_dim;
  float qr[kMaxPerLane], acc[kMaxPerLane];
#pragma unroll
  for (int e = 0; e < kMaxPerLane; ++e) {
    const int d = lane + 32 * e;
    qr[e] = d < head_dim ? to_f32(qi[d]) : 0.f;
    acc[e] = 0.f;
  }
  const float* bh = bias ? bias + size_t(h) * (2 * radius + 1) : nullptr;
  float m = -INFINITY, l = 0.f;
  for (int j = 0; j < count; ++j) {
    const T* kj = k + size_t(first + j) * kvw + size_t(kh) * head_dim;
    const T* vj = v + size_t(first + j) * kvw + size_t(kh) * head_dim;
    float part = 0.f;
#pragma unroll
    for (int e = 0; e < kMaxPerLane; ++e) {
      const int d = lane + 32 * e;
      if (d < head_dim) part += qr[e] * to_f32(kj[d]);
    }
    float s = warp_sum(part) * scale;
    if (bh) {
      int rel = j - pos;
      rel = rel < -radius ? -radius : rel > radius ? radius : rel;
      s += bh[rel + radius];
    }
    const float mNew = fmaxf(m, s);
    const float c = __expf(m - mNew), p = __expf(s - mNew);  // m = -inf at the first key: c = 0
    l = l * c + p;
#pragma unroll
    for (int e = 0; e < kMaxPerLane; ++e) {
      const int d = lane + 32 * e;
      if (d < head_dim) acc[e] = acc[e] * c + p * to_f32(vj[d]);
    }
    m = mNew;
  }
  const float inv = l > 0.f ? 1.f / l : 0.f;
  T* oi = o + t * qw + size_t(h) * head_dim;
#pragma unroll
  for (int e = 0; e < kMaxPerLane; ++e) {
    const int d = lane + 32 * e;
    if (d < head_dim) oi[d] = from_f32<T>(acc[e] * inv);
  }
}

}  // namespace tf_relbias
