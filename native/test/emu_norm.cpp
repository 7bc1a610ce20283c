// emu_norm.cpp: RMSNorm / LayerNorm (with and without the fused residual add) on the emulator,
// against a double-precision reference written here with plain loops.
//
// Tolerances: inputs are rounded to the dtype first and the reference works in double from those
// rounded values, so the only differences are the kernel's fp32 arithmetic (mean/variance sums over
// dim terms: relative error ~dim * 2^-24, far below 1e-5 at dim <= 5120) and the final rounding of the
// output to the dtype (at most one unit roundoff u: fp32 2^-24, fp16 2^-11, bf16 2^-8).
// So out is checked with rtol = 2u + 1e-5 and atol = 2u + 1e-5 (outputs are O(1): w in [0.5, 1.5],
// normalised h). The residual stream h = round(x + r) is a single rounding of an fp32 sum; against
// the double sum rounded once it can differ by one unit only through double rounding, hence rtol 2u.
#include "tf_test.h"
#include "transfuse.h"
#include "dtype_buffer.h"

#include <cstring>
#include <vector>


namespace {

// Which buffer out is (transfuse.h: out may be x or residual exactly).
enum Alias { kOutSeparate = 0, kOutIsX = 1, kOutIsResidual = 2 };

struct NormCase {
  int dtype, rows, dim;
  bool layer, residual, bias;
  Alias alias;
};

void run_case(const NormCase& c, uint64_t seed) {
  const size_t n = size_t(c.rows) * c.dim;
  DBuf x(c.dtype, n), res(c.dtype, n), w(c.dtype, c.dim), b(c.dtype, c.dim), out(c.dtype, n);
  fill(x, seed, -1.f, 3.f);  // mean ~1: a wrong mean in LayerNorm shows
  fill(res, seed + 1, -2.f, 2.f);
  fill(w, seed + 2, 0.5f, 1.5f);
  fill(b, seed + 3, -0.5f, 0.5f);
  fill(out, seed + 4, 100.f, 200.f);  // garbage that must be overwritten
  const float eps = 1e-5f;
  const std::vector<float> xv = x.values(), rv = res.values(), wv = w.values(), bv = b.values();

  // Reference (double).
  std::vector<double> ref(n), ref_res(n);
  for (int r = 0; r < c.rows; ++r) {
    std::vector<double> h(c.dim);
    for (int j = 0; j < c.dim; ++j) {
      const size_t i = size_t(r) * c.dim + j;
      double v = xv[i];
      if (c.residual) {
        DBuf one(c.dtype, 1);
        one.set(0, float(double(xv[i]) + double(rv[i])));  // the stream holds the sum rounded to T
        v = one.get(0);
        ref_res[i] = v;
      }
      h[j] = v;
    }
    double mean = 0, ms = 0;
    for (double v : h) { mean += v; ms += v * v; }
    mean /= c.dim;
    ms /= c.dim;
    double var = 0;
    for (double v : h) var += (v - mean) * (v - mean);
    var /= c.dim;
    for (int j = 0; j < c.dim; ++j) {
      const size_t i = size_t(r) * c.dim + j;
      if (c.layer) ref[i] = (h[j] - mean) / std::sqrt(var + eps) * wv[j] + (c.bias ? bv[j] : 0.0);
      else ref[i] = h[j] / std::sqrt(ms + eps) * wv[j];
    }
  }

  DBuf& out_buf = c.alias == kOutIsX ? x : c.alias == kOutIsResidual ? res : out;
  void* out_ptr = out_buf.data();
  int err = c.layer ? tf_layernorm(out_ptr, c.residual ? res.data() : nullptr, x.data(), w.data(),
                                   c.bias ? b.data() : nullptr, c.rows, c.dim, eps, c.dtype, nullptr)
                    : tf_rmsnorm(out_ptr, c.residual ? res.data() : nullptr, x.data(), w.data(), c.rows, c.dim, eps,
                                 c.dtype, nullptr);
  char what[200];
  std::snprintf(what, sizeof what, "%s %s rows=%d dim=%d residual=%d bias=%d out=%s", c.layer ? "layernorm" : "rmsnorm",
                dtype_name(c.dtype), c.rows, c.dim, c.residual, c.bias,
                c.alias == kOutIsX ? "x" : c.alias == kOutIsResidual ? "residual" : "separate");
  if (err != 0) { tf_test::fail(__FILE__, __LINE__, std::string(what) + ": launch error " + std::to_string(err)); return; }
  const double u = unit_roundoff(c.dtype);
  const std::vector<float> got = out_buf.values();
  expect_close(std::string(what) + " out", got.data(), ref.data(), n, 2 * u + 1e-5, 2 * u + 1e-5);
  if (c.residual && c.alias != kOutIsResidual) {  // (out == residual: the stream now holds the norm)
    const std::vector<float> got_res = res.values();
    expect_close(std::string(what) + " residual", got_res.data(), ref_res.data(), n, 0.0, 2 * u);
  }
}

const int kDims[] = {1, 3, 8, 33, 64, 100, 256, 1000, 2048, 5120};

}  // namespace

