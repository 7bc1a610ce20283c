// emu_rel_bias_attention.cpp: the CUDA-dialect tf_attention_rel_bias on the emulator against the double-precision
// reference of rel_bias_attention_ref.h, for f32, f16 and bf16 inputs (rounded to the dtype before the reference
// reads them), with and without a bias, grouped KV heads, head dims 7 (a partial lane), 64 and 256 (the largest).
// Tolerance: the output is a convex combination of v in [-1, 1], rounded once to the dtype; fp32 scores and
// softmax contribute ~1e-6; bound 4 * unit roundoff + 1e-5 absolute, plus the same relative.
#include <string>
#include <vector>

#include "dtype_buffer.h"
#include "rel_bias_attention_ref.h"
#include "tf_test.h"
#include "transfuse.h"

namespace {

void run(int dt, int heads, int kv_heads, int head_dim, int radius, bool with_bias, uint64_t seed) {
  int tokens = 0, rows = 0;
  const std::vector<int32_t> spans = rel_bias_ref::case_spans(&tokens, &rows);
  DBuf q(dt, size_t(tokens) * heads * head_dim), k(dt, size_t(rows) * kv_heads * head_dim), v(dt, size_t(rows) * kv_heads * head_dim);
  DBuf o(dt, size_t(tokens) * heads * head_dim);
  fill(q, seed, -1.f, 1.f);
  fill(k, seed + 1, -1.f, 1.f);
  fill(v, seed + 2, -1.f, 1.f);
  fill(o, seed + 4, 5.f, 6.f);
  const std::vector<float> bias = tf_test::random_uniform(size_t(heads) * (2 * radius + 1), seed + 3, -3.f, 3.f);
  const float scale = 0.37f;
  const int err = tf_attention_rel_bias(q.data(), k.data(), v.data(), o.data(), spans.data(), with_bias ? bias.data() : nullptr,
                                        radius, tokens, heads, kv_heads, head_dim, scale, dt, nullptr);
  const std::string what = std::string("rel-bias attention ") + dtype_name(dt) + " heads " + std::to_string(heads) + "/" +
                           std::to_string(kv_heads) + " head_dim " + std::to_string(head_dim) + (with_bias ? " bias" : " no bias");
  if (err) { tf_test::fail(__FILE__, __LINE__, what + ": launch error"); return; }
  const std::vector<double> ref = rel_bias_ref::attention(q.values(), k.values(), v.values(), spans, with_bias ? bias.data() : nullptr,
                                                          radius, tokens, heads, kv_heads, head_dim, scale);
  const double tol = 4 * unit_roundoff(dt) + 1e-5;
  expect_close(what, o.values().data(), ref.data(), ref.size(), tol, tol);
}

// The paged form over PagedCase (scattered blocks, one shared by two rows, causal prefill and decode queries).
void run_paged(int dt, int heads, int kv_heads, int head_dim, int radius, bool with_bias, uint64_t seed) {
  const rel_bias_ref::PagedCase c;
  const int width = kv_heads * head_dim, rows = c.kBlocks * c.kBlockSize;
  DBuf q(dt, size_t(c.tokens) * heads * head_dim), k(dt, size_t(rows) * width), v(dt, size_t(rows) * width);
  DBuf o(dt, size_t(c.tokens) * heads * head_dim);
  fill(q, seed, -1.f, 1.f);
  fill(k, seed + 1, -1.f, 1.f);
  fill(v, seed + 2, -1.f, 1.f);
  fill(o, seed + 4, 5.f, 6.f);
  const std::vector<float> bias = tf_test::random_uniform(size_t(heads) * (2 * radius + 1), seed + 3, -3.f, 3.f);
  const float scale = 0.37f;
  const int err = tf_attention_rel_bias_paged(q.data(), k.data(), v.data(), o.data(), c.token_tables.data(), c.positions.data(),
                                              with_bias ? bias.data() : nullptr, radius, c.tokens, heads, kv_heads, head_dim,
                                              c.kBlockSize, c.kMaxBlocks, scale, dt, nullptr);
  const std::string what = std::string("paged rel-bias attention ") + dtype_name(dt) + " heads " + std::to_string(heads) + "/" +
                           std::to_string(kv_heads) + " head_dim " + std::to_string(head_dim) + (with_bias ? " bias" : " no bias");
  if (err) { tf_test::fail(__FILE__, __LINE__, what + ": launch error"); return; }
  const std::vector<double> ref = rel_bias_ref::attention(q.values(), c.to_dense(k.values(), width), c.to_dense(v.values(), width),
                                                          c.dense_spans, with_bias ? bias.data() : nullptr, radius, c.tokens,
                                                          heads, kv_heads, head_dim, scale);
  const double tol = 4 * unit_roundoff(dt) + 1e-5;
  expect_close(what, o.values().data(), ref.data(), ref.size(), tol, tol);
}

}  // namespace

