// cpu_attention_ops.cpp: RoPE with the paged KV-cache write and the two attention ops of libtransfuse_cpu
// (tf_cpu_rope_kv_cache, tf_cpu_attention_paged, tf_cpu_attention_varlen) against plain double-precision
// references written here, under every kernel configuration of cpu_configs.h.
//
// The paged cache of every test is scattered: each sequence's block table is a shuffled set of physical
// blocks, tokens of several sequences are interleaved, every cache slot that no call should touch or read
// holds NaN, and unused block-table entries point at a block full of NaN. The references gather each
// sequence's rows contiguously through the table themselves, so a wrong block, slot or position shows up
// as a wrong value, a NaN, or a NaN left where a row should have been written.
//
// Tolerances (|got - ref| <= bound):
//  - rope: angle = (float)p * inv_freq in float, as specified (the reference does the same), then cos/sin
//    in double times mscale; cosf/sinf ~1 ulp, two float products and a sum: (4e-6 + 1e-5 |ref|) * mscale.
//    Everything the rotation does not touch (values past rotary_dim, v, q when NULL) is compared bit
//    for bit.
//  - attention: fp32 dot products over head_dim (values in [-1, 1], |q k| scale <~ 2), a vector exp
//    within 2 ulp, an fp32 weighted average of v in [-1, 1]: errors ~1e-6; bound 2e-5 + 1e-4 |ref|.
//    A dropped, doubled or misplaced key moves the result by ~1 / context, far above it. The soft-cap
//    (c tanh(x / c), vector tanh a few ulp relative) adds ~1e-7 c to a score: within the same bound for
//    the caps tested (<= 30); without it the scores of the softcap cases (scale up to 4 / sqrt(hd), so
//    |x| up to ~4) change by O(1) and the outputs by far more than the bound.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "cpu_configs.h"
#include "tf_test.h"
#include "transfuse.h"

namespace {

// A paged cache of one layer: k and v [num_blocks][block_size][n_kv][head_dim], every value NaN until written.
// Block 0 is the poison block (never allocated: unused table entries point at it); the others are handed
// out in a shuffled order.
struct PagedCache {
  int num_blocks, block_size, n_kv, head_dim;
  std::vector<float> k, v;
  std::vector<int32_t> free_blocks;

