// cpu_conv2d_ops.cpp: tf_cpu_conv2d (native/cpu/conv_ops.cpp) against the double-precision reference of
// conv2d_ref.h over every shape of conv2d_cases() (strides, padding, dilation, groups, 1x1 and 7x7),
// bias and ReLU on and off, under every kernel configuration of cpu_configs.h; bad geometries are refused;
// and one timing line at a ResNet-50 shape (3x3, 256 -> 256 channels, 56x56).
//
// Tolerance: the worst-case bound of an fp32 sum of K products plus a bias (K = kh kw c_in/groups), in any
// order: 2^-24 (K + 2) sum|terms|. ReLU is exact.
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "conv2d_ref.h"
#include "cpu_configs.h"
#include "tf_test.h"
#include "transfuse.h"

namespace {

void run_case(const Conv2dCase& c, bool with_bias, bool relu, uint64_t seed, const std::string& cfg) {
  std::vector<float> x(c.x_size()), w(c.w_size()), bias(c.cout), out(c.out_size(), 1e30f);
  tf_test::fill_uniform(x.data(), x.size(), seed, -1.f, 1.f);
  tf_test::fill_uniform(w.data(), w.size(), seed + 1, -1.f, 1.f);
  tf_test::fill_uniform(bias.data(), bias.size(), seed + 2, -1.f, 1.f);
  std::vector<double> xd(x.begin(), x.end()), wd(w.begin(), w.end()), bd(bias.begin(), bias.end()), ref, mag;
  conv2d_reference(c, xd, wd, with_bias ? bd.data() : nullptr, relu, ref, mag);
  const auto geom = c.geom();
  const int rc = tf_cpu_conv2d(out.data(), x.data(), w.data(), with_bias ? bias.data() : nullptr, relu, geom.data());
  EXPECT_EQ(rc, 0);
  const double k = double(c.kh) * c.kw * (c.cin / c.groups);
  std::vector<double> bound(ref.size());
  for (size_t i = 0; i < ref.size(); ++i) bound[i] = 0x1p-24 * (k + 2) * mag[i] + 1e-30;
  char what[200];
  std::snprintf(what, sizeof what, "%s %dx%dx%d->%d k%dx%d s%d,%d p%d,%d d%d,%d g%d bias=%d relu=%d", cfg.c_str(), c.h, c.w,
                c.cin, c.cout, c.kh, c.kw, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw, c.groups, with_bias, relu);
  expect_within(what, out.data(), ref.data(), bound.data(), ref.size());
}

}  // namespace

TF_TEST(conv2d_matches_double_reference_every_config) {
  for (const CpuConfig& cfg : cpu_configs()) {
    CHECK(cfg.apply());
    uint64_t seed = 100;
    for (const Conv2dCase& c : conv2d_cases())
      for (int flags = 0; flags < 4; ++flags) run_case(c, flags & 1, flags & 2, seed += 3, cfg.name());
  }
  cpu_restore_defaults();
}

TF_TEST(conv2d_refuses_bad_geometry) {
  float buf[64] = {};
  const std::vector<std::vector<int32_t>> bad = {
      {1, 4, 4, 3, 4, 3, 3, 1, 1, 0, 0, 1, 1, 2},   // groups does not divide c_in
      {1, 4, 4, 4, 3, 3, 3, 1, 1, 0, 0, 1, 1, 2},   // groups does not divide c_out
      {1, 2, 2, 1, 1, 3, 3, 1, 1, 0, 0, 1, 1, 1},   // kernel larger than the padded image
      {1, 4, 4, 1, 1, 3, 3, 0, 1, 0, 0, 1, 1, 1},   // stride 0
      {1, 4, 4, 1, 1, 3, 3, 1, 1, -1, 0, 1, 1, 1},  // negative padding
      {0, 4, 4, 1, 1, 3, 3, 1, 1, 0, 0, 1, 1, 1},   // no images
      {1, 4, 4, 1, 1, 3, 3, 1, 1, 0, 0, 0, 1, 1},   // dilation 0
  };
  for (const auto& g : bad) EXPECT_EQ(tf_cpu_conv2d(buf, buf, buf, nullptr, 0, g.data()), -1);
  EXPECT_EQ(tf_cpu_conv2d(buf, buf, buf, nullptr, 0, nullptr), -1);
}

// Not a pass/fail check: prints GFLOP/s at ResNet-50's layer2/3x3 shape with the library's defaults.
TF_TEST(conv2d_resnet50_3x3_256_timing) {
  cpu_restore_defaults();
  tf_cpu_set_threads(2);
  const Conv2dCase c{1, 56, 56, 256, 256, 3, 3, 1, 1, 1, 1, 1, 1, 1};
  std::vector<float> x(c.x_size()), w(c.w_size()), b(c.cout), out(c.out_size());
  tf_test::fill_uniform(x.data(), x.size(), 7);
  tf_test::fill_uniform(w.data(), w.size(), 8);
  tf_test::fill_uniform(b.data(), b.size(), 9);
  const auto geom = c.geom();
  CHECK(tf_cpu_conv2d(out.data(), x.data(), w.data(), b.data(), 1, geom.data()) == 0);
  double best = 1e9;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    tf_cpu_conv2d(out.data(), x.data(), w.data(), b.data(), 1, geom.data());
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  const double flops = 2.0 * c.out_size() * c.kh * c.kw * c.cin;
  // The GEMM alone at the same size (patches already built, weight already packed): what a conv could reach with
  // no im2col and no per-call packing, i.e. the most a direct kernel built on the same register tile could gain.
  const int k = c.kh * c.kw * c.cin, pixels = c.oh() * c.ow();
  std::vector<float> patches(size_t(pixels) * k), packed(size_t(tf_cpu_packed_f32_bytes(k, c.cout) / 4));
  tf_test::fill_uniform(patches.data(), patches.size(), 10);
  tf_cpu_pack_f32(packed.data(), w.data(), k, c.cout);
  double gemm = 1e9;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    tf_cpu_matmul_bias(out.data(), patches.data(), packed.data(), TF_CPU_F32_PANELS, pixels, k, c.cout, b.data(), TF_ACT_IDENTITY);
    gemm = std::min(gemm, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::printf("  conv2d 3x3 256->256 56x56 (2 threads, %s): %.2f ms, %.1f GFLOP/s; the GEMM alone: %.2f ms, %.1f GFLOP/s\n",
              tf_cpu_get_isa() == TF_CPU_ISA_AVX512 ? "avx512" : "other", best * 1e3, flops / best * 1e-9, gemm * 1e3,
              flops / gemm * 1e-9);
  cpu_restore_defaults();
}
