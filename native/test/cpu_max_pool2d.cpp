// cpu_max_pool2d.cpp: tf_cpu_max_pool2d (native/cpu/pool_ops.cpp) against the plain reference of
// max_pool2d_ref.h over pool_cases(), bit for bit; NaN propagates; bad geometries are refused.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "max_pool2d_ref.h"
#include "tf_test.h"

TF_TEST(max_pool2d_matches_reference) {
  uint64_t seed = 4100;
  for (const PoolCase& p : pool_cases()) {
    std::vector<float> x(p.x_size()), out(p.out_size(), 1e30f), ref;
    tf_test::fill_uniform(x.data(), x.size(), seed++, -3.f, 1.f);  // mostly negative: padding must not count as 0
    max_pool2d_reference(p, x, ref);
    const auto g = p.geom();
    CHECK_EQ(tf_cpu_max_pool2d(out.data(), x.data(), g.data()), 0);
    char what[160];
    std::snprintf(what, sizeof what, "max_pool2d %dx%dx%dx%d k%dx%d s%d,%d p%d,%d d%d,%d", p.n, p.h, p.w, p.c, p.kh, p.kw,
                  p.sh, p.sw, p.ph, p.pw, p.dh, p.dw);
    tf_test::expect_close(what, out, ref, 0.0, 0.0);
  }
}

TF_TEST(max_pool2d_propagates_nan) {
  const PoolCase p{1, 4, 4, 2, 3, 3, 2, 2, 1, 1, 1, 1};
  std::vector<float> x(p.x_size(), 1.f), out(p.out_size());
  x[(1 * 4 + 1) * 2 + 1] = NAN;  // pixel (1, 1), channel 1: in output (0, 0) and its neighbours
  const auto g = p.geom();
  CHECK_EQ(tf_cpu_max_pool2d(out.data(), x.data(), g.data()), 0);
  EXPECT(std::isnan(out[1]));
  EXPECT_EQ(out[0], 1.f);
}

TF_TEST(max_pool2d_refuses_bad_geometry) {
  std::vector<float> buf(256);
  for (const auto& g : bad_pool_geometries()) EXPECT_EQ(tf_cpu_max_pool2d(buf.data(), buf.data(), g.data()), -1);
}
