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
//   Soft-cap c: the kernel's tanh has absolute error ~1e-7, so a score moves by ~1e-7 c (c <= 50 here):
//   inside both bounds. The cases use caps of 1 to 3 against scores of std ~2, where capping changes the
//   softmax by O(1).
// Row strides: the same inputs are also laid out as column blocks of one fused QKV buffer
// [tokens][(H + 2 Hkv) D] (self-attention) or as rows padded past their heads, the padding filled with
// NaN bits (a read of a wrong column poisons the output). The strided result must equal the packed
// one bit for bit (the kernel does the same arithmetic on the same values), besides matching the
// reference.
#include "tf_test.h"
#include "transfuse.h"
#include "dtype_buffer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
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
  float softcap = 0;
  // Row layout of q / k / v. fused: one [tokens][(H + 2 Hkv) D] buffer (needs lens_k == lens_q),
  // q_stride = kv_stride = (H + 2 Hkv) D + pad. Otherwise separate buffers with q_stride = H D + pad
  // and kv_stride = Hkv D + pad (pad 0: packed).
  bool fused = false;
  int pad = 0;
};

std::string describe(const Case& c) {
  std::string s = std::string(dtype_name(c.dtype)) + " D=" + std::to_string(c.head_dim) + " H=" + std::to_string(c.n_heads) +
                  " Hkv=" + std::to_string(c.n_kv_heads) + (c.causal ? " causal" : " bidir") +
                  " window=" + std::to_string(c.window) + (c.alibi ? " alibi" : "") +
                  (c.softcap > 0 ? " softcap=" + std::to_string(c.softcap) : "") + (c.fused ? " fused-qkv" : "") +
                  (c.pad ? " pad=" + std::to_string(c.pad) : "") + " lens_q/k=";
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
          const double x = scale * dot;
          score[j] = (c.softcap > 0 ? c.softcap * std::tanh(x / c.softcap) : x) -
                     (c.alibi ? slopes[h] * std::fabs((double)(qpos - j)) : 0.0);
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
  std::vector<uint16_t> qb(nq), kb(nk), vb(nk), ob;
  for (size_t i = 0; i < nq; ++i) q[i] = from_bits(c.dtype, qb[i] = to_bits(c.dtype, q[i]));
  for (size_t i = 0; i < nk; ++i) k[i] = from_bits(c.dtype, kb[i] = to_bits(c.dtype, k[i]));
  for (size_t i = 0; i < nk; ++i) v[i] = from_bits(c.dtype, vb[i] = to_bits(c.dtype, v[i]));
  std::vector<float> slopes(H);
  for (int h = 0; h < H; ++h) slopes[h] = std::exp2(-8.0f * (h + 1) / H);  // the ALiBi paper's geometric slopes
  const float scale = 1.f / std::sqrt((float)D);

  const std::string what = describe(c);
  // One launch with q / k / v in the given layout; o (packed) and lse come back. Returns the error code.
  auto launch = [&](bool fused, int pad, std::vector<uint16_t>& o_bits, std::vector<float>& lse_out) {
    const size_t tq = cu_q.back(), tk = cu_k.back();
    const long q_stride = fused ? (long)(H + 2 * Hkv) * D + pad : (long)H * D + pad;
    const long kv_stride = fused ? q_stride : (long)Hkv * D + pad;
    std::vector<uint16_t> qs(tq * q_stride, 0x7FFF), ks(fused ? 0 : tk * kv_stride, 0x7FFF), vs(ks.size(), 0x7FFF);
    uint16_t* qp = qs.data();
    uint16_t* kp = fused ? qp + (size_t)H * D : ks.data();
    uint16_t* vp = fused ? kp + (size_t)Hkv * D : vs.data();
    for (size_t r = 0; r < tq; ++r)
      std::copy_n(&qb[r * H * D], (size_t)H * D, qp + r * q_stride);
    for (size_t r = 0; r < tk; ++r) {
      std::copy_n(&kb[r * Hkv * D], (size_t)Hkv * D, kp + r * kv_stride);
      std::copy_n(&vb[r * Hkv * D], (size_t)Hkv * D, vp + r * kv_stride);
    }
    o_bits.assign(nq, 0x7FFF);  // NaN: every row must be written
    lse_out.assign(tq * H, NAN);
    auto fn = c.dtype == TF_DTYPE_F16 ? tf_attention_prefill_f16 : tf_attention_prefill_bf16;
    return fn(qp, kp, vp, o_bits.data(), c.want_lse ? lse_out.data() : nullptr, cu_q.data(), cu_k.data(), (int)c.lens_q.size(),
              max_q, H, Hkv, D, q_stride, kv_stride, scale, c.causal ? 1 : 0, c.window, c.softcap,
              c.alibi ? slopes.data() : nullptr, nullptr);
  };
  std::vector<float> lse;
  const int err = launch(c.fused, c.pad, ob, lse);
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
  if (c.fused || c.pad) {  // strided: the same bits as the packed layout
    std::vector<uint16_t> ob_packed;
    std::vector<float> lse_packed;
    if (launch(false, 0, ob_packed, lse_packed) != 0) {
      fail(__FILE__, __LINE__, what + ": packed launch failed");
      return;
    }
    size_t diff = 0;
    for (size_t i = 0; i < nq; ++i) diff += ob[i] != ob_packed[i];
    if (diff) fail(__FILE__, __LINE__, what + ": " + std::to_string(diff) + " outputs differ from the packed layout");
    if (c.want_lse && std::memcmp(lse.data(), lse_packed.data(), lse.size() * sizeof(float)) != 0)
      fail(__FILE__, __LINE__, what + ": lse differs from the packed layout");
  }
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
  alignas(16) uint16_t x[16] = {};
  int cu[2] = {0, 1};
  EXPECT(tf_attention_prefill_f16(x, x, x, x, nullptr, cu, cu, 1, 1, 1, 1, 96, 96, 96, 1.f, 1, 0, 0.f, nullptr, nullptr) != 0);
  EXPECT(tf_attention_prefill_f16(x, x, x, x, nullptr, cu, cu, 1, 1, 1, 1, 512, 512, 512, 1.f, 1, 0, 0.f, nullptr, nullptr) != 0);
  EXPECT(tf_attention_prefill_bf16(x, x, x, x, nullptr, cu, cu, 1, 1, 3, 2, 64, 192, 128, 1.f, 1, 0, 0.f, nullptr, nullptr) != 0);
}

