// emu_rope.cpp: RoPE in place (both layouts, partial rotary_dim, mscale) and the fused RoPE + paged
// KV-cache write, on the emulator, against a double-precision reference written here.
//
// The angle is specified as the fp32 product (float)pos * inv_freq[i] (as Hugging Face computes it),
// so the reference forms that same float product and takes cos/sin in double. What remains is the
// kernel's fp32 cosf/sinf (a few ulp) and rotation arithmetic, and the output rounding to the dtype
// (unit roundoff u: fp32 2^-24, fp16 2^-11, bf16 2^-8). A rotated component a c - b s can cancel, so
// the tolerance is absolute in the input scale (|a|, |b| <= 1): atol = 2u + 2e-6, rtol = 2u.
// Elements that must not change (past rotary_dim, K in the cache variant, untouched cache slots) are
// compared exactly.
#include "tf_test.h"
#include "transfuse.h"
#include "dtype_buffer.h"

#include <cmath>
#include <cstring>
#include <vector>


namespace {

std::vector<float> make_inv_freq(int rotary_dim, float base) {
  std::vector<float> f(rotary_dim / 2);
  for (int i = 0; i < rotary_dim / 2; ++i) f[i] = float(std::pow(double(base), -2.0 * i / rotary_dim));
  return f;
}

// Reference rotation of one head (in place on a double copy).
void rotate_ref(std::vector<double>& x, size_t base, int rotary_dim, int layout, int pos, const std::vector<float>& inv_freq,
                float mscale) {
  const int half = rotary_dim / 2;
  for (int i = 0; i < half; ++i) {
    const float angle = float(pos) * inv_freq[i];  // the specified fp32 angle
    const double c = std::cos(double(angle)) * mscale, s = std::sin(double(angle)) * mscale;
    const size_t ia = base + (layout == TF_ROPE_HALF_SPLIT ? i : 2 * i);
    const size_t ib = base + (layout == TF_ROPE_HALF_SPLIT ? i + half : 2 * i + 1);
    const double a = x[ia], b = x[ib];
    x[ia] = a * c - b * s;
    x[ib] = a * s + b * c;
  }
}

std::vector<double> to_double(const DBuf& b) {
  std::vector<double> v(b.n);
  for (size_t i = 0; i < b.n; ++i) v[i] = b.get(i);
  return v;
}

struct Shape { int head_dim, rotary_dim; };
const Shape kShapes[] = {{8, 8}, {64, 64}, {128, 128}, {128, 64}, {80, 80}, {6, 2}, {96, 32}};

}  // namespace

TF_TEST(rope_in_place_layouts_partial_rotary_dtypes) {
  uint64_t seed = 11;
  const int tokens = 5, n_heads = 4, n_kv = 2;
  for (int dt : kDtypes)
    for (const Shape& sh : kShapes)
      for (int layout : {TF_ROPE_ADJACENT, TF_ROPE_HALF_SPLIT})
        for (float mscale : {1.0f, 0.8f}) {
          const int hd = sh.head_dim;
          DBuf q(dt, size_t(tokens) * n_heads * hd), k(dt, size_t(tokens) * n_kv * hd);
          fill(q, seed++, -1.f, 1.f);
          fill(k, seed++, -1.f, 1.f);
          std::vector<int32_t> pos(tokens);
          tf_test::Rng r(seed++);
          for (int t = 0; t < tokens; ++t) pos[t] = int32_t(r.below(5000));
          pos[0] = 0;
          const std::vector<float> inv_freq = make_inv_freq(sh.rotary_dim, 10000.f);
          std::vector<double> q_ref = to_double(q), k_ref = to_double(k);
          for (int t = 0; t < tokens; ++t) {
            for (int h = 0; h < n_heads; ++h) rotate_ref(q_ref, (size_t(t) * n_heads + h) * hd, sh.rotary_dim, layout, pos[t], inv_freq, mscale);
            for (int h = 0; h < n_kv; ++h) rotate_ref(k_ref, (size_t(t) * n_kv + h) * hd, sh.rotary_dim, layout, pos[t], inv_freq, mscale);
          }
          const int err = tf_rope(q.data(), k.data(), pos.data(), inv_freq.data(), tokens, n_heads, n_kv, hd,
                                  sh.rotary_dim, layout, mscale, dt, nullptr);
          char what[160];
          std::snprintf(what, sizeof what, "rope %s head_dim=%d rotary_dim=%d layout=%d mscale=%g", dtype_name(dt), hd,
                        sh.rotary_dim, layout, mscale);
          if (err) { tf_test::fail(__FILE__, __LINE__, std::string(what) + " launch error"); continue; }
          const double u = unit_roundoff(dt);
          const std::vector<float> qg = q.values(), kg = k.values();
          expect_close(std::string(what) + " q", qg.data(), q_ref.data(), q_ref.size(), 2 * u + 2e-6, 2 * u);
          expect_close(std::string(what) + " k", kg.data(), k_ref.data(), k_ref.size(), 2 * u + 2e-6, 2 * u);
        }
}

