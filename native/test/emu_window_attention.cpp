// emu_window_attention.cpp: tf_window_attention (Swin's W-MSA / SW-MSA on tensor cores) on the emulator
// against the double-precision reference of window_attention_ref.h (explicit roll, window partition, region
// mask and reverse, as HF and torchvision write them), fp16 and bf16, head_dim 32 and 64, q/k/v as the column
// blocks of one fused QKV buffer; plus the launcher's refusals.
//
// Tolerance (u = unit roundoff of the dtype: fp16 2^-11, bf16 2^-8). The reference takes the same
// dtype-rounded q, k, v and the f32 bias. Scores are fp32 sums of exact products (error ~1e-6); P is rounded
// to the dtype before P V (relative u per weight, so the output moves by at most u max|v| = u), and the
// output is rounded once more (u |ref|): |err| <= 2u + 1e-5 + 2u |ref|. A key from the wrong window, a
// wrong bias entry (biases in [-2, 2]) or a missing mask moves outputs by ~1/N = 0.02 or more, above the
// bound for fp16 (1e-3); for bf16 (8e-3) the shifted cases still move several outputs by more.
#include "tf_test.h"
#include "transfuse.h"
#include "dtype_buffer.h"
#include "window_attention_ref.h"

#include <cmath>
#include <vector>

namespace {

void run(int dt, int grid_h, int grid_w, int window, int shift, int heads, int head_dim, uint64_t seed,
         bool cosine = false) {
  const int C = heads * head_dim, T = grid_h * grid_w, span = 2 * window - 1;
  const long stride = 3L * C;
  DBuf qkv(dt, size_t(T) * stride), out(dt, size_t(T) * C);
  fill(qkv, seed, -1.f, 1.f);
  fill(out, seed + 1, 50.f, 60.f);  // garbage that must be overwritten
  const std::vector<float> bias = tf_test::random_uniform(size_t(span) * span * heads, seed + 2, -2.f, 2.f);
  const std::vector<float> in = qkv.values();
  std::vector<double> qd(in.begin(), in.end()), kd(in.begin() + C, in.end()), vd(in.begin() + 2 * C, in.end());
  kd.resize(qd.size());
  vd.resize(qd.size());
  const double scale = 1.0 / std::sqrt(double(head_dim));
  std::vector<float> logit;  // Swin-V2: per-head logit scales (10 at init, up to the clamp 100 would be too sharp for fp16 P)
  for (int h = 0; cosine && h < heads; ++h) logit.push_back(h % 2 ? 20.f : 10.f);
  const std::vector<double> ref = window_attention_ref(qd, kd, vd, stride, std::vector<double>(bias.begin(), bias.end()),
                                                       grid_h, grid_w, window, shift, heads, head_dim, scale,
                                                       std::vector<double>(logit.begin(), logit.end()));
  const size_t es = DBuf::esize(dt);
  char* base = static_cast<char*>(qkv.data());
  char what[200];
  std::snprintf(what, sizeof what, "window attention %s grid %dx%d window %d shift %d heads %d head_dim %d%s",
                dtype_name(dt), grid_h, grid_w, window, shift, heads, head_dim, cosine ? " cosine" : "");
  const int err = tf_window_attention(base, base + size_t(C) * es, base + size_t(2 * C) * es, out.data(), bias.data(),
                                      cosine ? logit.data() : nullptr, grid_h, grid_w, window, shift, heads, head_dim,
                                      stride, float(scale), dt, nullptr);
  if (err) { tf_test::fail(__FILE__, __LINE__, std::string(what) + " launch error " + std::to_string(err)); return; }
  const double u = unit_roundoff(dt);
  const std::vector<float> got = out.values();
  expect_close(what, got.data(), ref.data(), ref.size(), 2 * u + 1e-5, 2 * u);
}

}  // namespace

TF_TEST(window_attention_swin_shapes) {
  for (int dt : {TF_DTYPE_F16, TF_DTYPE_BF16}) {
    run(dt, 14, 14, 7, 3, 2, 32, 31);  // SW-MSA, a Swin-T stage grid shrunk: 4 windows, N = 49
    run(dt, 14, 14, 7, 0, 2, 32, 32);  // W-MSA
    run(dt, 7, 7, 7, 0, 3, 32, 33);    // the last stage: one window
  }
}

TF_TEST(window_attention_other_windows_and_head_dims) {
  for (int dt : {TF_DTYPE_F16, TF_DTYPE_BF16}) {
    run(dt, 8, 12, 4, 2, 2, 64, 41);   // non-square grid, N = 16, head_dim 64
    run(dt, 16, 8, 8, 4, 1, 32, 42);   // window 8: N = 64, every padded row used
    run(dt, 6, 4, 2, 1, 2, 32, 43);    // N = 4: a single warp's rows, most keys padding
    run(dt, 24, 12, 12, 6, 2, 32, 44); // window 12 (Swin at 384 px): N = 144, the 9-warp instantiation
    run(dt, 9, 18, 9, 4, 1, 32, 45);   // window 9: N = 81, padded to 144
  }
}

// Swin-V2's cosine attention: window 8 (V2's), shifted and not, head_dim 32 and 64.
TF_TEST(window_attention_cosine_v2) {
  for (int dt : {TF_DTYPE_F16, TF_DTYPE_BF16}) {
    run(dt, 16, 16, 8, 4, 2, 32, 51, true);
    run(dt, 8, 8, 8, 0, 2, 64, 52, true);
  }
}

TF_TEST(window_attention_refuses_what_it_cannot_run) {
  std::vector<uint16_t> buf(64 * 64 * 3 + 64);
  std::vector<float> bias(25 * 25);
  void* p = buf.data();
  auto call = [&](int grid, int window, int shift, int head_dim, long stride, int dt) {
    return tf_window_attention(p, p, p, p, bias.data(), nullptr, grid, grid, window, shift, 1, head_dim, stride, 0.1f, dt,
                               nullptr);
  };
  EXPECT_EQ(call(9, 9, 0, 64, 96, TF_DTYPE_F16), 1);  // N = 81 > 64 at head dim 64
  EXPECT_EQ(call(13, 13, 0, 32, 96, TF_DTYPE_F16), 1); // N = 169 > 144
  EXPECT_EQ(call(14, 7, 7, 32, 96, TF_DTYPE_F16), 1); // shift not below the window
  EXPECT_EQ(call(14, 4, 0, 32, 96, TF_DTYPE_F16), 1); // grid not a whole number of windows
  EXPECT_EQ(call(14, 7, 0, 48, 144, TF_DTYPE_F16), 1); // head_dim 48 not instantiated
  EXPECT_EQ(call(14, 7, 0, 32, 100, TF_DTYPE_F16), 1); // stride not a multiple of 8
  EXPECT_EQ(call(14, 7, 0, 32, 96, TF_DTYPE_F32), 1); // fp32: no tensor-core path
}