  PagedCache(int blocks, int bs, int kv, int hd, uint64_t seed)
      : num_blocks(blocks), block_size(bs), n_kv(kv), head_dim(hd),
        k(size_t(blocks) * bs * kv * hd, NAN), v(k.size(), NAN) {
    for (int b = 1; b < blocks; ++b) free_blocks.push_back(b);
    tf_test::Rng r(seed);
    for (size_t i = free_blocks.size(); i > 1; --i) std::swap(free_blocks[i - 1], free_blocks[r.below(uint32_t(i))]);
  }
  int32_t allocate() {
    const int32_t b = free_blocks.back();
    free_blocks.pop_back();
    return b;
  }
  size_t slot_floats() const { return size_t(n_kv) * head_dim; }
  // The first float of (block, slot).
  size_t slot(int32_t block, int s) const { return (size_t(block) * block_size + s) * slot_floats(); }
};

// The halves of a PagedCache (tf_test::f32_to_f16, round to nearest even, NaN stays NaN): made from the
// cache, whose floats it then rounds to the same f16 values in place, so that a reference computed from the
// cache reads exactly the values the kernel widens from the halves.
struct HalfCache {
  std::vector<uint16_t> k, v;
  explicit HalfCache(PagedCache& c) : k(c.k.size()), v(c.v.size()) {
    for (size_t i = 0; i < c.k.size(); ++i) {
      k[i] = f32_to_f16(c.k[i]);
      v[i] = f32_to_f16(c.v[i]);
      c.k[i] = f16_to_f32(k[i]);
      c.v[i] = f16_to_f32(v[i]);
    }
  }
};

// A block table [rows][max_blocks] whose row r lists enough shuffled blocks for `positions[r]` positions;
// entries past them point at the poison block 0.
struct BlockTable {
  int max_blocks;
  std::vector<int32_t> t;
  int32_t at(int row, int i) const { return t[size_t(row) * max_blocks + i]; }
};

BlockTable make_table(PagedCache& c, const std::vector<int>& positions, int max_blocks) {
  BlockTable bt{max_blocks, std::vector<int32_t>(positions.size() * max_blocks, 0)};
  for (size_t r = 0; r < positions.size(); ++r)
    for (int i = 0; i < (positions[r] + c.block_size - 1) / c.block_size; ++i) bt.t[r * max_blocks + i] = c.allocate();
  return bt;
}

// Writes random keys and values for positions [0, n) of the sequence of table row `row` into the cache.
void fill_positions(PagedCache& c, const BlockTable& bt, int row, int n, uint64_t seed) {
  tf_test::Rng r(seed);
  for (int p = 0; p < n; ++p) {
    const size_t s = c.slot(bt.at(row, p / c.block_size), p % c.block_size);
    for (size_t i = 0; i < c.slot_floats(); ++i) {
      c.k[s + i] = r.uniform(-1.f, 1.f);
      c.v[s + i] = r.uniform(-1.f, 1.f);
    }
  }
}

// out[h] = softmax(cap(scale q[h] . K)) V over the given key and value rows (each [n_kv][head_dim]), in
// double; cap(x) = softcap tanh(x / softcap), or x for softcap 0.
void attend_ref(double* out, const float* q, const std::vector<const float*>& krows,
                const std::vector<const float*>& vrows, int n_heads, int n_kv, int hd, double scale,
                double softcap = 0) {
  const int group = n_heads / n_kv;
  for (int h = 0; h < n_heads; ++h) {
    double* o = out + size_t(h) * hd;
    std::fill(o, o + hd, 0.0);
    if (krows.empty()) continue;
    const int kvh = h / group;
    std::vector<double> s(krows.size());
    double m = -INFINITY, sum = 0;
    for (size_t j = 0; j < krows.size(); ++j) {
      double d = 0;
      for (int i = 0; i < hd; ++i) d += double(q[size_t(h) * hd + i]) * krows[j][size_t(kvh) * hd + i];
      s[j] = d * scale;
      if (softcap > 0) s[j] = softcap * std::tanh(s[j] / softcap);
      m = std::max(m, s[j]);
    }
    for (double& e : s) sum += e = std::exp(e - m);
    for (size_t j = 0; j < krows.size(); ++j)
      for (int i = 0; i < hd; ++i) o[i] += s[j] / sum * vrows[j][size_t(kvh) * hd + i];
  }
}

std::vector<float> inv_freq_table(int rotary_dim, double theta) {
  std::vector<float> f(rotary_dim / 2);
  for (int i = 0; i < rotary_dim / 2; ++i) f[i] = float(std::pow(theta, -2.0 * i / rotary_dim));
  return f;
}

// Rotates n_heads heads of one token (head_dim apart) in double, as transfuse.h specifies.
void rotate_ref(double* out, const float* x, int heads, int hd, int rot, int layout, int pos, const float* inv_freq,
                float mscale) {
  for (int h = 0; h < heads; ++h) {
    const float* xh = x + size_t(h) * hd;
    double* o = out + size_t(h) * hd;
    for (int i = 0; i < hd; ++i) o[i] = xh[i];
    for (int i = 0; i < rot / 2; ++i) {
      const float angle = float(pos) * inv_freq[i];  // in float, as specified
      const double c = std::cos(double(angle)) * mscale, s = std::sin(double(angle)) * mscale;
      const int ia = layout == TF_ROPE_ADJACENT ? 2 * i : i, ib = layout == TF_ROPE_ADJACENT ? 2 * i + 1 : i + rot / 2;
      o[ia] = xh[ia] * c - xh[ib] * s;
      o[ib] = xh[ia] * s + xh[ib] * c;
    }
  }
}

}  // namespace

