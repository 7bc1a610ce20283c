// emu_attention_prefill.cpp: tf_attention_prefill_{f16,bf16} on the emulator against a naive
// double-precision reference (plain loops over the definition in transfuse.h, nothing shared with
// the kernel).
//
// Inputs are drawn in float, rounded to the tested dtype, and the reference computes in double from
// the rounded values, so the only differences left are the kernel's own roundings:
//   - scores: fp16/bf16 products are exact in fp32; fp32 accumulation over D <= 128 terms and the
//     log2-domain rescaling cost ~1e-6 relative: negligible.
//   - P is rounded to the dtype before P·V (unit roundoff u = 2^-11 fp16, 2^-8 bf16). Each output is
//     sum_j p_j (1 + d_j) v_j / l with |d_j| <= u, so its error is <= u * max|v| (V is drawn in [-1, 1]).
//   - the output itself is rounded to the dtype: <= u * |o|.
//   Tolerance: atol = 4u (the bound 2u with a factor 2 for fp32 accumulation of many small terms),
//   rtol = 2u. fp16: atol 1.95e-3, rtol 9.8e-4; bf16: atol 1.56e-2, rtol 7.8e-3.
//   A wrong mask, a dropped tile, a missed barrier or a fragment mix-up moves outputs by O(0.1).
//   LSE is all fp32: atol 1e-4 + rtol 1e-5.
#include "tf_test.h"
#include "transfuse.h"
#include "dtype_buffer.h"

#include <cmath>
#include <string>
#include <vector>

using namespace tf_test;

