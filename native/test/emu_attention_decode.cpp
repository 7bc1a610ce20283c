// emu_attention_decode.cpp: tf_attention_decode_{f16,bf16} (paged KV cache, KV split + combine) on
// the emulator against a naive double-precision reference written from the definition in
// transfuse.h (plain loops over logical token positions; nothing shared with the kernel).
//
// Inputs are rounded to the dtype first and the reference computes in double from those values.
// Remaining kernel roundings: fp32 score accumulation (negligible), P rounded to the dtype before
// P·V (unit roundoff u: 2^-11 fp16, 2^-8 bf16; error <= u * max|v|, V in [-1, 1]), fp32 partials
// merged across warps and splits (negligible), output rounded to the dtype (<= u |o|).
// Tolerance: atol 4u, rtol 2u (fp16: 1.95e-3 / 9.8e-4, bf16: 1.56e-2 / 7.8e-3), as for prefill.
// With a soft-cap c the kernel's tanh (absolute error ~1e-7) moves a score by ~1e-7 c: negligible.
// Soft-cap cases use caps of 1 to 3 with scores of std ~2 (up to ~8), so the cap changes the softmax
// by O(1): a kernel that ignored it, or applied it before the scale, would be far outside the bounds.
//
// The cache is filled with NaN everywhere except the slots of live tokens, and unused block-table
// entries hold -1: reading a wrong block, a slot past the context, or an entry past the last
// block makes the output NaN and the test fail.
#include "tf_test.h"
#include "transfuse.h"
#include "dtype_buffer.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

using namespace tf_test;