// Tokens of three sequences, interleaved and out of position order, rotated and written into a scattered
// cache; q rotated in place (or left alone: q NULL), k not modified, v copied; nothing else touched.
TF_TEST(rope_kv_cache) {
  struct Case { int n_heads, n_kv, hd, rot, block_size; float mscale; };
  const Case cases[] = {{4, 2, 8, 8, 4, 1.0f},   {6, 2, 64, 64, 16, 1.0f}, {4, 4, 128, 64, 8, 1.3f},
                        {8, 1, 80, 20, 5, 0.7f}, {2, 2, 48, 0, 3, 1.0f},   {3, 1, 6, 2, 1, 1.0f}};
  // (sequence, position) of each token: sequences 0 and 2 prefill in pieces, sequence 1 decodes far out
  const int seq_of[] = {0, 2, 0, 1, 2, 0, 2, 0, 2, 2, 0};
  const int pos_of[] = {0, 5, 1, 4099, 6, 2, 7, 3, 8, 9, 4};
  const int tokens = sizeof seq_of / sizeof seq_of[0];
  uint64_t seed = 500;
  for (const Case& c : cases)
    for (int layout : {TF_ROPE_ADJACENT, TF_ROPE_HALF_SPLIT})
      for (bool with_q : {true, false}) {
        const int max_blocks = 4100 / c.block_size + 1;
        PagedCache cache(3 * 12 / c.block_size + 12, c.block_size, c.n_kv, c.hd, seed++);
        // sequence 1 reaches position 4099: its table row lists the poison block up to the last block,
        // which is a real one
        BlockTable bt = make_table(cache, {10, 0, 10}, max_blocks);
        bt.t[size_t(1) * max_blocks + 4099 / c.block_size] = cache.allocate();
        const std::vector<float> inv = inv_freq_table(c.rot, 10000.0);
        const size_t qrow = size_t(c.n_heads) * c.hd, kvrow = size_t(c.n_kv) * c.hd;
        const std::vector<float> q0 = random_uniform(tokens * qrow, seed++), k = random_uniform(tokens * kvrow, seed++),
                                 v = random_uniform(tokens * kvrow, seed++);
        std::vector<int32_t> positions(pos_of, pos_of + tokens), seq_ids(seq_of, seq_of + tokens);
        // the expected cache: NaN everywhere but the written slots
        std::vector<double> kc_ref(cache.k.size(), NAN), qref(q0.size());
        std::vector<float> vc_ref(cache.v.size(), NAN);
        std::vector<double> bound(cache.k.size(), 0.0), qbound(q0.size());
        for (int t = 0; t < tokens; ++t) {
          const int p = pos_of[t];
          const size_t s = cache.slot(bt.at(seq_of[t], p / c.block_size), p % c.block_size);
          rotate_ref(kc_ref.data() + s, k.data() + t * kvrow, c.n_kv, c.hd, c.rot, layout, p, inv.data(), c.mscale);
          std::copy_n(v.data() + t * kvrow, kvrow, vc_ref.begin() + s);
          rotate_ref(qref.data() + t * qrow, q0.data() + t * qrow, c.n_heads, c.hd, c.rot, layout, p, inv.data(), c.mscale);
        }
        for (size_t i = 0; i < kc_ref.size(); ++i) bound[i] = (4e-6 + 1e-5 * std::fabs(kc_ref[i])) * std::max(1.f, c.mscale);
        for (size_t i = 0; i < qref.size(); ++i) qbound[i] = (4e-6 + 1e-5 * std::fabs(qref[i])) * std::max(1.f, c.mscale);
        for (const CpuConfig& cfg : cpu_configs()) {
          CHECK(cfg.apply());
          std::vector<float> q = q0, kc = cache.k, vc = cache.v, kin = k;
          tf_cpu_rope_kv_cache(with_q ? q.data() : nullptr, kin.data(), v.data(), kc.data(), vc.data(), TF_CPU_F32, bt.t.data(),
                               positions.data(), seq_ids.data(), c.rot ? inv.data() : nullptr, tokens, c.n_heads,
                               c.n_kv, c.hd, c.rot, layout, c.mscale, c.block_size, max_blocks);
          char what[200];
          std::snprintf(what, sizeof what, "rope_kv_cache heads=%d kv=%d hd=%d rot=%d bs=%d mscale=%g layout=%d q=%d %s",
                        c.n_heads, c.n_kv, c.hd, c.rot, c.block_size, double(c.mscale), layout, int(with_q),
                        cfg.name().c_str());
          expect_within(std::string(what) + " k cache", kc.data(), kc_ref.data(), bound.data(), kc.size());
          expect_same_bits(std::string(what) + " v cache", vc.data(), vc_ref.data(), vc.size());
          expect_same_bits(std::string(what) + " k input unchanged", kin.data(), k.data(), k.size());
          if (with_q) expect_within(std::string(what) + " q", q.data(), qref.data(), qbound.data(), q.size());
          else expect_same_bits(std::string(what) + " q untouched", q.data(), q0.data(), q.size());
          // values past rotary_dim: the k cache's copies and q are bit-identical to the inputs
          for (int t = 0; t < tokens && c.rot < c.hd; ++t) {
            const size_t s = cache.slot(bt.at(seq_of[t], pos_of[t] / c.block_size), pos_of[t] % c.block_size);
            for (int h = 0; h < c.n_kv; ++h)
              expect_same_bits(std::string(what) + " k past rotary_dim", kc.data() + s + size_t(h) * c.hd + c.rot,
                               k.data() + t * kvrow + size_t(h) * c.hd + c.rot, size_t(c.hd - c.rot));
            for (int h = 0; h < c.n_heads && with_q; ++h)
              expect_same_bits(std::string(what) + " q past rotary_dim", q.data() + t * qrow + size_t(h) * c.hd + c.rot,
                               q0.data() + t * qrow + size_t(h) * c.hd + c.rot, size_t(c.hd - c.rot));
          }
        }
      }
  cpu_restore_defaults();
}