namespace {

struct Case {
  int dtype = TF_DTYPE_F16;
  int head_dim = 64;
  std::vector<int> lens_q, lens_k;  // per sequence; lens_k empty = same as lens_q
  int n_heads = 2, n_kv_heads = 2;
  bool causal = true;
  int window = 0;
  bool alibi = false;
  bool want_lse = true;
};

std::string describe(const Case& c) {
  std::string s = std::string(dtype_name(c.dtype)) + " D=" + std::to_string(c.head_dim) + " H=" + std::to_string(c.n_heads) +
                  " Hkv=" + std::to_string(c.n_kv_heads) + (c.causal ? " causal" : " bidir") +
                  " window=" + std::to_string(c.window) + (c.alibi ? " alibi" : "") + " lens_q/k=";
  for (size_t b = 0; b < c.lens_q.size(); ++b)
    s += std::to_string(c.lens_q[b]) + "/" + std::to_string(c.lens_k.empty() ? c.lens_q[b] : c.lens_k[b]) + " ";
  return s;
}

// The definition, in double: see transfuse.h section 2a.
void reference(const Case& c, const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
               const std::vector<int>& cu_q, const std::vector<int>& cu_k, const std::vector<float>& slopes,
               double scale, std::vector<double>& o, std::vector<double>& lse) {
  const int H = c.n_heads, Hkv = c.n_kv_heads, D = c.head_dim;
  for (size_t b = 0; b + 1 < cu_q.size(); ++b) {
    const int len_q = cu_q[b + 1] - cu_q[b], len_k = cu_k[b + 1] - cu_k[b];
    for (int h = 0; h < H; ++h) {
      const int hk = h / (H / Hkv);
      for (int i = 0; i < len_q; ++i) {
        const long qpos = i + len_k - len_q;
        const float* qr = &q[((size_t)(cu_q[b] + i) * H + h) * D];
        std::vector<double> score(len_k);
        std::vector<bool> visible(len_k);
        double mx = -INFINITY;
        for (int j = 0; j < len_k; ++j) {
          bool vis = true;
          if (c.causal && j > qpos) vis = false;
          if (c.window > 0 && qpos - j >= c.window) vis = false;
          if (c.window > 0 && !c.causal && j - qpos >= c.window) vis = false;
          visible[j] = vis;
          if (!vis) continue;
          const float* kr = &k[((size_t)(cu_k[b] + j) * Hkv + hk) * D];
          double dot = 0;
          for (int d = 0; d < D; ++d) dot += (double)qr[d] * kr[d];
          score[j] = scale * dot - (c.alibi ? slopes[h] * std::fabs((double)(qpos - j)) : 0.0);
          mx = std::max(mx, score[j]);
        }
        double* orow = &o[((size_t)(cu_q[b] + i) * H + h) * D];
        for (int d = 0; d < D; ++d) orow[d] = 0;
        double sum = 0;
        for (int j = 0; j < len_k; ++j) {
          if (!visible[j]) continue;
          const double p = std::exp(score[j] - mx);
          sum += p;
          const float* vr = &v[((size_t)(cu_k[b] + j) * Hkv + hk) * D];
          for (int d = 0; d < D; ++d) orow[d] += p * vr[d];
        }
        if (sum > 0)
          for (int d = 0; d < D; ++d) orow[d] /= sum;
        lse[(size_t)(cu_q[b] + i) * H + h] = sum > 0 ? mx + std::log(sum) : -INFINITY;
      }
    }
  }
}

void run_case(const Case& c, uint64_t seed) {
  const int H = c.n_heads, Hkv = c.n_kv_heads, D = c.head_dim;
  const std::vector<int>& lk = c.lens_k.empty() ? c.lens_q : c.lens_k;
  std::vector<int> cu_q{0}, cu_k{0};
  int max_q = 0;
  for (size_t b = 0; b < c.lens_q.size(); ++b) {
    cu_q.push_back(cu_q.back() + c.lens_q[b]);
    cu_k.push_back(cu_k.back() + lk[b]);
    max_q = std::max(max_q, c.lens_q[b]);
  }
  const size_t nq = (size_t)cu_q.back() * H * D, nk = (size_t)cu_k.back() * Hkv * D;
  // q scaled by 2 so scores have std ~2 after the 1/sqrt(D) scale: peaked, not uniform, softmax rows.
  std::vector<float> q(nq), k(nk), v(nk);
  fill_normal(q.data(), nq, seed, 2.f);
  fill_normal(k.data(), nk, seed + 1);
  fill_uniform(v.data(), nk, seed + 2);
  std::vector<uint16_t> qb(nq), kb(nk), vb(nk), ob(nq, 0x7FFF /* NaN: every row must be written */);
  for (size_t i = 0; i < nq; ++i) q[i] = from_bits(c.dtype, qb[i] = to_bits(c.dtype, q[i]));
  for (size_t i = 0; i < nk; ++i) k[i] = from_bits(c.dtype, kb[i] = to_bits(c.dtype, k[i]));
  for (size_t i = 0; i < nk; ++i) v[i] = from_bits(c.dtype, vb[i] = to_bits(c.dtype, v[i]));
  std::vector<float> slopes(H);
  for (int h = 0; h < H; ++h) slopes[h] = std::exp2(-8.0f * (h + 1) / H);  // the ALiBi paper's geometric slopes
  const float scale = 1.f / std::sqrt((float)D);

  std::vector<float> lse((size_t)cu_q.back() * H, NAN);
  auto fn = c.dtype == TF_DTYPE_F16 ? tf_attention_prefill_f16 : tf_attention_prefill_bf16;
  const int err = fn(qb.data(), kb.data(), vb.data(), ob.data(), c.want_lse ? lse.data() : nullptr, cu_q.data(),
                     cu_k.data(), (int)c.lens_q.size(), max_q, H, Hkv, D, scale, c.causal ? 1 : 0, c.window,
                     c.alibi ? slopes.data() : nullptr, nullptr);
  const std::string what = describe(c);
  if (err != 0) {
    fail(__FILE__, __LINE__, what + ": launcher returned " + std::to_string(err));
    return;
  }
  std::vector<double> o_ref(nq), lse_ref((size_t)cu_q.back() * H);
  reference(c, q, k, v, cu_q, cu_k, slopes, scale, o_ref, lse_ref);
  std::vector<float> o(nq);
  for (size_t i = 0; i < nq; ++i) o[i] = from_bits(c.dtype, ob[i]);
  const double u = unit_roundoff(c.dtype);
  expect_close(what + " [O]", o.data(), o_ref.data(), nq, 4 * u, 2 * u);
  if (c.want_lse) expect_close(what + " [lse]", lse.data(), lse_ref.data(), lse.size(), 1e-4, 1e-5);
}

const std::vector<int> kTailLens{1, 7, 63, 65, 130};  // around the 64-row / 64-key tiles

}  // namespace

// Every dtype x head_dim x causal with lengths around the tile sizes, GQA 2.
TF_TEST(prefill_tails_f16) {
  for (int D : {64, 128})
    for (bool causal : {true, false}) run_case({TF_DTYPE_F16, D, kTailLens, {}, 4, 2, causal}, 100 + D + causal);
}
TF_TEST(prefill_tails_bf16) {
  for (int D : {64, 128})
    for (bool causal : {true, false}) run_case({TF_DTYPE_BF16, D, kTailLens, {}, 4, 2, causal}, 200 + D + causal);
}

// Query heads per KV head: 1 (MHA), 2, 4, and MQA (one KV head for 6 query heads).
TF_TEST(prefill_gqa_ratios) {
  const int ratios[][2] = {{3, 3}, {4, 2}, {8, 2}, {6, 1}};
  int i = 0;
  for (auto [h, hkv] : ratios) {
    run_case({TF_DTYPE_F16, 64, {33, 70}, {}, h, hkv, true}, 300 + i);
    run_case({TF_DTYPE_BF16, 128, {70}, {}, h, hkv, false}, 310 + i);
    ++i;
  }
}