TF_TEST(rope_q_only_and_k_only) {
  const int dt = TF_DTYPE_F16, tokens = 3, hd = 64;
  const std::vector<float> inv_freq = make_inv_freq(hd, 500000.f);
  std::vector<int32_t> pos = {3, 100, 4095};
  for (int which = 0; which < 2; ++which) {
    DBuf q(dt, size_t(tokens) * 2 * hd), k(dt, size_t(tokens) * 1 * hd);
    fill(q, 50 + which, -1.f, 1.f);
    fill(k, 60 + which, -1.f, 1.f);
    std::vector<double> q_ref = to_double(q), k_ref = to_double(k);
    for (int t = 0; t < tokens; ++t) {
      if (which == 0) for (int h = 0; h < 2; ++h) rotate_ref(q_ref, (size_t(t) * 2 + h) * hd, hd, TF_ROPE_HALF_SPLIT, pos[t], inv_freq, 1.f);
      else rotate_ref(k_ref, size_t(t) * hd, hd, TF_ROPE_HALF_SPLIT, pos[t], inv_freq, 1.f);
    }
    CHECK_EQ(tf_rope(which == 0 ? q.data() : nullptr, which == 1 ? k.data() : nullptr, pos.data(), inv_freq.data(), tokens,
                     2, 1, hd, hd, TF_ROPE_HALF_SPLIT, 1.f, dt, nullptr), 0);
    const double u = unit_roundoff(dt);
    expect_close("rope q-only/k-only q", q.values().data(), q_ref.data(), q_ref.size(), 2 * u + 2e-6, 2 * u);
    expect_close("rope q-only/k-only k", k.values().data(), k_ref.data(), k_ref.size(), 2 * u + 2e-6, 2 * u);
  }
}