// The same writes into a cache of halves (kv_type TF_CPU_F16): every unwritten slot keeps its NaN bits; v
// is stored as tf_test::f32_to_f16 (an independent round-to-nearest-even through double) gives, bit for bit,
// including values that round to even at ties, to infinity (>= 65520) and to subnormals, on every ISA's
// vector path and its scalar tail (kv rows of 6 values); a rotated key is the f16 rounding of some float
// within the f32 test's bound of the double reference (so it lies in [round(ref - b), round(ref + b)]:
// a truncating or a wrongly rounding store falls outside for about half the values).
TF_TEST(rope_kv_cache_f16) {
  struct Case { int n_heads, n_kv, hd, rot, block_size; float mscale; };
  const Case cases[] = {{4, 2, 8, 8, 4, 1.0f}, {6, 2, 64, 64, 16, 1.0f}, {4, 4, 128, 64, 8, 1.3f}, {3, 1, 6, 2, 1, 1.0f},
                        {8, 1, 80, 20, 5, 0.7f}};
  const int seq_of[] = {0, 2, 0, 1, 2, 0, 2, 0, 2, 2, 0};
  const int pos_of[] = {0, 5, 1, 4099, 6, 2, 7, 3, 8, 9, 4};
  const int tokens = sizeof seq_of / sizeof seq_of[0];
  const float special[] = {65504.0f, 65519.996f, 65520.0f, -70000.0f, INFINITY, -0.0f, 1e-8f, 1.5f * 0x1p-24f,
                           0x1p-25f, 6.1e-5f, 1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f, -3.0e-7f, 0x1p-14f, NAN, 1234.567f};
  const size_t n_special = sizeof special / sizeof special[0];
  const uint16_t poison = 0x7E00;
  uint64_t seed = 550;
  for (const Case& c : cases)
    for (int layout : {TF_ROPE_ADJACENT, TF_ROPE_HALF_SPLIT}) {
      const int max_blocks = 4100 / c.block_size + 1;
      PagedCache cache(3 * 12 / c.block_size + 12, c.block_size, c.n_kv, c.hd, seed++);
      BlockTable bt = make_table(cache, {10, 0, 10}, max_blocks);
      bt.t[size_t(1) * max_blocks + 4099 / c.block_size] = cache.allocate();
      const std::vector<float> inv = inv_freq_table(c.rot, 10000.0);
      const size_t qrow = size_t(c.n_heads) * c.hd, kvrow = size_t(c.n_kv) * c.hd;
      const std::vector<float> q0 = random_uniform(tokens * qrow, seed++), k = random_uniform(tokens * kvrow, seed++);
      std::vector<float> v = random_uniform(tokens * kvrow, seed++);
      for (size_t i = 0; i < v.size(); i += 3) v[i] = special[(i / 3) % n_special];
      std::vector<int32_t> positions(pos_of, pos_of + tokens), seq_ids(seq_of, seq_of + tokens);
      std::vector<double> kc_ref(cache.k.size(), NAN);
      std::vector<uint16_t> vc_ref(cache.v.size(), poison);
      for (int t = 0; t < tokens; ++t) {
        const int p = pos_of[t];
        const size_t s = cache.slot(bt.at(seq_of[t], p / c.block_size), p % c.block_size);
        rotate_ref(kc_ref.data() + s, k.data() + t * kvrow, c.n_kv, c.hd, c.rot, layout, p, inv.data(), c.mscale);
        for (size_t i = 0; i < kvrow; ++i) vc_ref[s + i] = f32_to_f16(v[t * kvrow + i]);
      }
      for (const CpuConfig& cfg : cpu_configs()) {
        CHECK(cfg.apply());
        std::vector<float> q = q0;
        std::vector<uint16_t> kc(cache.k.size(), poison), vc(cache.v.size(), poison);
        tf_cpu_rope_kv_cache(q.data(), k.data(), v.data(), kc.data(), vc.data(), TF_CPU_F16, bt.t.data(), positions.data(),
                             seq_ids.data(), c.rot ? inv.data() : nullptr, tokens, c.n_heads, c.n_kv, c.hd, c.rot, layout,
                             c.mscale, c.block_size, max_blocks);
        char what[200];
        std::snprintf(what, sizeof what, "rope_kv_cache f16 heads=%d kv=%d hd=%d rot=%d bs=%d layout=%d %s", c.n_heads,
                      c.n_kv, c.hd, c.rot, c.block_size, layout, cfg.name().c_str());
        int bad_k = 0, bad_v = 0;
        for (size_t i = 0; i < kc.size(); ++i) {
          if (std::isnan(kc_ref[i])) {
            if (kc[i] != poison && bad_k++ < 3) std::fprintf(stderr, "%s: k slot value %zu written (%04x)\n", what, i, kc[i]);
            continue;
          }
          const double b = (4e-6 + 1e-5 * std::fabs(kc_ref[i])) * std::max(1.f, c.mscale);
          const float lo = round_f16(float(kc_ref[i] - b)), hi = round_f16(float(kc_ref[i] + b)), got = f16_to_f32(kc[i]);
          if (!(got >= lo && got <= hi) && bad_k++ < 3)
            std::fprintf(stderr, "%s: k[%zu] = %g (%04x), the rounded reference [%g, %g]\n", what, i, double(got), kc[i],
                         double(lo), double(hi));
        }
        for (size_t i = 0; i < vc.size(); ++i) {
          // a written NaN may carry any payload (and may look like the poison)
          const bool same = vc[i] == vc_ref[i] ||
                            (vc_ref[i] != poison && std::isnan(f16_to_f32(vc_ref[i])) && std::isnan(f16_to_f32(vc[i])));
          if (!same && bad_v++ < 3)
            std::fprintf(stderr, "%s: v[%zu] = %04x, expected %04x\n", what, i, vc[i], vc_ref[i]);
        }
        EXPECT_EQ(bad_k, 0);
        EXPECT_EQ(bad_v, 0);
        const std::vector<double> qref = [&] {
          std::vector<double> r(q0.size());
          for (int t = 0; t < tokens; ++t)
            rotate_ref(r.data() + t * qrow, q0.data() + t * qrow, c.n_heads, c.hd, c.rot, layout, pos_of[t], inv.data(), c.mscale);
          return r;
        }();
        std::vector<double> qbound(q0.size());
        for (size_t i = 0; i < qref.size(); ++i) qbound[i] = (4e-6 + 1e-5 * std::fabs(qref[i])) * std::max(1.f, c.mscale);
        expect_within(std::string(what) + " q (f32)", q.data(), qref.data(), qbound.data(), q.size());
      }
    }
  cpu_restore_defaults();
}

