// rel_bias_attention_ref.h: a double-precision reference for tf_cpu_attention_rel_bias / tf_attention_rel_bias,
// written as the definition reads (all scores, then their max, exponentials, sum, weighted values) rather than
// as the kernels' single online pass. Also the test case: spans that mimic a seq2seq batch (encoder
// self-attention, a causal decoder over per-row slots, cross-attention sharing one source between rows).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace rel_bias_ref {

inline std::vector<double> attention(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                                     const std::vector<int32_t>& spans, const float* bias, int radius, int tokens, int heads,
                                     int kv_heads, int head_dim, float scale) {
  std::vector<double> out(size_t(tokens) * heads * head_dim, 0.0);
  const int qw = heads * head_dim, kvw = kv_heads * head_dim;
  for (int t = 0; t < tokens; ++t)
    for (int h = 0; h < heads; ++h) {
      const int kh = h / (heads / kv_heads), first = spans[3 * t], count = spans[3 * t + 1], pos = spans[3 * t + 2];
      std::vector<double> s(count);
      double mx = -INFINITY;
      for (int j = 0; j < count; ++j) {
        double dot = 0;
        for (int d = 0; d < head_dim; ++d)
          dot += double(q[size_t(t) * qw + h * head_dim + d]) * k[size_t(first + j) * kvw + kh * head_dim + d];
        s[j] = dot * scale + (bias ? bias[size_t(h) * (2 * radius + 1) + std::clamp(j - pos, -radius, radius) + radius] : 0.0);
        mx = std::max(mx, s[j]);
      }
      double sum = 0;
      for (int j = 0; j < count; ++j) sum += s[j] = std::exp(s[j] - mx);
      for (int j = 0; j < count; ++j)
        for (int d = 0; d < head_dim; ++d)
          out[size_t(t) * qw + h * head_dim + d] += s[j] / sum * v[size_t(first + j) * kvw + kh * head_dim + d];
    }
  return out;
}

// Spans of a small seq2seq batch over key rows: 0..9 a source of 10 (encoder: every query sees all of it at its
// own position), 10..25 two decoder slots of 8 (causal: a query at position p sees p + 1 keys), and two
// cross-attention queries sharing source rows 0..9; one query with no keys (its output must be 0).
inline std::vector<int32_t> case_spans(int* tokens, int* key_rows) {
  std::vector<int32_t> s;
  for (int i = 0; i < 10; ++i) s.insert(s.end(), {0, 10, i});
  for (int p = 0; p < 8; ++p) s.insert(s.end(), {10, p + 1, p});
  for (int p = 0; p < 5; ++p) s.insert(s.end(), {18, p + 1, p});
  s.insert(s.end(), {0, 10, 3});
  s.insert(s.end(), {0, 10, 0});
  s.insert(s.end(), {5, 0, 0});
  *tokens = int(s.size() / 3);
  *key_rows = 26;
  return s;
}

}  // namespace rel_bias_ref
