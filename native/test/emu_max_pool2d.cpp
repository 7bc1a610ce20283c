// emu_max_pool2d.cpp: the CUDA-dialect max pooling (tf_max_pool2d, native/kernels/max_pool2d.cuh) on the
// emulator against the plain reference of max_pool2d_ref.h, bit for bit in f32, f16 and bf16 (the input is
// the dtype's values, and a max is one of them); bad geometries and dtypes refused.
#include <cstdio>
#include <string>
#include <vector>

#include "dtype_buffer.h"
#include "max_pool2d_ref.h"
#include "tf_test.h"

TF_TEST(max_pool2d_matches_reference_all_dtypes) {
  uint64_t seed = 4200;
  for (int dt : kDtypes)
    for (const PoolCase& p : pool_cases()) {
      DBuf x(dt, p.x_size()), out(dt, p.out_size());
      fill(x, seed++, -3.f, 1.f);
      fill(out, seed++, 40.f, 41.f);  // every element must be written
      std::vector<float> ref;
      max_pool2d_reference(p, x.values(), ref);
      const auto g = p.geom();
      char what[160];
      std::snprintf(what, sizeof what, "max_pool2d %s %dx%dx%dx%d k%dx%d s%d,%d p%d,%d d%d,%d", dtype_name(dt), p.n, p.h, p.w,
                    p.c, p.kh, p.kw, p.sh, p.sw, p.ph, p.pw, p.dh, p.dw);
      if (tf_max_pool2d(out.data(), x.data(), g.data(), dt, nullptr)) {
        tf_test::fail(__FILE__, __LINE__, std::string(what) + " launch error");
        continue;
      }
      tf_test::expect_close(what, out.values(), ref, 0.0, 0.0);
    }
}

TF_TEST(max_pool2d_refuses_bad_geometry) {
  DBuf buf(TF_DTYPE_F32, 256);
  for (const auto& g : bad_pool_geometries()) EXPECT_EQ(tf_max_pool2d(buf.data(), buf.data(), g.data(), TF_DTYPE_F32, nullptr), 1);
  const std::vector<int32_t> ok = {1, 4, 4, 3, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1};
  EXPECT_EQ(tf_max_pool2d(buf.data(), buf.data(), ok.data(), 99, nullptr), 1);  // unknown dtype
}
