// rel_bias_attention.cuh: attention over separately packed key spans with an additive per-head bias by
// relative position: the self- and cross-attention of encoder-decoder models (T5's relative position
// buckets; BART/Marian cross-attention with no bias).
//
// What it computes (tf_cpu_attention_rel_bias's semantics, transfuse.h): for query token t and head h, over the
// keys j = 0 .. count-1 of its span (first key row, key count, query position i from spans[t]),
//   o[t][h] = sum_j softmax_j(scale q.k_j + bias[h][clamp(j - i, -R, R) + R]) v_j,  fp32 accumulation.
// The paged form (tf_attention_rel_bias_paged) is a decoder row's causal self-attention over its own pages of the
// paged KV cache: count = i + 1, key j at block_tables[t][j / block_size], slot j % block_size. Both kernels share
// attend_warp and differ only in that row lookup (one extra int32 load per key for the paged one).
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

// Where key j of a query lives: a span of rows (first + j) or a paged cache (table[j / block_size], slot j % block_size).
struct SpanRows {
  int first;
  __device__ __forceinline__ size_t operator()(int j) const { return size_t(first + j); }
};
struct PagedRows {
  const int32_t* table;
  int block_size;
  __device__ __forceinline__ size_t operator()(int j) const {
    return size_t(table[j / block_size]) * block_size + size_t(j % block_size);
  }
};

// One warp computes o = sum_j softmax_j(scale q.k_j + bias(j - pos)) v_j for one (token, head), j < count.
template <typename T, typename Rows>
__device__ __forceinline__ void attend_warp(const T* __restrict__ qi, const T* __restrict__ k, const T* __restrict__ v,
                                            T* __restrict__ oi, size_t kvw, size_t kv_offset, int count, int pos,
                                            Rows rows, const float* __restrict__ bh, int radius, int head_dim,
                                            float scale, int lane) {
  float qr[kMaxPerLane], acc[kMaxPerLane];
#pragma unroll
  for (int e = 0; e < kMaxPerLane; ++e) {
    const int d = lane + 32 * e;
    qr[e] = d < head_dim ? to_f32(qi[d]) : 0.f;
    acc[e] = 0.f;
  }
  float m = -INFINITY, l = 0.f;
  for (int j = 0; j < count; ++j) {
    const size_t row = rows(j);
    const T* kj = k + row * kvw + kv_offset;
    const T* vj = v + row * kvw + kv_offset;
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
#pragma unroll
  for (int e = 0; e < kMaxPerLane; ++e) {
    const int d = lane + 32 * e;
    if (d < head_dim) oi[d] = from_f32<T>(acc[e] * inv);
  }
}

// Keys of a span of k/v rows: (first, count, pos) = spans[t].
template <typename T>
__global__ void __launch_bounds__(32) rel_bias_attention_kernel(const T* __restrict__ q, const T* __restrict__ k,
                                                                const T* __restrict__ v, T* __restrict__ o,
                                                                const int32_t* __restrict__ spans,
                                                                const float* __restrict__ bias, int radius, int n_heads,
                                                                int n_kv_heads, int head_dim, float scale) {
  const int t = blockIdx.x, h = blockIdx.y, lane = threadIdx.x;
  const int kh = h / (n_heads / n_kv_heads);
  const size_t qw = size_t(n_heads) * head_dim, kvw = size_t(n_kv_heads) * head_dim;
  attend_warp(q + t * qw + size_t(h) * head_dim, k, v, o + t * qw + size_t(h) * head_dim, kvw, size_t(kh) * head_dim,
              spans[3 * t + 1], spans[3 * t + 2], SpanRows{spans[3 * t]},
              bias ? bias + size_t(h) * (2 * radius + 1) : nullptr, radius, head_dim, scale, lane);
}

// A decoder row's own pages of the paged KV cache, causal: the query at position p = positions[t] sees keys 0 .. p
// through its block table (block_tables[t], max_blocks entries).
template <typename T>
__global__ void __launch_bounds__(32) rel_bias_attention_paged_kernel(const T* __restrict__ q, const T* __restrict__ k_cache,
                                                                      const T* __restrict__ v_cache, T* __restrict__ o,
                                                                      const int32_t* __restrict__ block_tables,
                                                                      const int32_t* __restrict__ positions,
                                                                      const float* __restrict__ bias, int radius,
                                                                      int n_heads, int n_kv_heads, int head_dim,
                                                                      int block_size, int max_blocks, float scale) {
  const int t = blockIdx.x, h = blockIdx.y, lane = threadIdx.x;
  const int kh = h / (n_heads / n_kv_heads);
  const size_t qw = size_t(n_heads) * head_dim, kvw = size_t(n_kv_heads) * head_dim;
  const int pos = positions[t];
  attend_warp(q + t * qw + size_t(h) * head_dim, k_cache, v_cache, o + t * qw + size_t(h) * head_dim, kvw,
              size_t(kh) * head_dim, pos + 1, pos, PagedRows{block_tables + size_t(t) * max_blocks, block_size},
              bias ? bias + size_t(h) * (2 * radius + 1) : nullptr, radius, head_dim, scale, lane);
}

}  // namespace tf_relbias