// Paged attention rows: for each row its own block table and context length (rows of one sequence share
// the table content, as in a chunked prefill; decode rows of different sequences). Context lengths cover
// 0, 1, block_size - 1, block_size, several blocks and ragged ends; head dims 8..320 and ones that are not
// a multiple of any vector width; GQA groups of 1 to 16 (above the kernels' largest head group); windows
// (decode rows far past the window, prefill rows whose window starts mid-chunk); soft-caps.
TF_TEST(attention_paged) {
  struct Case {
    int n_heads, n_kv, hd, block_size, window;
    std::vector<int> seq_lens;
    std::vector<int> rows_per_seq;
    float softcap = 0, scale_mul = 0.7f;
  };
  const Case cases[] = {
      {4, 4, 64, 16, 0, {1, 15, 16, 17, 70}, {1, 1, 1, 1, 1}},             // decode of five sequences
      {8, 2, 128, 16, 0, {40, 33}, {40, 5}},                              // a prefill chunk of 40, a 5-token chunk
      {32, 8, 48, 8, 0, {9, 0, 25}, {3, 1, 2}},                           // a row with context 0
      {16, 1, 8, 4, 0, {13, 64}, {2, 3}},                                 // MQA, group 16
      {6, 3, 20, 5, 7, {30, 6, 50}, {4, 2, 3}},                           // head_dim 20, window 7
      {4, 2, 36, 32, 100, {130, 99}, {3, 2}},                             // window longer than some contexts
      {2, 1, 72, 1, 0, {3, 10}, {3, 2}},                                  // one position per block
      {12, 12, 64, 16, 1, {20}, {4}},                                     // window 1: the last key only
      {8, 8, 256, 16, 0, {300}, {2}},                                     // wide heads, several chunks of keys
      {4, 2, 320, 16, 0, {40}, {3}},                                      // wider than the run kernel's limit
      {4, 1, 16, 8, 0, {200, 150}, {20, 19}},                             // long runs, several chunks of keys
      {4, 2, 64, 16, 0, {1, 17, 90}, {1, 1, 1}, 2.5f, 4.0f},              // soft-cap, decode rows
      {8, 2, 128, 16, 0, {70, 9}, {30, 9}, 5.0f, 4.0f},                   // soft-cap, prefill runs
      {8, 4, 256, 16, 24, {300, 40, 23}, {1, 1, 1}, 30.0f, 4.0f},         // Gemma: hd 256, window, soft-cap, decode
      {8, 4, 256, 16, 24, {100, 60}, {40, 3}, 1.5f, 2.0f},                // the same as prefill chunks (runs)
      {4, 2, 36, 8, 5, {150, 7}, {9, 2}, 4.0f, 3.0f},                     // ragged hd, window 5, soft-cap
      {4, 2, 320, 16, 33, {200}, {3}, 3.0f, 2.0f},                        // the online path past the run limit
  };
  uint64_t seed = 600;
  for (const Case& c : cases) {
    const int nseq = int(c.seq_lens.size());
    int total_blocks = 1;
    for (int len : c.seq_lens) total_blocks += (len + c.block_size - 1) / c.block_size;
    PagedCache cache(total_blocks + 3, c.block_size, c.n_kv, c.hd, seed++);
    const int max_blocks = *std::max_element(c.seq_lens.begin(), c.seq_lens.end()) / c.block_size + 2;
    const BlockTable seq_table = make_table(cache, c.seq_lens, max_blocks);
    for (int s = 0; s < nseq; ++s) fill_positions(cache, seq_table, s, c.seq_lens[s], seed++);
    // first an f32 cache, then the same cache in halves: its f32 values rounded to f16 in place (so that the
    // reference reads exactly what the kernel widens) and the halves handed to the kernel
    for (int kv_type : {TF_CPU_F32, TF_CPU_F16}) {
    std::unique_ptr<HalfCache> half;
    if (kv_type == TF_CPU_F16) half = std::make_unique<HalfCache>(cache);
    // rows: the last rows_per_seq[s] positions of each sequence (a prefill chunk ends at the sequence's end),
    // either each sequence's rows together (a batch of chunked prefills: consecutive rows form runs) or
    // interleaved round-robin across the sequences
    for (bool interleaved : {false, true}) {
    std::vector<int> row_seq, ctx;
    auto add_row = [&](int s, int i) {
      row_seq.push_back(s);
      ctx.push_back(std::max(0, c.seq_lens[s] - c.rows_per_seq[s] + 1 + i));
    };
    if (interleaved) {
      for (int i = 0, more = 1; more; ++i) {
        more = 0;
        for (int s = 0; s < nseq; ++s)
          if (i < c.rows_per_seq[s]) {
            add_row(s, i);
            more = 1;
          }
      }
    } else {
      for (int s = 0; s < nseq; ++s)
        for (int i = 0; i < c.rows_per_seq[s]; ++i) add_row(s, i);
    }
    const int rows = int(row_seq.size());
    std::vector<int32_t> table(size_t(rows) * max_blocks), context_lens(ctx.begin(), ctx.end());
    for (int r = 0; r < rows; ++r)
      std::copy_n(seq_table.t.begin() + size_t(row_seq[r]) * max_blocks, max_blocks, table.begin() + size_t(r) * max_blocks);
    const size_t qrow = size_t(c.n_heads) * c.hd;
    const std::vector<float> q = random_uniform(rows * qrow, seed++);
    const double scale = c.scale_mul / std::sqrt(double(c.hd));
    std::vector<double> ref(rows * qrow);
    for (int r = 0; r < rows; ++r) {
      std::vector<const float*> krows, vrows;  // the row's visible keys, gathered in order
      const int first = c.window > 0 ? std::max(0, ctx[r] - c.window) : 0;
      for (int p = first; p < ctx[r]; ++p) {
        const size_t s = cache.slot(seq_table.at(row_seq[r], p / c.block_size), p % c.block_size);
        krows.push_back(cache.k.data() + s);
        vrows.push_back(cache.v.data() + s);
      }
      attend_ref(ref.data() + r * qrow, q.data() + r * qrow, krows, vrows, c.n_heads, c.n_kv, c.hd, scale, c.softcap);
    }
    for (const CpuConfig& cfg : cpu_configs()) {
      CHECK(cfg.apply());
      std::vector<float> out(ref.size(), NAN);
      tf_cpu_attention_paged(out.data(), q.data(), half ? (const void*)half->k.data() : cache.k.data(),
                             half ? (const void*)half->v.data() : cache.v.data(), kv_type, table.data(),
                             context_lens.data(), rows, c.n_heads, c.n_kv, c.hd, c.block_size, max_blocks, float(scale),
                             c.window, c.softcap);
      char what[200];
      std::snprintf(what, sizeof what, "attention_paged %s heads=%d kv=%d hd=%d bs=%d window=%d softcap=%g rows=%d%s %s",
                    half ? "f16" : "f32", c.n_heads, c.n_kv, c.hd, c.block_size, c.window, double(c.softcap), rows,
                    interleaved ? " interleaved" : "", cfg.name().c_str());
      expect_close(what, out.data(), ref.data(), ref.size(), 2e-5, 1e-4);
    }
    }
    }
  }
  cpu_restore_defaults();
}

