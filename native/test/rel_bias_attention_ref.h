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

// A paged case (tf_*_attention_rel_bias_paged): three decoder rows over a cache of kBlocks blocks of kBlockSize
// positions, their blocks scattered out of order; rows 0 and 1 share their first block (a forked beam hypothesis),
// and row 2 is one position into its second block. Queries: every position of row 0 (a causal prefill), the last
// position of rows 1 and 2 (decode steps). Unused table entries hold block 0. Returns per token its table row
// (max_blocks wide) and position; *dense_spans gets the same queries as spans over the rows of the logical
// layout that to_dense gathers (row r's positions at r * kMaxPositions ..), for the dense reference above.
struct PagedCase {
  static constexpr int kBlockSize = 4, kBlocks = 9, kMaxBlocks = 4, kMaxPositions = kMaxBlocks * kBlockSize;
  std::vector<std::vector<int32_t>> tables = {{5, 2, 7, 0}, {5, 8, 0, 0}, {3, 1, 0, 0}};
  std::vector<int> lengths = {11, 7, 5};
  std::vector<int32_t> token_tables, positions, dense_spans;
  int tokens = 0;

  PagedCase() {
    auto add = [&](int row, int p) {
      token_tables.insert(token_tables.end(), tables[row].begin(), tables[row].end());
      positions.push_back(p);
      dense_spans.insert(dense_spans.end(), {row * kMaxPositions, p + 1, p});
      ++tokens;
    };
    for (int p = 0; p < lengths[0]; ++p) add(0, p);
    add(1, lengths[1] - 1);
    add(2, lengths[2] - 1);
  }

  // The cache rows of each decoder row's positions laid out densely: [rows * kMaxPositions][width]; positions a row
  // does not hold stay 0. Row 1's first block is row 0's (shared), so its positions 0..3 equal row 0's.
  std::vector<float> to_dense(const std::vector<float>& cache, int width) const {
    std::vector<float> d(tables.size() * kMaxPositions * size_t(width), 0.f);
    for (size_t r = 0; r < tables.size(); ++r)
      for (int p = 0; p < lengths[r]; ++p) {
        const size_t from = (size_t(tables[r][p / kBlockSize]) * kBlockSize + p % kBlockSize) * width;
        std::copy(cache.begin() + from, cache.begin() + from + width, d.begin() + (r * kMaxPositions + p) * width);
      }
    return d;
  }
};

}  // namespace rel_bias_ref