TF_TEST(rel_bias_attention_paged_matches_reference) {
  for (int dt : kDtypes) {
    run_paged(dt, 4, 4, 64, 12, true, 51);
    run_paged(dt, 4, 2, 7, 3, true, 61);
    run_paged(dt, 2, 1, 256, 8, false, 71);
  }
}

TF_TEST(rel_bias_attention_paged_rejects_bad_arguments) {
  DBuf a(TF_DTYPE_F16, 1024);
  int32_t table[1] = {0}, pos[1] = {0};
  EXPECT(tf_attention_rel_bias_paged(a.data(), a.data(), a.data(), a.data(), table, pos, nullptr, 0, 1, 3, 2, 16, 4, 1, 1.f, TF_DTYPE_F16, nullptr) != 0);
  EXPECT(tf_attention_rel_bias_paged(a.data(), a.data(), a.data(), a.data(), table, pos, nullptr, 0, 1, 2, 2, 257, 4, 1, 1.f, TF_DTYPE_F16, nullptr) != 0);
  EXPECT(tf_attention_rel_bias_paged(a.data(), a.data(), a.data(), a.data(), table, pos, nullptr, 0, 1, 2, 2, 16, 0, 1, 1.f, TF_DTYPE_F16, nullptr) != 0);
  EXPECT(tf_attention_rel_bias_paged(a.data(), a.data(), a.data(), a.data(), nullptr, pos, nullptr, 0, 1, 2, 2, 16, 4, 1, 1.f, TF_DTYPE_F16, nullptr) != 0);
  EXPECT_EQ(tf_attention_rel_bias_paged(a.data(), a.data(), a.data(), a.data(), table, pos, nullptr, 0, 0, 2, 2, 16, 4, 1, 1.f, TF_DTYPE_F16, nullptr), 0);
}

TF_TEST(rel_bias_attention_matches_reference) {
  for (int dt : kDtypes) {
    run(dt, 4, 4, 64, 12, true, 11);
    run(dt, 4, 2, 7, 3, true, 21);
    run(dt, 2, 1, 256, 8, false, 31);
  }
}

TF_TEST(rel_bias_attention_rejects_bad_arguments) {
  DBuf a(TF_DTYPE_F16, 1024);
  int32_t spans[3] = {0, 1, 0};
  EXPECT(tf_attention_rel_bias(a.data(), a.data(), a.data(), a.data(), spans, nullptr, 0, 1, 3, 2, 16, 1.f, TF_DTYPE_F16, nullptr) != 0);
  EXPECT(tf_attention_rel_bias(a.data(), a.data(), a.data(), a.data(), spans, nullptr, 0, 1, 2, 2, 257, 1.f, TF_DTYPE_F16, nullptr) != 0);
  EXPECT(tf_attention_rel_bias(a.data(), a.data(), a.data(), a.data(), spans, nullptr, 0, 1, 2, 2, 16, 1.f, 9, nullptr) != 0);
  EXPECT_EQ(tf_attention_rel_bias(a.data(), a.data(), a.data(), a.data(), spans, nullptr, 0, 0, 2, 2, 16, 1.f, TF_DTYPE_F16, nullptr), 0);
}