// Two sequences that share their first two blocks (a cached prompt prefix) and then diverge: rows of one
// and then the other at consecutive positions look like one run of a prefill, but are not (the second's
// table differs where the first reads), and must each read their own blocks.
TF_TEST(attention_paged_shared_prefix_is_not_a_run) {
  const int n_heads = 4, n_kv = 2, hd = 32, bs = 16, max_blocks = 4;
  PagedCache cache(9, bs, n_kv, hd, 1000);
  BlockTable bt = make_table(cache, {50, 50}, max_blocks);
  for (int i = 0; i < 2; ++i) bt.t[max_blocks + i] = bt.t[i];  // sequence 1 shares blocks 0 and 1 of sequence 0
  fill_positions(cache, bt, 0, 50, 1001);
  fill_positions(cache, bt, 1, 50, 1002);  // rewrites the shared prefix: both read the same keys there
  // rows alternate between the sequences at consecutive context lengths 40, 41, ..., 47
  const int rows = 8;
  std::vector<int32_t> table(size_t(rows) * max_blocks), ctx(rows);
  for (int r = 0; r < rows; ++r) {
    std::copy_n(bt.t.begin() + size_t(r % 2) * max_blocks, max_blocks, table.begin() + size_t(r) * max_blocks);
    ctx[r] = 40 + r;
  }
  const size_t qrow = size_t(n_heads) * hd;
  const std::vector<float> q = random_uniform(rows * qrow, 1003);
  std::vector<double> ref(rows * qrow);
  for (int r = 0; r < rows; ++r) {
    std::vector<const float*> krows, vrows;
    for (int p = 0; p < ctx[r]; ++p) {
      const size_t s = cache.slot(bt.at(r % 2, p / bs), p % bs);
      krows.push_back(cache.k.data() + s);
      vrows.push_back(cache.v.data() + s);
    }
    attend_ref(ref.data() + r * qrow, q.data() + r * qrow, krows, vrows, n_heads, n_kv, hd, 0.2);
  }
  for (const CpuConfig& cfg : cpu_configs()) {
    CHECK(cfg.apply());
    std::vector<float> out(ref.size(), NAN);
    tf_cpu_attention_paged(out.data(), q.data(), cache.k.data(), cache.v.data(), TF_CPU_F32, table.data(), ctx.data(), rows, n_heads,
                           n_kv, hd, bs, max_blocks, 0.2f, 0, 0.0f);
    expect_close("attention_paged shared prefix " + cfg.name(), out.data(), ref.data(), ref.size(), 2e-5, 1e-4);
  }
  // the same over halves (the reference over the rounded values)
  const HalfCache half(cache);
  for (int r = 0; r < rows; ++r) {
    std::vector<const float*> krows, vrows;
    for (int p = 0; p < ctx[r]; ++p) {
      const size_t s = cache.slot(bt.at(r % 2, p / bs), p % bs);
      krows.push_back(cache.k.data() + s);
      vrows.push_back(cache.v.data() + s);
    }
    attend_ref(ref.data() + r * qrow, q.data() + r * qrow, krows, vrows, n_heads, n_kv, hd, 0.2);
  }
  for (const CpuConfig& cfg : cpu_configs()) {
    CHECK(cfg.apply());
    std::vector<float> out(ref.size(), NAN);
    tf_cpu_attention_paged(out.data(), q.data(), half.k.data(), half.v.data(), TF_CPU_F16, table.data(), ctx.data(), rows,
                           n_heads, n_kv, hd, bs, max_blocks, 0.2f, 0, 0.0f);
    expect_close("attention_paged shared prefix, f16 cache " + cfg.name(), out.data(), ref.data(), ref.size(), 2e-5, 1e-4);
  }
  cpu_restore_defaults();
}

