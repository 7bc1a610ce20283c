// cpu_bert_variant_ops.cpp: the BERT-variant ops of libtransfuse_cpu (bert_variant_ops.cpp: NoNorm, RoPE in
// place, windowed / ALiBi packed attention) against double-precision loops written here from the definitions
// in transfuse.h, with the thread pool at 1 and 2 threads.
//
// Tolerances (|got - ref| <= atol + rtol |ref|):
//  - NoNorm: one fp32 add and one fma per element: 1e-6 + 1e-6 |ref|.
//  - RoPE: fp32 angle and cosf/sinf, as the definition says (the reference takes the same fp32 angle):
//    1e-6 + 1e-5 |ref|.
//  - attention: fp32 dot products over head_dim <= 64 and a softmax over <= 70 keys: 2e-5 + 1e-4 |ref|. A key
//    let through the window, a missing ALiBi term or the wrong sequence boundary moves outputs by > 1e-2.
#include <cmath>
#include <string>
#include <vector>

#include "tf_test.h"
#include "transfuse.h"

namespace {

void no_norm_case(int rows, int dim, bool residual, bool bias, uint64_t seed) {
  std::vector<float> x = tf_test::random_uniform(size_t(rows) * dim, seed), res = tf_test::random_uniform(x.size(), seed + 1),
                     w = tf_test::random_uniform(dim, seed + 2), b = tf_test::random_uniform(dim, seed + 3);
  std::vector<double> ref(x.size()), ref_res(x.size());
  for (int r = 0; r < rows; r++)
    for (int i = 0; i < dim; i++) {
      const size_t o = size_t(r) * dim + i;
      const double h = double(x[o]) + (residual ? double(res[o]) : 0.0);
      ref_res[o] = h;
      ref[o] = h * w[i] + (bias ? b[i] : 0.0);
    }
  std::vector<float> out(x.size(), 99.f);
  const std::string what = "no_norm rows=" + std::to_string(rows) + " dim=" + std::to_string(dim) + (residual ? " +residual" : "") +
                           (bias ? " +bias" : "");
  tf_cpu_no_norm(out.data(), residual ? res.data() : nullptr, x.data(), w.data(), bias ? b.data() : nullptr, rows, dim);
  expect_close(what, out.data(), ref.data(), ref.size(), 1e-6, 1e-6);
  if (residual) expect_close(what + " residual", res.data(), ref_res.data(), ref.size(), 1e-6, 1e-6);
  // in place on the residual stream (out == residual), MobileBERT's post-norm update
  std::vector<float> x2 = tf_test::random_uniform(x.size(), seed + 4), s = tf_test::random_uniform(x.size(), seed + 5);
  std::vector<double> ref2(x.size());
  for (int r = 0; r < rows; r++)
    for (int i = 0; i < dim; i++) {
      const size_t o = size_t(r) * dim + i;
      ref2[o] = (double(s[o]) + x2[o]) * w[i] + b[i];
    }
  tf_cpu_no_norm(s.data(), s.data(), x2.data(), w.data(), b.data(), rows, dim);
  expect_close(what + " in place", s.data(), ref2.data(), ref2.size(), 1e-6, 1e-6);
}

void rope_case(int tokens, int heads, int kv_heads, int head_dim, int rotary_dim, int layout, uint64_t seed) {
  std::vector<float> q = tf_test::random_uniform(size_t(tokens) * heads * head_dim, seed),
                     k = tf_test::random_uniform(size_t(tokens) * kv_heads * head_dim, seed + 1);
  std::vector<int32_t> pos(tokens);
  for (int t = 0; t < tokens; t++) pos[t] = (t * 7 + 3) % 500;
  std::vector<float> inv(rotary_dim / 2);
  for (int i = 0; i < rotary_dim / 2; i++) inv[i] = float(1.0 / std::pow(10000.0, 2.0 * i / rotary_dim));
  auto reference = [&](const std::vector<float>& x, int nh) {
    std::vector<double> r(x.begin(), x.end());
    const int half = rotary_dim / 2;
    for (int t = 0; t < tokens; t++)
      for (int h = 0; h < nh; h++)
        for (int i = 0; i < half; i++) {
          const size_t base = (size_t(t) * nh + h) * head_dim;
          const size_t a = base + (layout == TF_ROPE_HALF_SPLIT ? i : 2 * i);
          const size_t b = base + (layout == TF_ROPE_HALF_SPLIT ? i + half : 2 * i + 1);
          const double angle = double(float(pos[t]) * inv[i]), c = std::cos(angle), s = std::sin(angle);
          r[a] = x[a] * c - x[b] * s;
          r[b] = x[a] * s + x[b] * c;
        }
    return r;
  };
  const std::vector<double> rq = reference(q, heads), rk = reference(k, kv_heads);
  tf_cpu_rope(q.data(), k.data(), pos.data(), inv.data(), tokens, heads, kv_heads, head_dim, rotary_dim, layout, 1.f);
  const std::string what = "rope tokens=" + std::to_string(tokens) + " heads=" + std::to_string(heads) + "/" + std::to_string(kv_heads) +
                           " d=" + std::to_string(head_dim) + " rot=" + std::to_string(rotary_dim) + " layout=" + std::to_string(layout);
  expect_close(what + " q", q.data(), rq.data(), rq.size(), 1e-6, 1e-5);
  expect_close(what + " k", k.data(), rk.data(), rk.size(), 1e-6, 1e-5);
}

void attention_case(const std::vector<int>& lens, int heads, int kv_heads, int head_dim, bool fused, int window, bool alibi,
                    uint64_t seed) {
  std::vector<int32_t> cu{0};
  for (int l : lens) cu.push_back(cu.back() + l);
  const int rows = cu.back(), qw = heads * head_dim, kw = kv_heads * head_dim;
  const long q_stride = fused ? qw + 2L * kw : qw, kv_stride = fused ? qw + 2L * kw : kw;
  std::vector<float> qbuf = tf_test::random_uniform(size_t(rows) * q_stride, seed, -2.f, 2.f),
                     kbuf = tf_test::random_uniform(size_t(rows) * kv_stride, seed + 1, -2.f, 2.f),
                     vbuf = tf_test::random_uniform(size_t(rows) * kv_stride, seed + 2);
  const float* q = qbuf.data();
  const float* k = fused ? qbuf.data() + qw : kbuf.data();
  const float* v = fused ? qbuf.data() + qw + kw : vbuf.data();
  std::vector<float> slopes(heads);
  for (int h = 0; h < heads; h++) slopes[h] = std::pow(2.f, -8.f * (h + 1) / heads);
  const float scale = 1.f / std::sqrt(float(head_dim));
  std::vector<double> ref(size_t(rows) * qw);
  for (size_t b = 0; b + 1 < cu.size(); b++)
    for (int i = cu[b]; i < cu[b + 1]; i++)
      for (int h = 0; h < heads; h++) {
        const int kvh = h / (heads / kv_heads);
        std::vector<double> s;
        std::vector<int> keys;
        for (int j = cu[b]; j < cu[b + 1]; j++) {
          if (window > 0 && std::abs(i - j) >= window) continue;
          double dot = 0;
          for (int d = 0; d < head_dim; d++) dot += double(q[i * q_stride + h * head_dim + d]) * k[j * kv_stride + kvh * head_dim + d];
          s.push_back(dot * scale - (alibi ? slopes[h] * std::abs(i - j) : 0.0));
          keys.push_back(j);
        }
        double m = -INFINITY, sum = 0;
        for (double x : s) m = std::max(m, x);
        for (double& x : s) sum += x = std::exp(x - m);
        for (int d = 0; d < head_dim; d++) {
          double o = 0;
          for (size_t n = 0; n < keys.size(); n++) o += s[n] / sum * v[keys[n] * kv_stride + kvh * head_dim + d];
          ref[size_t(i) * qw + h * head_dim + d] = o;
        }
      }
  std::vector<float> out(ref.size(), 99.f);
  tf_cpu_attention_varlen_masked(out.data(), q, k, v, cu.data(), int(lens.size()), heads, kv_heads, head_dim, q_stride, kv_stride,
                                 scale, window, alibi ? slopes.data() : nullptr);
  std::string what = "masked attention seqs=" + std::to_string(lens.size()) + " rows=" + std::to_string(rows) + " heads=" +
                     std::to_string(heads) + "/" + std::to_string(kv_heads) + " d=" + std::to_string(head_dim) + " window=" +
                     std::to_string(window) + (alibi ? " alibi" : "") + (fused ? " fused" : "");
  expect_close(what, out.data(), ref.data(), ref.size(), 2e-5, 1e-4);
}

}  // namespace

