// emu_encoder_epilogue.cpp: tf_bias_act (the encoder GEMM epilogue) on the emulator against a
// double-precision reference written here from the definition in transfuse.h section 2d.
//
// Tolerance: inputs are rounded to the dtype and the reference works in double from those values.
// The kernel computes act(x + b) + r in fp32 and rounds once, so the error is the final rounding
// (unit roundoff u: fp32 2^-24, fp16 2^-11, bf16 2^-8, relative) plus fp32 arithmetic (erff / tanhf /
// expf are accurate to a few fp32 ulps, ~1e-6 relative to the terms summed). Check: atol = rtol =
// 2u + 1e-5 (outputs are O(1); |x| < 4). A missing or wrong bias row, a dropped residual or a wrong
// activation moves outputs by O(0.1). GELU erf and tanh differ by only ~2e-4 here, below fp16's budget,
// so bias_act_gelu_forms_differ tells them apart in fp32 (budget 1e-5).
#include "tf_test.h"
#include "transfuse.h"
#include "dtype_buffer.h"

#include <cmath>
#include <string>
#include <vector>

using namespace tf_test;

namespace {

double act_ref(int act, double v) {
  switch (act) {
    case TF_ACT_SILU: return v / (1 + std::exp(-v));
    case TF_ACT_GELU_TANH: return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
    case TF_ACT_GELU_ERF: return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
    case TF_ACT_RELU: return v > 0 ? v : 0.0;
    default: return v;
  }
}

const char* act_name(int act) {
  return act == TF_ACT_SILU ? "silu" : act == TF_ACT_GELU_TANH ? "gelu_tanh" : act == TF_ACT_GELU_ERF ? "gelu_erf"
         : act == TF_ACT_RELU ? "relu" : "identity";
}

struct Case {
  int dtype, rows, n, act;
  bool bias, residual;
  int group_rows = 0;             // 0: one bias row for all
  enum { kNone, kOutIsX, kOutIsRes } alias = kNone;
  size_t misalign = 0;            // elements by which every pointer is shifted (breaks 16-byte alignment)
};

void run_case(const Case& c, uint64_t seed) {
  const size_t n = size_t(c.rows) * c.n, m = c.misalign;
  const int groups = c.group_rows > 0 ? (c.rows + c.group_rows - 1) / c.group_rows : 1;
  DBuf x(c.dtype, n + m), b(c.dtype, size_t(groups) * c.n + m), r(c.dtype, n + m), out(c.dtype, n + m);
  fill(x, seed, -4.f, 4.f);
  fill(b, seed + 1, -1.f, 1.f);
  fill(r, seed + 2, -2.f, 2.f);
  fill(out, seed + 3, 100.f, 200.f);  // garbage that must be overwritten
  const std::vector<float> xv = x.values(), bv = b.values(), rv = r.values();
  std::vector<double> ref(n);
  for (int i = 0; i < c.rows; ++i) {
    const int g = c.group_rows > 0 ? i / c.group_rows : 0;
    for (int j = 0; j < c.n; ++j) {
      const size_t e = size_t(i) * c.n + j;
      double v = xv[m + e] + (c.bias ? double(bv[m + size_t(g) * c.n + j]) : 0.0);
      v = act_ref(c.act, v);
      if (c.residual) v += rv[m + e];
      ref[e] = v;
    }
  }
  const size_t eb = DBuf::esize(c.dtype) * m;
  auto at = [&](DBuf& d) { return static_cast<void*>(static_cast<uint8_t*>(d.data()) + eb); };
  DBuf& dst = c.alias == Case::kOutIsX ? x : c.alias == Case::kOutIsRes ? r : out;
  const int err = tf_bias_act(at(dst), at(x), c.bias ? at(b) : nullptr, c.residual ? at(r) : nullptr, c.rows, c.n,
                              c.group_rows, c.act, c.dtype, nullptr);
  char what[200];
  std::snprintf(what, sizeof what, "bias_act %s %s rows=%d n=%d bias=%d residual=%d groups=%d alias=%d misalign=%zu",
                dtype_name(c.dtype), act_name(c.act), c.rows, c.n, c.bias, c.residual, c.group_rows, int(c.alias), m);
  if (err != 0) { fail(__FILE__, __LINE__, std::string(what) + ": launch error " + std::to_string(err)); return; }
  std::vector<float> got(n);
  for (size_t e = 0; e < n; ++e) got[e] = dst.get(m + e);
  const double u = unit_roundoff(c.dtype);
  expect_close(what, got.data(), ref.data(), n, 2 * u + 1e-5, 2 * u + 1e-5);
}

const int kActs[] = {TF_ACT_IDENTITY, TF_ACT_GELU_ERF, TF_ACT_GELU_TANH, TF_ACT_SILU, TF_ACT_RELU};

}  // namespace