// Strides the 16-byte loads cannot take, and misaligned pointers: rejected (1) before anything is
// launched, so o keeps its contents.
TF_TEST(prefill_rejects_bad_strides_and_alignment) {
  const int H = 4, Hkv = 2, D = 64, T = 3;
  const long qs = (long)(H + 2 * Hkv) * D;  // a fused QKV row
  std::vector<uint16_t> buf(T * qs + 16, 0), o(T * H * D + 16, 0x1234);
  uint16_t* q = buf.data();  // std::vector storage: 16-byte aligned
  uint16_t* k = q + H * D;
  uint16_t* v = k + Hkv * D;
  // Heap, not stack: the control call launches, and the GPU build of this test (gpu_emu_*) can hand the
  // device heap memory only (native/test/gpu_test_memory.cu).
  const std::vector<int> cu_seqlens = {0, T};
  const int* cu = cu_seqlens.data();
  auto call = [&](const void* qq, const void* kk, const void* vv, void* oo, long q_stride, long kv_stride) {
    return tf_attention_prefill_f16(qq, kk, vv, oo, nullptr, cu, cu, 1, T, H, Hkv, D, q_stride, kv_stride, 0.125f, 1, 0,
                                    0.f, nullptr, nullptr);
  };
  EXPECT_EQ(call(q, k, v, o.data(), qs, qs), 0);  // the valid fused layout, as a control
  std::fill(o.begin(), o.end(), 0x1234);
  EXPECT_EQ(call(q, k, v, o.data(), H * D - 8, qs), 1);     // q rows shorter than their heads
  EXPECT_EQ(call(q, k, v, o.data(), qs, Hkv * D - 8), 1);   // k / v rows shorter than their heads
  EXPECT_EQ(call(q, k, v, o.data(), qs + 4, qs), 1);        // q_stride not a multiple of 8 elements
  EXPECT_EQ(call(q, k, v, o.data(), qs, qs + 1), 1);        // kv_stride not a multiple of 8 elements
  EXPECT_EQ(call(q + 1, k, v, o.data(), qs, qs), 1);        // q not 16-byte aligned
  EXPECT_EQ(call(q, k + 4, v, o.data(), qs, qs), 1);        // k not 16-byte aligned
  EXPECT_EQ(call(q, k, v + 2, o.data(), qs, qs), 1);        // v not 16-byte aligned
  EXPECT_EQ(call(q, k, v, o.data() + 1, qs, qs), 1);        // o not 16-byte aligned
  EXPECT_EQ(tf_attention_prefill_bf16(q, k, v, o.data(), nullptr, cu, cu, 1, T, H, Hkv, D, qs, 0, 0.125f, 1, 0, 0.f,
                                      nullptr, nullptr), 1);         // bf16 checks the same
  EXPECT(std::all_of(o.begin(), o.end(), [](uint16_t e) { return e == 0x1234; }));
}