namespace {

struct Case {
  int dtype = TF_DTYPE_F16;
  int head_dim = 64;
  std::vector<int> context_lens;
  int n_heads = 4, n_kv_heads = 2;
  int block_size = 16;
  int split_len = 128;
  int window = 0;
  bool alibi = false;
  float softcap = 0;
};

std::string describe(const Case& c) {
  std::string s = std::string(dtype_name(c.dtype)) + " D=" + std::to_string(c.head_dim) + " H=" + std::to_string(c.n_heads) +
                  " Hkv=" + std::to_string(c.n_kv_heads) + " block=" + std::to_string(c.block_size) +
                  " split=" + std::to_string(c.split_len) + " window=" + std::to_string(c.window) +
                  (c.alibi ? " alibi" : "") + (c.softcap > 0 ? " softcap=" + std::to_string(c.softcap) : "") + " ctx=";
  for (int l : c.context_lens) s += std::to_string(l) + " ";
  return s;
}

void run_case(const Case& c, uint64_t seed) {
  const int B = (int)c.context_lens.size(), H = c.n_heads, Hkv = c.n_kv_heads, D = c.head_dim, bs = c.block_size;
  int max_ctx = 0, max_blocks = 1, used_blocks = 0;
  for (int l : c.context_lens) {
    max_ctx = std::max(max_ctx, l);
    max_blocks = std::max(max_blocks, (l + bs - 1) / bs + 1);  // one spare entry per row, left at -1
    used_blocks += (l + bs - 1) / bs;
  }
  const int num_blocks = used_blocks + 3;  // a few physical blocks nobody owns (NaN)

  // Logical per-token K/V: [b][token][kv_head][D], rounded to the dtype.
  Rng rng(seed);
  std::vector<std::vector<float>> k_log(B), v_log(B);
  for (int b = 0; b < B; ++b) {
    const size_t n = (size_t)c.context_lens[b] * Hkv * D;
    k_log[b].resize(n);
    v_log[b].resize(n);
    fill_normal(k_log[b].data(), n, seed * 31 + 2 * b);
    fill_uniform(v_log[b].data(), n, seed * 31 + 2 * b + 1);
    for (float& x : k_log[b]) x = from_bits(c.dtype, to_bits(c.dtype, x));
    for (float& x : v_log[b]) x = from_bits(c.dtype, to_bits(c.dtype, x));
  }
  std::vector<float> q((size_t)B * H * D);
  fill_normal(q.data(), q.size(), seed + 7, 2.f);  // std ~2 scores after 1/sqrt(D): peaked softmax
  std::vector<uint16_t> qb(q.size());
  for (size_t i = 0; i < q.size(); ++i) q[i] = from_bits(c.dtype, qb[i] = to_bits(c.dtype, q[i]));

  // Physical blocks in a shuffled order; the cache starts as NaN.
  std::vector<int> perm(num_blocks);
  for (int i = 0; i < num_blocks; ++i) perm[i] = i;
  for (int i = num_blocks - 1; i > 0; --i) std::swap(perm[i], perm[rng.below(i + 1)]);
  std::vector<int> table((size_t)B * max_blocks, -1);
  const size_t block_elems = (size_t)bs * Hkv * D;
  std::vector<uint16_t> kc(num_blocks * block_elems, 0x7FFF), vc(num_blocks * block_elems, 0x7FFF);
  int next = 0;
  for (int b = 0; b < B; ++b) {
    for (int blk = 0; blk * bs < c.context_lens[b]; ++blk) table[(size_t)b * max_blocks + blk] = perm[next++];
    for (int t = 0; t < c.context_lens[b]; ++t) {
      const int phys = table[(size_t)b * max_blocks + t / bs];
      for (int hk = 0; hk < Hkv; ++hk)
        for (int d = 0; d < D; ++d) {
          const size_t dst = (((size_t)phys * bs + t % bs) * Hkv + hk) * D + d;
          const size_t src = ((size_t)t * Hkv + hk) * D + d;
          kc[dst] = to_bits(c.dtype, k_log[b][src]);
          vc[dst] = to_bits(c.dtype, v_log[b][src]);
        }
    }
  }
  std::vector<float> slopes(H);
  for (int h = 0; h < H; ++h) slopes[h] = std::exp2(-8.0f * (h + 1) / H);
  const float scale = 1.f / std::sqrt((float)D);

  const size_t ws_bytes = tf_attention_decode_workspace_bytes(B, H, D, max_ctx, c.split_len);
  std::vector<float> ws((ws_bytes + 3) / 4 + 4, NAN);
  std::vector<uint16_t> ob(q.size(), 0x7FFF);
  auto fn = c.dtype == TF_DTYPE_F16 ? tf_attention_decode_f16 : tf_attention_decode_bf16;
  const int err = fn(qb.data(), kc.data(), vc.data(), ob.data(), table.data(), c.context_lens.data(), B, H, Hkv, D, bs,
                     max_blocks, max_ctx, c.split_len, scale, c.window, c.softcap, c.alibi ? slopes.data() : nullptr,
                     ws.data(), nullptr);
  const std::string what = describe(c);
  if (err != 0) {
    fail(__FILE__, __LINE__, what + ": launcher returned " + std::to_string(err));
    return;
  }

  // Reference: query at position ctx-1 against tokens max(0, ctx-window) .. ctx-1.
  std::vector<double> ref(q.size(), 0.0);
  for (int b = 0; b < B; ++b) {
    const int ctx = c.context_lens[b];
    const int lo = c.window > 0 ? std::max(0, ctx - c.window) : 0;
    for (int h = 0; h < H; ++h) {
      const int hk = h / (H / Hkv);
      const float* qr = &q[((size_t)b * H + h) * D];
      std::vector<double> score(ctx);
      double mx = -INFINITY;
      for (int j = lo; j < ctx; ++j) {
        double dot = 0;
        for (int d = 0; d < D; ++d) dot += (double)qr[d] * k_log[b][((size_t)j * Hkv + hk) * D + d];
        const double x = scale * dot;
        score[j] = (c.softcap > 0 ? c.softcap * std::tanh(x / c.softcap) : x) -
                   (c.alibi ? slopes[h] * (double)(ctx - 1 - j) : 0.0);
        mx = std::max(mx, score[j]);
      }
      double sum = 0;
      double* o = &ref[((size_t)b * H + h) * D];
      for (int j = lo; j < ctx; ++j) {
        const double p = std::exp(score[j] - mx);
        sum += p;
        for (int d = 0; d < D; ++d) o[d] += p * v_log[b][((size_t)j * Hkv + hk) * D + d];
      }
      if (sum > 0)
        for (int d = 0; d < D; ++d) o[d] /= sum;
    }
  }
  std::vector<float> o(q.size());
  for (size_t i = 0; i < o.size(); ++i) o[i] = from_bits(c.dtype, ob[i]);
  const double u = unit_roundoff(c.dtype);
  expect_close(what, o.data(), ref.data(), o.size(), 4 * u, 2 * u);
}

}  // namespace