// Decode equals prefill: each row of a prefill chunk, run alone as a one-row call, gives the same bits
// (the same arithmetic per (row, head), whatever the grouping of work).
TF_TEST(attention_paged_rows_are_independent) {
  const int n_heads = 8, n_kv = 2, hd = 64, bs = 16, len = 50;
  PagedCache cache(8, bs, n_kv, hd, 700);
  const BlockTable bt = make_table(cache, {len}, 5);
  fill_positions(cache, bt, 0, len, 701);
  const int rows = 20;
  std::vector<int32_t> table, ctx;
  for (int r = 0; r < rows; ++r) {
    table.insert(table.end(), bt.t.begin(), bt.t.end());
    ctx.push_back(len - rows + 1 + r);
  }
  const size_t qrow = size_t(n_heads) * hd;
  const std::vector<float> q = random_uniform(rows * qrow, 702);
  const HalfCache half(cache);
  for (const CpuConfig& cfg : cpu_configs()) {
    CHECK(cfg.apply());
    for (int kv_type : {TF_CPU_F32, TF_CPU_F16})
    for (float softcap : {0.0f, 0.5f}) {  // the run kernel and the one-row kernel cap alike
      const void* kc = kv_type == TF_CPU_F16 ? (const void*)half.k.data() : cache.k.data();
      const void* vc = kv_type == TF_CPU_F16 ? (const void*)half.v.data() : cache.v.data();
      std::vector<float> all(rows * qrow, NAN), one(qrow, NAN);
      tf_cpu_attention_paged(all.data(), q.data(), kc, vc, kv_type, table.data(), ctx.data(), rows,
                             n_heads, n_kv, hd, bs, 5, 0.125f, 0, softcap);
      for (int r = 0; r < rows; ++r) {
        tf_cpu_attention_paged(one.data(), q.data() + r * qrow, kc, vc, kv_type, bt.t.data(), &ctx[r], 1,
                               n_heads, n_kv, hd, bs, 5, 0.125f, 0, softcap);
        expect_close("attention_paged row " + std::to_string(r) + " alone, softcap " + std::to_string(softcap) +
                         (kv_type == TF_CPU_F16 ? " f16 cache " : " ") + cfg.name(),
                     one.data(), all.data() + r * qrow, qrow, 1e-6, 1e-6);
      }
    }
  }
  cpu_restore_defaults();
}

