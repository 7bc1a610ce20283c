// rel_bias_attention.cpp: attention over separately packed keys with an additive per-head bias by relative
// position, the attention of encoder-decoder models (T5's relative position buckets, and plain cross-attention
// with no bias). Semantics in transfuse.h (tf_cpu_attention_rel_bias, tf_cpu_attention_rel_bias_paged).
//
// Why its own op rather than the paged or varlen kernels: a query's keys are an arbitrary row range of k/v
// (the encoder output of its request, shared by every beam hypothesis) or a decoder row's own pages of the paged
// KV cache, and T5 adds bias[h][j - i] before the softmax. Work item = (query token, head); one pass over the keys
// with an online softmax (running max and sum), fp32 throughout. The key count per query is small (source or
// target length), so the loop is scalar over keys and vectorisable over the head dimension (#pragma omp simd).
// Both entry points share attend(): they differ only in where key j of a query lives (span row first + j, or
// block table[j / block_size], slot j % block_size).
#include "transfuse.h"
#include "parallel.h"

#include <cmath>
#include <cstdint>
#include <vector>

namespace {

// One (token, head) item: o = sum_j softmax_j(scale qi.k_j + bias(j - pos)) v_j over j < count, key_row(j) the
// row of k/v holding key j (kv_offset selects the KV head within the row).
template <typename KeyRow>
inline void attend(float* o, const float* qi, const float* k, const float* v, long kvw, long kv_offset, int count, int pos,
                   const float* bh, int bias_radius, int head_dim, float scale, float* acc, KeyRow key_row) {
  for (int d = 0; d < head_dim; ++d) acc[d] = 0.f;
  float m = -INFINITY, l = 0.f;
  for (int j = 0; j < count; ++j) {
    const long row = key_row(j);
    const float* kj = k + row * kvw + kv_offset;
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int d = 0; d < head_dim; ++d) s += qi[d] * kj[d];
    s *= scale;
    if (bh) {
      int rel = j - pos;
      rel = rel < -bias_radius ? -bias_radius : rel > bias_radius ? bias_radius : rel;
      s += bh[rel + bias_radius];
    }
    const float* vj = v + row * kvw + kv_offset;
    if (s > m) {
      const float c = std::exp(m - s);  // m = -inf: c = 0 and acc, l are still 0
      l = l * c + 1.f;
#pragma omp simd
      for (int d = 0; d < head_dim; ++d) acc[d] = acc[d] * c + vj[d];
      m = s;
    } else {
      const float p = std::exp(s - m);
      l += p;
#pragma omp simd
      for (int d = 0; d < head_dim; ++d) acc[d] += p * vj[d];
    }
  }
  const float inv = l > 0.f ? 1.f / l : 0.f;
  for (int d = 0; d < head_dim; ++d) o[d] = acc[d] * inv;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) void tf_cpu_attention_rel_bias(float* out, const float* q, const float* k, const float* v, const int32_t* spans,
                                          const float* bias, int bias_radius, int tokens, int n_heads, int n_kv_heads,
                                          int head_dim, float scale) {
  const long items = long(tokens) * n_heads;
  const int group = n_heads / n_kv_heads;
  const long qw = long(n_heads) * head_dim, kvw = long(n_kv_heads) * head_dim;
  long work = 0;
  for (int t = 0; t < tokens; ++t) work += long(spans[3 * t + 1]) * n_heads * head_dim * 4;
  tf_parallel_ranges(items, work, [&](long begin, long end) {
    std::vector<float> acc(head_dim);
    for (long item = begin; item < end; ++item) {
      const int t = int(item / n_heads), h = int(item % n_heads), kh = h / group;
      const int first = spans[3 * t], count = spans[3 * t + 1], pos = spans[3 * t + 2];
      const float* bh = bias ? bias + long(h) * (2 * bias_radius + 1) : nullptr;
      attend(out + t * qw + long(h) * head_dim, q + t * qw + long(h) * head_dim, k, v, kvw, long(kh) * head_dim, count, pos,
             bh, bias_radius, head_dim, scale, acc.data(), [first](int j) { return long(first) + j; });
    }
  });
}

extern "C" __attribute__((visibility("default"))) void tf_cpu_attention_rel_bias_paged(
    float* out, const float* q, const float* k_cache, const float* v_cache, const int32_t* block_tables,
    const int32_t* positions, const float* bias, int bias_radius, int tokens, int n_heads, int n_kv_heads, int head_dim,
    int block_size, int max_blocks, float scale) {
  const long items = long(tokens) * n_heads;
  const int group = n_heads / n_kv_heads;
  const long qw = long(n_heads) * head_dim, kvw = long(n_kv_heads) * head_dim;
  long work = 0;
  for (int t = 0; t < tokens; ++t) work += long(positions[t] + 1) * n_heads * head_dim * 4;
  tf_parallel_ranges(items, work, [&](long begin, long end) {
    std::vector<float> acc(head_dim);
    for (long item = begin; item < end; ++item) {
      const int t = int(item / n_heads), h = int(item % n_heads), kh = h / group;
      const int pos = positions[t];
      const int32_t* table = block_tables + long(t) * max_blocks;
      const float* bh = bias ? bias + long(h) * (2 * bias_radius + 1) : nullptr;
      attend(out + t * qw + long(h) * head_dim, q + t * qw + long(h) * head_dim, k_cache, v_cache, kvw, long(kh) * head_dim,
             pos + 1, pos, bh, bias_radius, head_dim, scale, acc.data(),
             [table, block_size](int j) { return long(table[j / block_size]) * block_size + j % block_size; });
    }
  });
}