// Fused variant: two sequences with scattered physical blocks, tokens of a prefill chunk (seq 0,
// positions 0..n0-1) and of a later chunk (seq 1, positions start1..), block sizes that do and do not
// divide the positions, partial rotary_dim.
TF_TEST(rope_kv_cache_paged_write) {
  uint64_t seed = 900;
  for (int dt : kDtypes)
    for (int block_size : {16, 5})
      for (const Shape& sh : {Shape{64, 64}, Shape{128, 64}, Shape{6, 4}})
        for (int layout : {TF_ROPE_ADJACENT, TF_ROPE_HALF_SPLIT}) {
          const int hd = sh.head_dim, n_heads = 4, n_kv = 2, num_blocks = 12, max_blocks = 6;
          const int n0 = 7, start1 = 13, n1 = 4, tokens = n0 + n1;
          std::vector<int32_t> pos(tokens), seq(tokens);
          for (int t = 0; t < n0; ++t) { pos[t] = t; seq[t] = 0; }
          for (int t = 0; t < n1; ++t) { pos[n0 + t] = start1 + t; seq[n0 + t] = 1; }
          // Block tables: a permutation of the physical blocks.
          std::vector<int32_t> table(2 * max_blocks);
          std::vector<int32_t> perm(num_blocks);
          for (int i = 0; i < num_blocks; ++i) perm[i] = i;
          tf_test::Rng r(seed++);
          for (int i = num_blocks - 1; i > 0; --i) std::swap(perm[i], perm[r.below(i + 1)]);
          for (int i = 0; i < 2 * max_blocks; ++i) table[i] = perm[i];
          const size_t cache_n = size_t(num_blocks) * block_size * n_kv * hd;
          DBuf q(dt, size_t(tokens) * n_heads * hd), k(dt, size_t(tokens) * n_kv * hd), v(dt, size_t(tokens) * n_kv * hd);
          DBuf kc(dt, cache_n), vc(dt, cache_n);
          fill(q, seed++, -1.f, 1.f);
          fill(k, seed++, -1.f, 1.f);
          fill(v, seed++, -1.f, 1.f);
          fill(kc, seed++, 7.f, 8.f);  // sentinels: slots not written must keep them
          fill(vc, seed++, 7.f, 8.f);
          const std::vector<float> inv_freq = make_inv_freq(sh.rotary_dim, 10000.f);
          std::vector<double> q_ref = to_double(q), k_rot = to_double(k), kc_ref = to_double(kc), vc_ref = to_double(vc);
          const std::vector<double> k_orig = to_double(k);
          for (int t = 0; t < tokens; ++t) {
            for (int h = 0; h < n_heads; ++h) rotate_ref(q_ref, (size_t(t) * n_heads + h) * hd, sh.rotary_dim, layout, pos[t], inv_freq, 1.f);
            for (int h = 0; h < n_kv; ++h) rotate_ref(k_rot, (size_t(t) * n_kv + h) * hd, sh.rotary_dim, layout, pos[t], inv_freq, 1.f);
            const int blk = table[seq[t] * max_blocks + pos[t] / block_size];
            const size_t slot = (size_t(blk) * block_size + pos[t] % block_size) * n_kv * hd;
            for (int j = 0; j < n_kv * hd; ++j) {
              kc_ref[slot + j] = k_rot[size_t(t) * n_kv * hd + j];
              vc_ref[slot + j] = v.get(size_t(t) * n_kv * hd + j);
            }
          }
          const int err = tf_rope_kv_cache(q.data(), k.data(), v.data(), kc.data(), vc.data(), table.data(), pos.data(),
                                           seq.data(), inv_freq.data(), tokens, n_heads, n_kv, hd, sh.rotary_dim, layout,
                                           1.f, block_size, max_blocks, dt, nullptr);
          char what[160];
          std::snprintf(what, sizeof what, "rope_kv_cache %s block_size=%d head_dim=%d rotary_dim=%d layout=%d",
                        dtype_name(dt), block_size, hd, sh.rotary_dim, layout);
          if (err) { tf_test::fail(__FILE__, __LINE__, std::string(what) + " launch error"); continue; }
          const double u = unit_roundoff(dt);
          expect_close(std::string(what) + " q", q.values().data(), q_ref.data(), q_ref.size(), 2 * u + 2e-6, 2 * u);
          expect_close(std::string(what) + " k unchanged", k.values().data(), k_orig.data(), k_orig.size(), 0.0, 0.0);
          expect_close(std::string(what) + " k_cache", kc.values().data(), kc_ref.data(), cache_n, 2 * u + 2e-6, 2 * u);
          expect_close(std::string(what) + " v_cache", vc.values().data(), vc_ref.data(), cache_n, 0.0, 0.0);
        }
}