// Q, K, V as column blocks of one fused QKV projection [tokens][(H + 2 Hkv) D] (a row stride past the
// heads), and as separate buffers with padded rows: MHA and GQA, causal and bidirectional, every head
// dim, both dtypes, against the reference and bit for bit against the packed layout.
TF_TEST(prefill_strided_fused_qkv_and_padded_rows) {
  uint64_t seed = 1000;
  for (int dt : {TF_DTYPE_F16, TF_DTYPE_BF16})
    for (int D : {32, 64, 128})
      for (bool causal : {true, false}) {
        Case fused{dt, D, {1, 70, 130}, {}, 4, 2, causal};
        fused.fused = true;
        run_case(fused, seed++);
        Case mha{dt, D, {65, 3}, {}, 3, 3, causal};
        mha.fused = true;
        mha.pad = 8;  // a fused row with 8 more elements (e.g. an aligned leading dimension)
        run_case(mha, seed++);
        Case padded{dt, D, {17, 66}, {130, 80}, 4, 1, causal};  // cached prefix: len_k != len_q
        padded.pad = 24;
        run_case(padded, seed++);
      }
}

// Random mixtures of everything above (fixed seeds: the same cases on every run).
TF_TEST(prefill_random_configs) {
  Rng rng(4242);
  const int heads[][2] = {{2, 2}, {4, 2}, {4, 1}, {8, 2}};
  for (int it = 0; it < 12; ++it) {
    Case c;
    c.dtype = rng.below(2) ? TF_DTYPE_F16 : TF_DTYPE_BF16;
    c.head_dim = 64 << rng.below(3);  // 64, 128, 256
    const auto& hh = heads[rng.below(4)];
    c.n_heads = hh[0];
    c.n_kv_heads = hh[1];
    c.causal = rng.below(3) != 0;
    c.window = rng.below(3) == 0 ? 1 + (int)rng.below(150) : 0;
    c.alibi = rng.below(3) == 0;
    c.softcap = rng.below(3) == 0 ? 1.f + 0.25f * (float)rng.below(20) : 0.f;
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

// Soft-capping (Gemma 2): causal and bidirectional, with lse (of the capped scores), a window, ALiBi, a
// cached prefix, every head dim and dtype.
TF_TEST(prefill_softcap) {
  uint64_t seed = 1300;
  for (int dt : {TF_DTYPE_F16, TF_DTYPE_BF16})
    for (int D : {64, 128, 256}) {
      Case c{dt, D, {1, 65, 130}, {}, 4, 2, true};
      c.softcap = 1.5f;
      run_case(c, seed++);
      Case w{dt, D, {70, 9}, {}, 2, 1, true, 24};  // a Gemma 2 local layer: window and soft-cap
      w.softcap = 2.5f;
      run_case(w, seed++);
    }
  Case bidir{TF_DTYPE_F16, 64, {40, 66}, {}, 2, 2, false};
  bidir.softcap = 1.f;
  run_case(bidir, seed++);
  Case prefix{TF_DTYPE_BF16, 128, {17, 66}, {130, 80}, 4, 1, true, 0, true};
  prefix.softcap = 3.f;
  run_case(prefix, seed++);
}

// Head dim 256 (Gemma; 32-key tiles): lengths around the 64-query and 32-key tiles, GQA, bidirectional,
// cached prefixes, windows that start mid-tile or skip whole tiles, fused QKV rows.
TF_TEST(prefill_head_dim_256) {
  const std::vector<int> lens{1, 31, 33, 64, 97};
  run_case({TF_DTYPE_F16, 256, lens, {}, 4, 2, true}, 1400);
  run_case({TF_DTYPE_BF16, 256, lens, {}, 2, 2, false}, 1401);
  run_case({TF_DTYPE_F16, 256, {17, 40}, {100, 40}, 4, 1, true}, 1402);
  run_case({TF_DTYPE_BF16, 256, {130}, {}, 2, 1, true, 40}, 1403);
  run_case({TF_DTYPE_F16, 256, {70}, {}, 2, 2, false, 9, true}, 1404);
  Case fused{TF_DTYPE_BF16, 256, {1, 50}, {}, 4, 2, true};
  fused.fused = true;
  run_case(fused, 1405);
}