TF_TEST(no_norm_with_and_without_residual_and_bias) {
  uint64_t seed = 11;
  for (int threads : {1, 2}) {
    tf_cpu_set_threads(threads);
    for (int dim : {1, 16, 129})
      for (bool residual : {false, true})
        for (bool bias : {false, true}) no_norm_case(threads == 1 ? 3 : 700, dim, residual, bias, seed += 7);
  }
}

TF_TEST(rope_in_place_both_layouts_partial_rotary) {
  uint64_t seed = 100;
  for (int threads : {1, 2}) {
    tf_cpu_set_threads(threads);
    for (int layout : {TF_ROPE_HALF_SPLIT, TF_ROPE_ADJACENT}) {
      rope_case(5, 2, 2, 16, 16, layout, seed += 3);
      rope_case(300, 4, 2, 32, 16, layout, seed += 3);  // GQA and a partial rotary dim (nomic's rotary_emb_fraction)
      rope_case(9, 3, 3, 64, 64, layout, seed += 3);
    }
  }
}

TF_TEST(masked_attention_window_alibi_packed_and_fused) {
  uint64_t seed = 500;
  for (int threads : {1, 2}) {
    tf_cpu_set_threads(threads);
    for (int window : {0, 1, 3, 9})
      for (bool alibi : {false, true})
        for (bool fused : {false, true}) {
          attention_case({1, 7, 20}, 2, 2, 16, fused, window, alibi, seed += 5);
          attention_case({70, 33}, 4, 2, 32, fused, window, alibi, seed += 5);
        }
  }
}