// Queries appended after a cached prefix (len_k > len_q, bottom-right causal), and len_k < len_q
// (the first queries see no key: O = 0, lse = -inf).
TF_TEST(prefill_q_k_lengths_differ) {
  run_case({TF_DTYPE_F16, 64, {5, 64, 70}, {20, 64, 200}, 2, 1, true}, 400);
  run_case({TF_DTYPE_BF16, 128, {17, 66}, {130, 80}, 4, 2, true}, 401);
  run_case({TF_DTYPE_F16, 128, {3, 100}, {40, 129}, 2, 2, false}, 402);
  run_case({TF_DTYPE_F16, 64, {40, 90}, {10, 30}, 2, 2, true}, 403);
  run_case({TF_DTYPE_BF16, 64, {0, 70, 0}, {0, 70, 5}, 2, 1, true}, 404);  // empty sequences in the batch
}

TF_TEST(prefill_alibi) {
  run_case({TF_DTYPE_F16, 64, {9, 130}, {}, 4, 4, true, 0, true}, 500);
  run_case({TF_DTYPE_BF16, 128, {66, 20}, {}, 4, 1, false, 0, true}, 501);
  run_case({TF_DTYPE_F16, 128, {30}, {100}, 2, 1, true, 0, true}, 502);
}

// Sliding window (bands that start mid-tile, skip whole tiles, and span less than a tile).
TF_TEST(prefill_sliding_window) {
  run_case({TF_DTYPE_F16, 64, {130, 7}, {}, 2, 1, true, 50}, 600);
  run_case({TF_DTYPE_BF16, 64, {200}, {}, 2, 2, true, 16}, 601);
  run_case({TF_DTYPE_F16, 128, {130, 65}, {}, 4, 2, false, 20}, 602);
  run_case({TF_DTYPE_BF16, 128, {70}, {150}, 2, 1, true, 33, true}, 603);
  run_case({TF_DTYPE_F16, 64, {100}, {}, 2, 2, false, 1, true}, 604);  // window 1: only the diagonal
}

TF_TEST(prefill_without_lse) {
  Case c{TF_DTYPE_BF16, 64, {65, 3}, {}, 2, 1, true};
  c.want_lse = false;
  run_case(c, 700);
}

TF_TEST(prefill_rejects_bad_arguments) {
  uint16_t x[16] = {};
  int cu[2] = {0, 1};
  EXPECT(tf_attention_prefill_f16(x, x, x, x, nullptr, cu, cu, 1, 1, 1, 1, 96, 1.f, 1, 0, nullptr, nullptr) != 0);
  EXPECT(tf_attention_prefill_bf16(x, x, x, x, nullptr, cu, cu, 1, 1, 3, 2, 64, 1.f, 1, 0, nullptr, nullptr) != 0);
}

// Random mixtures of everything above (fixed seeds: the same cases on every run).
TF_TEST(prefill_random_configs) {
  Rng rng(4242);
  const int heads[][2] = {{2, 2}, {4, 2}, {4, 1}, {8, 2}};
  for (int it = 0; it < 12; ++it) {
    Case c;
    c.dtype = rng.below(2) ? TF_DTYPE_F16 : TF_DTYPE_BF16;
    c.head_dim = rng.below(2) ? 64 : 128;
    const auto& hh = heads[rng.below(4)];
    c.n_heads = hh[0];
    c.n_kv_heads = hh[1];
    c.causal = rng.below(3) != 0;
    c.window = rng.below(3) == 0 ? 1 + (int)rng.below(150) : 0;
    c.alibi = rng.below(3) == 0;
    const int batch = 1 + (int)rng.below(3);
    const bool prefix = rng.below(2);
    for (int b = 0; b < batch; ++b) {
      c.lens_q.push_back(1 + (int)rng.below(200));
      c.lens_k.push_back(c.lens_q.back() + (prefix ? (int)rng.below(100) : 0));
    }
    run_case(c, 800 + it);
  }
}

// head_dim 32 (encoders such as all-MiniLM-L6-v2): bidirectional, as an encoder runs it, and causal,
// over lengths around the tiles, MHA and GQA, both dtypes.
TF_TEST(prefill_head_dim_32) {
  for (int dt : {TF_DTYPE_F16, TF_DTYPE_BF16}) {
    run_case({dt, 32, kTailLens, {}, 4, 4, false}, 900 + dt);
    run_case({dt, 32, {5, 70, 129}, {}, 4, 2, true}, 910 + dt);
  }
  run_case({TF_DTYPE_F16, 32, {17, 66}, {130, 80}, 2, 1, true, 0, true}, 920);  // prefix + ALiBi
  run_case({TF_DTYPE_BF16, 32, {100}, {}, 2, 2, false, 20}, 921);               // symmetric window
}
