// cpu_window_attention.cpp: tf_cpu_window_attention (Swin's W-MSA / SW-MSA) against the double-precision
// reference of window_attention_ref.h (explicit roll, window partition, region mask and reverse, as HF and
// torchvision write them), under every kernel configuration of cpu_configs.h.
//
// Shapes: Swin-T's stage shapes shrunk (window 7: 14x14 and 7x7 grids, shift 3 and 0), a non-square grid,
// windows of 2 (N = 4, below one vector) and 12 (N = 144, the largest), head_dim 32, 24 (not a multiple of
// the AVX-512 width) and 64, q/k/v as the column blocks of one fused QKV buffer. Biases are drawn in
// [-2, 2] so that a wrong table index moves a score by O(1).
//
// Swin-V2's cosine attention (logit_scale given) runs on the same shapes with per-head logit scales.
//
// Tolerance: fp32 dot products over head_dim of values in [-1, 1] times scale, a vector exp within 2 ulp,
// a weighted average of v in [-1, 1]: errors ~1e-6; bound 2e-5 + 1e-4 |ref| (as cpu_attention_ops.cpp).
// A key from the wrong window, a wrong bias entry or a missing mask moves outputs by ~1/N or more.
#include <cmath>
#include <string>
#include <vector>

#include "cpu_configs.h"
#include "tf_test.h"
#include "transfuse.h"
#include "window_attention_ref.h"

namespace {

void run(int grid_h, int grid_w, int window, int shift, int heads, int head_dim, uint64_t seed, bool cosine = false) {
  const int C = heads * head_dim, T = grid_h * grid_w, span = 2 * window - 1;
  const long stride = 3L * C;  // one fused QKV row: q | k | v
  const std::vector<float> qkv = tf_test::random_uniform(size_t(T) * stride, seed);
  const std::vector<float> bias = tf_test::random_uniform(size_t(span) * span * heads, seed + 1, -2.f, 2.f);
  const double scale = 1.0 / std::sqrt(double(head_dim));
  // Swin-V2: per-head logit scales around 10 (exp(log 10) at init) and up to the clamp, 100
  std::vector<float> logit;
  for (int h = 0; cosine && h < heads; ++h) logit.push_back(h % 2 ? 100.f : 10.f - h);
  std::vector<double> qd(qkv.size()), bd(bias.begin(), bias.end());
  for (size_t i = 0; i < qkv.size(); ++i) qd[i] = qkv[i];
  std::vector<double> kd(qd.begin() + C, qd.end()), vd(qd.begin() + 2 * C, qd.end());
  kd.resize(qd.size());
  vd.resize(qd.size());
  const std::vector<double> ref =
      window_attention_ref(qd, kd, vd, stride, bd, grid_h, grid_w, window, shift, heads, head_dim, scale,
                           std::vector<double>(logit.begin(), logit.end()));
  for (const CpuConfig& cfg : cpu_configs()) {
    CHECK(cfg.apply());
    std::vector<float> out(size_t(T) * C, NAN);
    tf_cpu_window_attention(out.data(), qkv.data(), qkv.data() + C, qkv.data() + 2 * C, bias.data(),
                            cosine ? logit.data() : nullptr, grid_h, grid_w, window, shift, heads, head_dim, stride,
                            float(scale));
    char what[200];
    std::snprintf(what, sizeof what, "window attention %s grid %dx%d window %d shift %d heads %d head_dim %d%s",
                  cfg.name().c_str(), grid_h, grid_w, window, shift, heads, head_dim, cosine ? " cosine" : "");
    expect_close(what, out.data(), ref.data(), ref.size(), 2e-5, 1e-4);
  }
}

}  // namespace

TF_TEST(window_attention_swin_stage_shapes) {
  run(14, 14, 7, 3, 3, 32, 11);  // SW-MSA of a stage-1-like grid
  run(14, 14, 7, 0, 3, 32, 12);  // W-MSA of the same
  run(7, 7, 7, 0, 4, 32, 13);    // the last stage: one window, no shift
}

TF_TEST(window_attention_odd_shapes) {
  run(8, 12, 4, 2, 2, 24, 21);   // non-square grid, head_dim not a multiple of 16
  run(6, 4, 2, 1, 1, 64, 22);    // N = 4 keys, below one vector
  run(12, 24, 12, 6, 2, 32, 23); // window 12 (Swin at 384 px): N = 144, the largest
  run(16, 16, 8, 4, 2, 64, 24);  // window 8 (Swin-V2), head_dim 64
}

// Swin-V2's cosine attention: logit scales 10 and 100 (the clamp), windows 8 (V2's) and 7. With logit scale 100
// the scores span +-100, so the softmax is nearly one-hot and a wrong norm shows as a different winner; the
// tolerance stays 2e-5 + 1e-4 |ref| (the scores' fp32 error grows with the scale: ~100 x 1e-7).
TF_TEST(window_attention_cosine_v2) {
  run(16, 16, 8, 4, 3, 32, 31, true);
  run(14, 14, 7, 3, 2, 32, 32, true);
  run(8, 8, 8, 0, 4, 24, 33, true);
}
