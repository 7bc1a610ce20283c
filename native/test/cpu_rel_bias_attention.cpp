// cpu_rel_bias_attention.cpp: tf_cpu_attention_rel_bias against the double-precision reference of
// rel_bias_attention_ref.h, with and without a bias table, a bias radius smaller than the spans (clamped
// relative positions), grouped KV heads and head dims below and above one vector. Biases are drawn in [-3, 3]
// so that a wrong table entry moves a score by O(1). Tolerance as cpu_attention_ops.cpp: 2e-5 + 1e-4 |ref|.
#include <string>
#include <vector>

#include "rel_bias_attention_ref.h"
#include "tf_test.h"
#include "transfuse.h"

namespace {

void run(int heads, int kv_heads, int head_dim, int radius, bool with_bias, uint64_t seed) {
  int tokens = 0, rows = 0;
  const std::vector<int32_t> spans = rel_bias_ref::case_spans(&tokens, &rows);
  const std::vector<float> q = tf_test::random_uniform(size_t(tokens) * heads * head_dim, seed);
  const std::vector<float> k = tf_test::random_uniform(size_t(rows) * kv_heads * head_dim, seed + 1);
  const std::vector<float> v = tf_test::random_uniform(size_t(rows) * kv_heads * head_dim, seed + 2);
  const std::vector<float> bias = tf_test::random_uniform(size_t(heads) * (2 * radius + 1), seed + 3, -3.f, 3.f);
  std::vector<float> out(size_t(tokens) * heads * head_dim, 7.f);
  const float scale = 0.37f;
  tf_cpu_attention_rel_bias(out.data(), q.data(), k.data(), v.data(), spans.data(), with_bias ? bias.data() : nullptr, radius,
                            tokens, heads, kv_heads, head_dim, scale);
  const std::vector<double> ref = rel_bias_ref::attention(q, k, v, spans, with_bias ? bias.data() : nullptr, radius, tokens,
                                                          heads, kv_heads, head_dim, scale);
  const std::string what = "rel-bias attention heads " + std::to_string(heads) + "/" + std::to_string(kv_heads) + " head_dim " +
                           std::to_string(head_dim) + " radius " + std::to_string(radius) + (with_bias ? " bias" : " no bias");
  expect_close(what, out.data(), ref.data(), ref.size(), 2e-5, 1e-4);
}

void run_paged(int heads, int kv_heads, int head_dim, int radius, bool with_bias, uint64_t seed) {
  const rel_bias_ref::PagedCase c;
  const int width = kv_heads * head_dim, rows = c.kBlocks * c.kBlockSize;
  const std::vector<float> q = tf_test::random_uniform(size_t(c.tokens) * heads * head_dim, seed);
  const std::vector<float> k = tf_test::random_uniform(size_t(rows) * width, seed + 1);
  const std::vector<float> v = tf_test::random_uniform(size_t(rows) * width, seed + 2);
  const std::vector<float> bias = tf_test::random_uniform(size_t(heads) * (2 * radius + 1), seed + 3, -3.f, 3.f);
  std::vector<float> out(size_t(c.tokens) * heads * head_dim, 7.f);
  const float scale = 0.37f;
  tf_cpu_attention_rel_bias_paged(out.data(), q.data(), k.data(), v.data(), c.token_tables.data(), c.positions.data(),
                                  with_bias ? bias.data() : nullptr, radius, c.tokens, heads, kv_heads, head_dim, c.kBlockSize,
                                  c.kMaxBlocks, scale);
  const std::vector<double> ref = rel_bias_ref::attention(q, c.to_dense(k, width), c.to_dense(v, width), c.dense_spans,
                                                          with_bias ? bias.data() : nullptr, radius, c.tokens, heads, kv_heads,
                                                          head_dim, scale);
  const std::string what = "paged rel-bias attention heads " + std::to_string(heads) + "/" + std::to_string(kv_heads) +
                           " head_dim " + std::to_string(head_dim) + " radius " + std::to_string(radius) +
                           (with_bias ? " bias" : " no bias");
  expect_close(what, out.data(), ref.data(), ref.size(), 2e-5, 1e-4);
}

}  // namespace

TF_TEST(rel_bias_attention_paged_matches_reference) {
  for (int threads : {1, 2}) {
    tf_cpu_set_threads(threads);
    run_paged(4, 4, 16, 12, true, 51);
    run_paged(4, 2, 64, 3, true, 61);  // radius 3: clamped relative positions
    run_paged(2, 2, 7, 5, false, 71);  // BART/Marian: no bias
  }
}

TF_TEST(rel_bias_attention_matches_reference) {
  for (int threads : {1, 2}) {
    tf_cpu_set_threads(threads);
    run(4, 4, 16, 12, true, 11);
    run(4, 2, 64, 3, true, 21);   // radius 3 < spans: clamped relative positions
    run(3, 1, 24, 8, false, 31);  // cross-attention: no bias
    run(2, 2, 7, 5, true, 41);
  }
}