// Every dtype x activation x bias/residual combination, vector (n % 8 == 0) and scalar widths.
TF_TEST(bias_act_all_combinations) {
  uint64_t seed = 1;
  for (int dt : kDtypes)
    for (int act : kActs)
      for (int n : {8, 64, 100, 768})
        for (bool bias : {false, true})
          for (bool res : {false, true}) run_case({dt, 5, n, act, bias, res}, seed++);
}

// The layer's uses: in place on x (FFN up, QKV bias), out = residual (the stream), misaligned
// pointers (scalar path) and many rows (grid.y loop is past 65535 only for huge inputs: 70000 rows).
TF_TEST(bias_act_aliases_misalignment_rows) {
  uint64_t seed = 500;
  for (int dt : kDtypes) {
    run_case({dt, 7, 64, TF_ACT_GELU_ERF, true, false, 0, Case::kOutIsX}, seed++);
    run_case({dt, 7, 96, TF_ACT_IDENTITY, true, true, 0, Case::kOutIsRes}, seed++);
    run_case({dt, 7, 96, TF_ACT_IDENTITY, true, true, 0, Case::kOutIsX}, seed++);
    run_case({dt, 3, 64, TF_ACT_GELU_ERF, true, true, 0, Case::kNone, 1}, seed++);
    run_case({dt, 3, 72, TF_ACT_IDENTITY, true, true, 0, Case::kOutIsRes, 3}, seed++);
  }
  run_case({TF_DTYPE_F16, 70000, 8, TF_ACT_GELU_ERF, true, true}, seed++);
}

// Bias rows per group: a Q/K/V projection stored [3][tokens][n] with biases [3][n].
TF_TEST(bias_act_grouped_bias_rows) {
  uint64_t seed = 900;
  for (int dt : kDtypes) {
    run_case({dt, 3 * 11, 64, TF_ACT_IDENTITY, true, false, 11, Case::kOutIsX}, seed++);
    run_case({dt, 3 * 5, 40, TF_ACT_IDENTITY, true, false, 5}, seed++);
    run_case({dt, 10, 16, TF_ACT_GELU_ERF, true, true, 4}, seed++);  // a last, partial group
  }
}

// GELU erf and tanh forms are told apart (fp32, where the tolerance is far below their difference).
TF_TEST(bias_act_gelu_forms_differ) {
  std::vector<float> x(8), b(8, 0.f), out(8);
  for (int i = 0; i < 8; ++i) x[i] = -3.f + 0.8f * i;
  CHECK(tf_bias_act(out.data(), x.data(), b.data(), nullptr, 1, 8, 0, TF_ACT_GELU_ERF, TF_DTYPE_F32, nullptr) == 0);
  double worst = 0;
  for (int i = 0; i < 8; ++i) worst = std::max(worst, std::fabs(out[i] - act_ref(TF_ACT_GELU_TANH, x[i])));
  EXPECT(worst > 1e-4);  // the erf result is not the tanh approximation
}

TF_TEST(bias_act_rejects_bad_arguments) {
  float x[16] = {};
  EXPECT(tf_bias_act(x, x, nullptr, nullptr, 1, 8, 0, 7, TF_DTYPE_F32, nullptr) != 0);   // unknown act
  EXPECT(tf_bias_act(x, x, nullptr, nullptr, 1, 8, 0, TF_ACT_IDENTITY, 9, nullptr) != 0); // unknown dtype
  EXPECT(tf_bias_act(x, x, nullptr, nullptr, 1, 0, 0, TF_ACT_IDENTITY, TF_DTYPE_F32, nullptr) != 0);
  EXPECT(tf_bias_act(x, x, nullptr, nullptr, -1, 8, 0, TF_ACT_IDENTITY, TF_DTYPE_F32, nullptr) != 0);
  EXPECT(tf_bias_act(nullptr, x, nullptr, nullptr, 1, 8, 0, TF_ACT_IDENTITY, TF_DTYPE_F32, nullptr) != 0);
  EXPECT(tf_bias_act(x, x, nullptr, nullptr, 0, 8, 0, TF_ACT_IDENTITY, TF_DTYPE_F32, nullptr) == 0);  // nothing to do
}