TF_TEST(rmsnorm_all_shapes_dtypes_residual) {
  uint64_t seed = 1;
  for (int dt : kDtypes)
    for (int dim : kDims)
      for (bool residual : {false, true}) run_case({dt, 3, dim, false, residual, false, kOutSeparate}, seed++);
}

TF_TEST(layernorm_all_shapes_dtypes_residual_bias) {
  uint64_t seed = 1000;
  for (int dt : kDtypes)
    for (int dim : kDims)
      for (bool residual : {false, true})
        for (bool bias : {false, true}) run_case({dt, 3, dim, true, residual, bias, kOutSeparate}, seed++);
}

TF_TEST(norm_out_aliases_x_and_many_rows) {
  uint64_t seed = 5000;
  for (int dt : kDtypes) {
    run_case({dt, 2, 4096, false, true, false, kOutIsX}, seed++);
    run_case({dt, 2, 77, true, true, true, kOutIsX}, seed++);
    run_case({dt, 37, 128, false, true, false, kOutSeparate}, seed++);
    run_case({dt, 37, 96, true, false, true, kOutSeparate}, seed++);
  }
}

// out == residual, the post-LN update in place: layernorm(out = h, residual = h, x = delta) leaves
// norm(h + delta) in h. Vector and scalar paths (dims 768 / 77), several vectors per thread (dim
// 16384), with and without bias, and RMSNorm too.
TF_TEST(norm_out_aliases_residual_post_ln) {
  uint64_t seed = 7000;
  for (int dt : kDtypes)
    for (int dim : {768, 77, 16384}) {
      run_case({dt, 5, dim, true, true, true, kOutIsResidual}, seed++);
      run_case({dt, 5, dim, true, true, false, kOutIsResidual}, seed++);
      run_case({dt, 5, dim, false, true, false, kOutIsResidual}, seed++);
    }
}

// dim 16384: 64 KiB of dynamic shared memory (over the 48 KiB default; the GPU launcher raises the
// limit), and several vectors per thread.
TF_TEST(norm_wide_rows) {
  uint64_t seed = 6000;
  for (int dt : kDtypes) {
    run_case({dt, 1, 16384, false, true, false, kOutSeparate}, seed++);
    run_case({dt, 1, 16384, true, true, true, kOutSeparate}, seed++);
  }
}

// A pointer that is not 16-byte aligned with a vector-friendly dim must take the scalar path.
TF_TEST(norm_misaligned_pointers) {
  for (int dt : kDtypes) {
    const int rows = 3, dim = 64;
    const size_t n = size_t(rows) * dim;
    DBuf x(dt, n + 1), w(dt, dim + 1), out(dt, n + 1);
    fill(x, 70 + dt, -1.f, 3.f);
    fill(w, 80 + dt, 0.5f, 1.5f);
    const size_t es = DBuf::esize(dt);
    CHECK_EQ(tf_rmsnorm(static_cast<char*>(out.data()) + es, nullptr, static_cast<char*>(x.data()) + es,
                        static_cast<char*>(w.data()) + es, rows, dim, 1e-5f, dt, nullptr), 0);
    std::vector<double> ref(n);
    std::vector<float> got(n);
    for (int r = 0; r < rows; ++r) {
      double ms = 0;
      for (int j = 0; j < dim; ++j) ms += double(x.get(1 + r * dim + j)) * x.get(1 + r * dim + j);
      ms /= dim;
      for (int j = 0; j < dim; ++j) {
        ref[r * dim + j] = x.get(1 + r * dim + j) / std::sqrt(ms + 1e-5) * w.get(1 + j);
        got[r * dim + j] = out.get(1 + r * dim + j);
      }
    }
    const double u = unit_roundoff(dt);
    expect_close(std::string("rmsnorm misaligned ") + dtype_name(dt), got.data(), ref.data(), n, 2 * u + 1e-5, 2 * u + 1e-5);
  }
}

TF_TEST(norm_rejects_bad_arguments) {
  DBuf x(TF_DTYPE_F32, 8), w(TF_DTYPE_F32, 8);
  EXPECT(tf_rmsnorm(x.data(), nullptr, x.data(), w.data(), 1, 8, 1e-5f, 7, nullptr) != 0);   // unknown dtype
  EXPECT(tf_rmsnorm(x.data(), nullptr, x.data(), w.data(), 1, 0, 1e-5f, TF_DTYPE_F32, nullptr) != 0);
  EXPECT(tf_layernorm(x.data(), nullptr, x.data(), nullptr, nullptr, 1, 8, 1e-5f, TF_DTYPE_F32, nullptr) != 0);
  EXPECT_EQ(tf_rmsnorm(x.data(), nullptr, x.data(), w.data(), 0, 8, 1e-5f, TF_DTYPE_F32, nullptr), 0);  // no rows
}
