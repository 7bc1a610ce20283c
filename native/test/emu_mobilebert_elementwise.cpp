// emu_mobilebert_elementwise.cpp: MobileBERT's NoNorm (tf_no_norm, mobilebert_elementwise.cuh) on the emulator, every dtype, with and without
// the fused residual add and the bias, out separate / aliasing x / aliasing the residual (MobileBERT's post-norm
// update in place), against a double-precision reference written here.
//
// Tolerances: inputs are rounded to the dtype first and the reference works from those values. The residual sum
// h = round(x + r) is one rounding of an fp32 sum (the reference rounds the double sum once: they differ by one
// unit at most through double rounding, rtol 2u); out = h w + b in fp32, rounded once: |err| <= 2u |ref| + 2u
// (the absolute part covers cancellation in h w + b, whose terms are O(1)).
#include "tf_test.h"
#include "transfuse.h"
#include "dtype_buffer.h"

#include <string>
#include <vector>

namespace {

enum Alias { kOutSeparate, kOutIsX, kOutIsResidual };

void run_case(int dt, int rows, int dim, bool residual, bool bias, Alias alias, uint64_t seed) {
  const size_t n = size_t(rows) * dim;
  DBuf x(dt, n), res(dt, n), w(dt, dim), b(dt, dim), out(dt, n);
  fill(x, seed, -2.f, 2.f);
  fill(res, seed + 1, -2.f, 2.f);
  fill(w, seed + 2, 0.5f, 1.5f);
  fill(b, seed + 3, -1.f, 1.f);
  fill(out, seed + 4, 50.f, 60.f);  // garbage that must be overwritten
  std::vector<double> ref(n), ref_res(n);
  DBuf round_h(dt, 1);
  for (int r = 0; r < rows; r++)
    for (int i = 0; i < dim; i++) {
      const size_t o = size_t(r) * dim + i;
      double h = x.get(o);
      if (residual) {
        round_h.set(0, float(double(x.get(o)) + res.get(o)));
        h = round_h.get(0);
        ref_res[o] = h;
      }
      ref[o] = h * w.get(i) + (bias ? b.get(i) : 0.0);
    }
  DBuf& dst = alias == kOutIsX ? x : alias == kOutIsResidual ? res : out;
  char what[160];
  std::snprintf(what, sizeof what, "no_norm %s rows=%d dim=%d%s%s out=%s", dtype_name(dt), rows, dim, residual ? " +residual" : "",
                bias ? " +bias" : "", alias == kOutIsX ? "x" : alias == kOutIsResidual ? "residual" : "separate");
  const int err = tf_no_norm(dst.data(), residual ? res.data() : nullptr, x.data(), w.data(), bias ? b.data() : nullptr, rows, dim,
                             dt, nullptr);
  if (err) { tf_test::fail(__FILE__, __LINE__, std::string(what) + " launch error"); return; }
  const double u = unit_roundoff(dt);
  const std::vector<float> got = dst.values();
  expect_close(what, got.data(), ref.data(), n, 2 * u, 2 * u);
  if (residual && alias != kOutIsResidual) {
    const std::vector<float> got_res = res.values();
    expect_close(std::string(what) + " residual", got_res.data(), ref_res.data(), n, 0.0, 2 * u);
  }
}

}  // namespace

TF_TEST(no_norm_all_dtypes_residual_bias_aliasing) {
  uint64_t seed = 31;
  for (int dt : kDtypes)
    for (int dim : {1, 128, 300, 512})
      for (bool residual : {false, true})
        for (bool bias : {false, true}) {
          run_case(dt, 3, dim, residual, bias, kOutSeparate, seed += 5);
          run_case(dt, 2, dim, residual, bias, kOutIsX, seed += 5);
          if (residual) run_case(dt, 2, dim, residual, bias, kOutIsResidual, seed += 5);
        }
}

TF_TEST(no_norm_many_rows) {
  run_case(TF_DTYPE_F16, 65600, 1, true, true, kOutIsResidual, 900);  // past grid.y's 65535
}

TF_TEST(no_norm_rejects_bad_arguments) {
  DBuf x(TF_DTYPE_F32, 8), w(TF_DTYPE_F32, 8);
  EXPECT_EQ(tf_no_norm(x.data(), nullptr, x.data(), w.data(), nullptr, 1, 0, TF_DTYPE_F32, nullptr), 1);
  EXPECT_EQ(tf_no_norm(x.data(), nullptr, x.data(), nullptr, nullptr, 1, 8, TF_DTYPE_F32, nullptr), 1);
  EXPECT_EQ(tf_no_norm(x.data(), nullptr, x.data(), w.data(), nullptr, 1, 8, 7, nullptr), 1);
}