// Context lengths of 1, not multiples of the block (16) or the split (128), one over several splits.
TF_TEST(decode_contexts_f16) {
  for (int D : {64, 128}) run_case({TF_DTYPE_F16, D, {1, 17, 100, 300}, 8, 2}, 10 + D);
}
TF_TEST(decode_contexts_bf16) {
  for (int D : {64, 128}) run_case({TF_DTYPE_BF16, D, {300, 1, 129, 64}, 8, 2}, 20 + D);
}

// Query heads per KV head: 1, 4, MQA with 6 heads, and a 20-head group (two 16-row slabs, the
// second partial).
TF_TEST(decode_gqa_ratios) {
  run_case({TF_DTYPE_F16, 64, {50, 140}, 3, 3}, 30);
  run_case({TF_DTYPE_BF16, 128, {77, 5}, 8, 2}, 31);
  run_case({TF_DTYPE_F16, 128, {200, 33}, 6, 1}, 32);
  run_case({TF_DTYPE_BF16, 64, {90, 130}, 20, 1}, 33);
}

// Split lengths: smaller than a tile, not a multiple of 64 or of the block size, one split for all.
TF_TEST(decode_split_lengths) {
  run_case({TF_DTYPE_F16, 64, {250, 7, 129}, 4, 2, 16, 40}, 40);
  run_case({TF_DTYPE_F16, 128, {250, 7, 129}, 4, 1, 16, 100}, 41);
  run_case({TF_DTYPE_BF16, 64, {250, 7, 129}, 4, 2, 16, 1000}, 42);
}

// Block sizes other than 16 (a page smaller than a tile row group, and an odd one).
TF_TEST(decode_block_sizes) {
  run_case({TF_DTYPE_F16, 64, {70, 200}, 4, 2, 5, 64}, 50);
  run_case({TF_DTYPE_BF16, 128, {70, 200}, 4, 4, 32, 128}, 51);
}

TF_TEST(decode_window_and_alibi) {
  run_case({TF_DTYPE_F16, 64, {300, 20, 1}, 4, 2, 16, 128, 100}, 60);        // window crosses split borders
  run_case({TF_DTYPE_BF16, 128, {300, 20}, 4, 1, 16, 64, 0, true}, 61);      // ALiBi
  run_case({TF_DTYPE_F16, 128, {260, 45}, 8, 2, 16, 96, 37, true}, 62);      // both
  // Splits cut the window, not the context: 4 splits of 64 over the last 200 keys of 300 (starting at
  // 100, mid-block), all 150 keys of a shorter context (its last split empty), and a context of 20.
  run_case({TF_DTYPE_BF16, 64, {300, 150, 20}, 4, 2, 16, 64, 200}, 63);
  run_case({TF_DTYPE_F16, 256, {1000, 64}, 8, 4, 16, 128, 512}, 64);
}

TF_TEST(decode_empty_context_gives_zeros) { run_case({TF_DTYPE_F16, 64, {0, 40}, 4, 2}, 70); }

// Soft-capping (Gemma 2): every head dim and dtype, alone and with a window, across split borders.
TF_TEST(decode_softcap) {
  uint64_t seed = 1100;
  for (int dt : {TF_DTYPE_F16, TF_DTYPE_BF16})
    for (int D : {64, 128, 256}) {
      Case c{dt, D, {1, 70, 300}, 8, 2, 16, 128};
      c.softcap = 1.5f;
      run_case(c, seed++);
      c.window = 100;  // a sliding-window local layer of Gemma 2 (window past some contexts, inside others)
      c.softcap = 3.f;
      run_case(c, seed++);
    }
}

