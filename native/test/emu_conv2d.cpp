// emu_conv2d.cpp: the CUDA-dialect NHWC convolution (tf_conv2d, native/kernels/conv2d.cuh) on the
// emulator (or a GPU, as gpu_emu_conv2d), against the double-precision reference of conv2d_ref.h over
// every shape of conv2d_cases(), in f32, f16 and bf16, bias and ReLU on and off; bad geometries refused.
//
// Tolerance: inputs are the dtype's values (the reference sees the same rounded numbers), sums in fp32
// (worst case 2^-24 (K + 2) sum|terms|), then one rounding to the dtype (unit roundoff u of |ref|).
// fp16 adds 2^-24 absolute for subnormal outputs.
#include "conv2d_ref.h"
#include "dtype_buffer.h"
#include "tf_test.h"
#include "transfuse.h"

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

TF_TEST(conv2d_matches_double_reference_all_dtypes) {
  uint64_t seed = 900;
  for (int dt : kDtypes)
    for (const Conv2dCase& c : conv2d_cases())
      for (int flags = 0; flags < 4; ++flags) {
        const bool has_bias = flags & 1, relu = flags & 2;
        DBuf x(dt, c.x_size()), w(dt, c.w_size()), b(dt, c.cout), out(dt, c.out_size());
        fill(x, seed++, -1.f, 1.f);
        fill(w, seed++, -1.f, 1.f);
        fill(b, seed++, -1.f, 1.f);
        fill(out, seed++, 40.f, 41.f);  // every element must be written
        std::vector<double> xd(x.n), wd(w.n), bd(b.n), ref, mag;
        for (size_t i = 0; i < x.n; ++i) xd[i] = x.get(i);
        for (size_t i = 0; i < w.n; ++i) wd[i] = w.get(i);
        for (size_t i = 0; i < b.n; ++i) bd[i] = b.get(i);
        conv2d_reference(c, xd, wd, has_bias ? bd.data() : nullptr, relu, ref, mag);
        const auto geom = c.geom();
        char what[200];
        std::snprintf(what, sizeof what, "conv2d %s %dx%dx%d->%d k%dx%d s%d,%d p%d,%d d%d,%d g%d bias=%d relu=%d",
                      dtype_name(dt), c.h, c.w, c.cin, c.cout, c.kh, c.kw, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw, c.groups,
                      has_bias, relu);
        const int err = tf_conv2d(out.data(), x.data(), w.data(), has_bias ? b.data() : nullptr, relu, geom.data(), dt, nullptr);
        if (err) { tf_test::fail(__FILE__, __LINE__, std::string(what) + " launch error"); continue; }
        const double k = double(c.kh) * c.kw * (c.cin / c.groups), u = unit_roundoff(dt);
        const double sub = dt == TF_DTYPE_F16 ? 0x1p-24 : 0.0;
        for (size_t i = 0; i < ref.size(); ++i) {
          const double tol = 0x1p-24 * (k + 2) * mag[i] * (1 + u) + u * std::fabs(ref[i]) + sub + 1e-30;
          if (!(std::fabs(out.get(i) - ref[i]) <= tol)) {
            char buf[400];
            std::snprintf(buf, sizeof buf, "%s: [%zu] got %.9g want %.9g (tol %.3g)", what, i, double(out.get(i)), ref[i], tol);
            tf_test::fail(__FILE__, __LINE__, buf);
            break;
          }
        }
      }
}

TF_TEST(conv2d_refuses_bad_geometry) {
  DBuf buf(TF_DTYPE_F32, 64);
  const std::vector<std::vector<int32_t>> bad = {
      {1, 4, 4, 3, 4, 3, 3, 1, 1, 0, 0, 1, 1, 2},  // groups does not divide c_in
      {1, 2, 2, 1, 1, 3, 3, 1, 1, 0, 0, 1, 1, 1},  // kernel larger than the padded image
      {1, 4, 4, 1, 1, 3, 3, 0, 1, 0, 0, 1, 1, 1},  // stride 0
  };
  for (const auto& g : bad)
    EXPECT_EQ(tf_conv2d(buf.data(), buf.data(), buf.data(), nullptr, 0, g.data(), TF_DTYPE_F32, nullptr), 1);
  const std::vector<int32_t> ok = {1, 4, 4, 1, 1, 3, 3, 1, 1, 0, 0, 1, 1, 1};
  EXPECT_EQ(tf_conv2d(buf.data(), buf.data(), buf.data(), nullptr, 0, ok.data(), 99, nullptr), 1);  // unknown dtype
}