// Packed variable-length attention: causal and not, GQA, q/k/v as column blocks of one fused QKV buffer
// or as separate buffers with padded rows; ragged batches with sequences of length 0, 1 and long ones
// (past the blocked kernel's limits, so the online-softmax path runs too).
TF_TEST(attention_varlen) {
  struct Case { int n_heads, n_kv, hd; bool fused; std::vector<int> lens; };
  const Case cases[] = {
      {12, 12, 32, true, {32, 9, 1}},           // all-MiniLM-L6-v2's shape, ragged
      {4, 2, 64, false, {20, 0, 13, 19}},        // an empty sequence
      {8, 2, 16, true, {1, 1, 1}},
      {6, 3, 20, false, {37, 5}},                // head_dim 20: the blocked kernel's column tail
      {4, 4, 64, true, {600, 3}},                // 600 x 64 floats of K^T: the online path
      {2, 1, 128, false, {300, 290}},            // 300 x 128 floats: the online path
      {2, 1, 8, true, {70, 2050}},               // 2050 keys: past the blocked kernel's score rows
      {2, 2, 320, false, {120, 9}},              // 120 x 320 floats of K^T; wider than the run kernel's limit
  };
  uint64_t seed = 800;
  for (const Case& c : cases) {
    const int batch = int(c.lens.size());
    std::vector<int32_t> cu(batch + 1, 0);
    for (int b = 0; b < batch; ++b) cu[b + 1] = cu[b] + c.lens[b];
    const int total = cu[batch];
    const long qw = long(c.n_heads) * c.hd, kvw = long(c.n_kv) * c.hd;
    // fused: [q | k | v] per row; separate: three buffers whose rows have 3 floats of padding
    const long q_stride = c.fused ? qw + 2 * kvw : qw + 3, kv_stride = c.fused ? qw + 2 * kvw : kvw + 3;
    std::vector<float> qbuf = random_uniform(size_t(total) * q_stride + 1, seed++);
    std::vector<float> kbuf = c.fused ? std::vector<float>() : random_uniform(size_t(total) * kv_stride + 1, seed++);
    std::vector<float> vbuf = c.fused ? std::vector<float>() : random_uniform(size_t(total) * kv_stride + 1, seed++);
    const float* q = qbuf.data();
    const float* k = c.fused ? qbuf.data() + qw : kbuf.data();
    const float* v = c.fused ? qbuf.data() + qw + kvw : vbuf.data();
    const double scale = 1.0 / std::sqrt(double(c.hd));
    for (bool causal : {false, true}) {
      std::vector<double> ref(size_t(total) * qw);
      for (int b = 0; b < batch; ++b)
        for (int i = 0; i < c.lens[b]; ++i) {
          const long r = cu[b] + i;
          std::vector<const float*> krows, vrows;
          for (int j = 0; j < (causal ? i + 1 : c.lens[b]); ++j) {
            krows.push_back(k + (cu[b] + j) * kv_stride);
            vrows.push_back(v + (cu[b] + j) * kv_stride);
          }
          std::vector<float> qr(q + r * q_stride, q + r * q_stride + qw);
          attend_ref(ref.data() + r * qw, qr.data(), krows, vrows, c.n_heads, c.n_kv, c.hd, scale);
        }
      for (const CpuConfig& cfg : cpu_configs()) {
        CHECK(cfg.apply());
        std::vector<float> out(ref.size(), NAN);
        tf_cpu_attention_varlen(out.data(), q, k, v, cu.data(), batch, c.n_heads, c.n_kv, c.hd, q_stride, kv_stride,
                                float(scale), causal);
        char what[200];
        std::snprintf(what, sizeof what, "attention_varlen heads=%d kv=%d hd=%d fused=%d batch=%d causal=%d %s", c.n_heads,
                      c.n_kv, c.hd, int(c.fused), batch, int(causal), cfg.name().c_str());
        expect_close(what, out.data(), ref.data(), ref.size(), 2e-5, 1e-4);
      }
    }
  }
  cpu_restore_defaults();
}

// Causal varlen attention is paged attention over the same keys: a sequence's rows stored in a cache
// with an identity block table (block_size 1) give the same results through both ops.
TF_TEST(attention_varlen_causal_matches_paged) {
  const int n_heads = 8, n_kv = 4, hd = 32, len = 45;
  const size_t kvw = size_t(n_kv) * hd, qw = size_t(n_heads) * hd;
  const std::vector<float> q = random_uniform(len * qw, 900), k = random_uniform(len * kvw, 901),
                           v = random_uniform(len * kvw, 902);
  std::vector<int32_t> table(size_t(len) * len), ctx(len), cu = {0, len};
  for (int r = 0; r < len; ++r) {
    std::iota(table.begin() + size_t(r) * len, table.begin() + size_t(r + 1) * len, 0);
    ctx[r] = r + 1;
  }
  for (const CpuConfig& cfg : cpu_configs()) {
    CHECK(cfg.apply());
    std::vector<float> a(len * qw, NAN), b(len * qw, NAN);
    tf_cpu_attention_varlen(a.data(), q.data(), k.data(), v.data(), cu.data(), 1, n_heads, n_kv, hd, long(qw), long(kvw),
                            0.2f, 1);
    tf_cpu_attention_paged(b.data(), q.data(), k.data(), v.data(), TF_CPU_F32, table.data(), ctx.data(), len, n_heads, n_kv, hd, 1, len,
                           0.2f, 0, 0.0f);
    expect_close("varlen causal vs paged " + cfg.name(), a, b, 2e-6, 2e-5);
  }
  cpu_restore_defaults();
}