// Head dim 256 (Gemma): Gemma-2-2B's 8 heads over 4 KV heads, Gemma-3-1B's 4 over 1, MHA; contexts around
// the 64-token tiles and the splits; windows that start mid-tile, cut a split, or cover one token; ALiBi.
TF_TEST(decode_head_dim_256) {
  run_case({TF_DTYPE_F16, 256, {1, 63, 64, 65, 200}, 8, 4, 16, 128}, 1200);
  run_case({TF_DTYPE_BF16, 256, {129, 7}, 4, 1, 16, 64}, 1201);
  run_case({TF_DTYPE_F16, 256, {90, 33}, 2, 2, 5, 40}, 1202);
  run_case({TF_DTYPE_BF16, 256, {300, 20, 1}, 8, 4, 16, 128, 100}, 1203);
  run_case({TF_DTYPE_F16, 256, {260, 45}, 8, 2, 16, 96, 37, true}, 1204);
  run_case({TF_DTYPE_F16, 256, {150}, 4, 2, 16, 64, 1}, 1205);
}

TF_TEST(decode_rejects_bad_arguments) {
  uint16_t x[256] = {};
  int table[1] = {0}, ctx[1] = {1};
  float ws[64];
  EXPECT(tf_attention_decode_f16(x, x, x, x, table, ctx, 1, 1, 1, 96, 16, 1, 1, 64, 1.f, 0, 0.f, nullptr, ws, nullptr) != 0);
  EXPECT(tf_attention_decode_f16(x, x, x, x, table, ctx, 1, 1, 1, 512, 16, 1, 1, 64, 1.f, 0, 0.f, nullptr, ws, nullptr) != 0);
  EXPECT(tf_attention_decode_bf16(x, x, x, x, table, ctx, 1, 3, 2, 64, 16, 1, 1, 64, 1.f, 0, 0.f, nullptr, ws, nullptr) != 0);
  EXPECT(tf_attention_decode_f16(x, x, x, x, table, ctx, 1, 1, 1, 64, 16, 1, 1, 0, 1.f, 0, 0.f, nullptr, ws, nullptr) != 0);
  EXPECT_EQ(tf_attention_decode_workspace_bytes(2, 4, 64, 300, 128), (size_t)2 * 4 * 3 * 65 * 4);
}

TF_TEST(decode_default_split_len) {
  // 1 sequence x 8 KV heads = 8 CTAs per split; 132 SMs want 264 CTAs -> 33 splits of 32768 / 33 -> 1024.
  EXPECT_EQ(tf_attention_decode_default_split_len(1, 32, 8, 32768, 132), 1024);
  EXPECT_EQ(tf_attention_decode_default_split_len(64, 32, 8, 4096, 132), 4096);  // batch fills the GPU: one split
  EXPECT_EQ(tf_attention_decode_default_split_len(1, 32, 8, 300, 132), 256);      // floor of 256 tokens
  EXPECT_EQ(tf_attention_decode_default_split_len(1, 32, 8, 1000, 108) % 64, 0);
}

// Random mixtures (fixed seeds).
TF_TEST(decode_random_configs) {
  Rng rng(777);
  const int heads[][2] = {{4, 4}, {8, 2}, {8, 1}, {32, 2}};
  for (int it = 0; it < 12; ++it) {
    Case c;
    c.dtype = rng.below(2) ? TF_DTYPE_F16 : TF_DTYPE_BF16;
    c.head_dim = 64 << rng.below(3);  // 64, 128, 256
    const auto& hh = heads[rng.below(4)];
    c.n_heads = hh[0];
    c.n_kv_heads = hh[1];
    c.block_size = rng.below(2) ? 16 : 1 + (int)rng.below(40);
    c.split_len = 16 + (int)rng.below(400);
    c.window = rng.below(3) == 0 ? 1 + (int)rng.below(300) : 0;
    c.alibi = rng.below(3) == 0;
    c.softcap = rng.below(3) == 0 ? 1.f + 0.25f * (float)rng.below(20) : 0.f;
    const int batch = 1 + (int)rng.below(4);
    for (int b = 0; b < batch; ++b) c.context_lens.push_back((int)rng.below(600));
    run_case(c, 900 + it);
  }
}