// rotary_dim == 0: a plain paged KV write for models without RoPE. inv_freq is null (never read), q is
// left alone, k and v land in their slots exactly, every other slot keeps its sentinel. tf_rope with
// rotary_dim 0 is a no-op.
TF_TEST(rope_kv_cache_without_rotation) {
  uint64_t seed = 2000;
  for (int dt : kDtypes)
    for (int hd : {64, 6}) {
      const int n_heads = 4, n_kv = 2, block_size = 4, num_blocks = 6, max_blocks = 3;
      const int tokens = 7;
      // Sequence 0: positions 0..4 (two blocks); sequence 1: positions 9, 10 (its third block).
      const std::vector<int32_t> pos = {0, 1, 2, 3, 4, 9, 10}, seq = {0, 0, 0, 0, 0, 1, 1};
      const std::vector<int32_t> table = {4, 1, 5, 0, 3, 2};
      const size_t cache_n = size_t(num_blocks) * block_size * n_kv * hd;
      DBuf q(dt, size_t(tokens) * n_heads * hd), k(dt, size_t(tokens) * n_kv * hd), v(dt, k.n), kc(dt, cache_n), vc(dt, cache_n);
      fill(q, seed++, -1.f, 1.f);
      fill(k, seed++, -1.f, 1.f);
      fill(v, seed++, -1.f, 1.f);
      fill(kc, seed++, 7.f, 8.f);
      fill(vc, seed++, 7.f, 8.f);
      const std::vector<double> q_orig = to_double(q), k_orig = to_double(k);
      std::vector<double> kc_ref = to_double(kc), vc_ref = to_double(vc);
      for (int t = 0; t < tokens; ++t) {
        const int blk = table[seq[t] * max_blocks + pos[t] / block_size];
        const size_t slot = (size_t(blk) * block_size + pos[t] % block_size) * n_kv * hd;
        for (int j = 0; j < n_kv * hd; ++j) {
          kc_ref[slot + j] = k.get(size_t(t) * n_kv * hd + j);
          vc_ref[slot + j] = v.get(size_t(t) * n_kv * hd + j);
        }
      }
      char what[96];
      std::snprintf(what, sizeof what, "rope_kv_cache rotary_dim=0 %s head_dim=%d", dtype_name(dt), hd);
      const int err = tf_rope_kv_cache(q.data(), k.data(), v.data(), kc.data(), vc.data(), table.data(), pos.data(), seq.data(),
                                       nullptr, tokens, n_heads, n_kv, hd, 0, TF_ROPE_HALF_SPLIT, 1.f, block_size, max_blocks,
                                       dt, nullptr);
      if (err) { tf_test::fail(__FILE__, __LINE__, std::string(what) + " launch error " + std::to_string(err)); continue; }
      expect_close(std::string(what) + " q unchanged", q.values().data(), q_orig.data(), q_orig.size(), 0.0, 0.0);
      expect_close(std::string(what) + " k unchanged", k.values().data(), k_orig.data(), k_orig.size(), 0.0, 0.0);
      expect_close(std::string(what) + " k_cache", kc.values().data(), kc_ref.data(), cache_n, 0.0, 0.0);
      expect_close(std::string(what) + " v_cache", vc.values().data(), vc_ref.data(), cache_n, 0.0, 0.0);
      EXPECT_EQ(tf_rope(q.data(), k.data(), pos.data(), nullptr, tokens, n_heads, n_kv, hd, 0, TF_ROPE_ADJACENT, 1.f, dt,
                        nullptr), 0);
      expect_close(std::string(what) + " tf_rope no-op", q.values().data(), q_orig.data(), q_orig.size(), 0.0, 0.0);
    }
}

TF_TEST(rope_rejects_bad_arguments) {
  DBuf q(TF_DTYPE_F32, 64);
  int32_t pos = 0;
  float f[4] = {1, 1, 1, 1};
  EXPECT(tf_rope(q.data(), nullptr, &pos, f, 1, 1, 0, 8, 7, TF_ROPE_ADJACENT, 1.f, TF_DTYPE_F32, nullptr) != 0);   // odd
  EXPECT(tf_rope(q.data(), nullptr, &pos, f, 1, 1, 0, 8, 10, TF_ROPE_ADJACENT, 1.f, TF_DTYPE_F32, nullptr) != 0);  // > hd
  EXPECT(tf_rope(q.data(), nullptr, &pos, f, 1, 1, 0, 8, 8, 2, 1.f, TF_DTYPE_F32, nullptr) != 0);                 // layout
  EXPECT(tf_rope(q.data(), nullptr, &pos, nullptr, 1, 1, 0, 8, 8, TF_ROPE_ADJACENT, 1.f, TF_DTYPE_F32, nullptr) != 0);  // no table
}
