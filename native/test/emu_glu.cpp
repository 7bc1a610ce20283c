// emu_glu.cpp: the GLU epilogue (gate and up as two [tokens][ffn] buffers, as the two column halves
// of one [tokens][2*ffn] gate/up GEMM output, with padded row strides, misaligned, and in place) and
// the fused decode gate/up GEMV, on the emulator, against double-precision references written here.
//
// Tolerances (u = unit roundoff of the output type: fp32 2^-24, fp16 2^-11, bf16 2^-8).
//  - GLU epilogue: the reference takes the same dtype-rounded inputs; the kernel's fp32 expf / tanhf /
//    erff are within a few ulp, and the output is rounded once: |err| <= 2u |ref| + 1e-6 (the absolute
//    part covers outputs near zero, where a few fp32 ulp of the activation dominate).
//  - GEMV: fp32 dot products over dim terms have error ~ sqrt(dim) 2^-24 sum|w x| in practice,
//    bounded here by 2e-6 * sum|w x| (dim <= 4100: a few times the typical value, far from the
//    worst case dim * 2^-24 ~ 2.4e-4, which would not catch much). The gate error reaches the output
//    through act' <= 1.13 times |up|, the up error times |act(gate)|; plus the output rounding 2u|ref|.
#include "tf_test.h"
#include "transfuse.h"
#include "dtype_buffer.h"

#include <cmath>
#include <cstring>
#include <vector>


namespace {

double act_ref(int act, double x) {
  switch (act) {
    case TF_ACT_SILU: return x / (1.0 + std::exp(-x));
    case TF_ACT_GELU_TANH: return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case TF_ACT_GELU_ERF: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case TF_ACT_RELU: return x > 0 ? x : 0.0;
    default: return x;
  }
}
const char* act_name(int act) {
  return act == TF_ACT_SILU ? "silu" : act == TF_ACT_GELU_TANH ? "gelu_tanh" : act == TF_ACT_GELU_ERF ? "gelu_erf"
         : act == TF_ACT_RELU ? "relu" : "identity";
}
constexpr int kAllActs[] = {TF_ACT_SILU, TF_ACT_GELU_TANH, TF_ACT_GELU_ERF, TF_ACT_IDENTITY, TF_ACT_RELU};

// How gate and up are laid out in memory for one tf_glu call.
enum class GluLayout {
  kSeparate,   // two buffers [tokens][ffn], in_stride = ffn (vector path when ffn allows)
  kFused,      // one [tokens][2*ffn] buffer, up = gate + ffn, in_stride = 2*ffn
  kPadded,     // two buffers with rows of ffn + 1 elements: in_stride not a multiple of 16 bytes (scalar)
  kMisaligned, // separate buffers starting one element past a 16-byte boundary (scalar)
  kInPlace,    // separate buffers, out = gate
};
const char* layout_name(GluLayout l) {
  switch (l) {
    case GluLayout::kSeparate: return "separate";
    case GluLayout::kFused: return "fused";
    case GluLayout::kPadded: return "padded-stride";
    case GluLayout::kMisaligned: return "misaligned";
    default: return "in-place";
  }
}

// Runs tf_glu on random inputs in `layout` and checks every output against act(gate) * up in double.
// Tolerance (see the top of the file): |err| <= 2u |ref| + 1e-6 (+ 4e-7 relative for fp32 transcendentals).
void run_glu(int dt, int act, GluLayout layout, int tokens, int ffn, uint64_t seed) {
  const long stride = layout == GluLayout::kFused ? 2L * ffn : layout == GluLayout::kPadded ? ffn + 1L : ffn;
  const size_t lead = layout == GluLayout::kMisaligned ? 1 : 0;  // elements before the first row
  const size_t in_n = lead + size_t(tokens) * stride;
  DBuf gbuf(dt, in_n), ubuf(dt, in_n), obuf(dt, size_t(tokens) * ffn);
  fill(gbuf, seed, -6.f, 6.f);
  fill(ubuf, seed + 1, -6.f, 6.f);
  fill(obuf, seed + 2, 50.f, 60.f);  // garbage that must be overwritten
  const std::vector<float> g_before = gbuf.values(), u_before = ubuf.values();
  const size_t es = DBuf::esize(dt);
  char* g = static_cast<char*>(gbuf.data()) + lead * es;
  char* u = layout == GluLayout::kFused ? g + size_t(ffn) * es : static_cast<char*>(ubuf.data()) + lead * es;
  const DBuf& usrc = layout == GluLayout::kFused ? gbuf : ubuf;
  const size_t up_off = lead + (layout == GluLayout::kFused ? size_t(ffn) : 0);
  std::vector<double> ref(size_t(tokens) * ffn);
  for (int t = 0; t < tokens; ++t)
    for (int j = 0; j < ffn; ++j)
      ref[size_t(t) * ffn + j] = act_ref(act, gbuf.get(lead + size_t(t) * stride + j)) * usrc.get(up_off + size_t(t) * stride + j);
  void* out = layout == GluLayout::kInPlace ? static_cast<void*>(g) : obuf.data();
  char what[160];
  std::snprintf(what, sizeof what, "glu %s %s %s tokens=%d ffn=%d in_stride=%ld", dtype_name(dt), act_name(act),
                layout_name(layout), tokens, ffn, stride);
  const int err = tf_glu(out, g, u, tokens, ffn, stride, act, dt, nullptr);
  if (err) { tf_test::fail(__FILE__, __LINE__, std::string(what) + " launch error"); return; }
  const std::vector<float> got = (layout == GluLayout::kInPlace ? gbuf : obuf).values();
  const double uo = unit_roundoff(dt);
  expect_close(what, got.data(), ref.data(), ref.size(), 1e-6, 2 * uo + 4e-7);
  if (layout != GluLayout::kInPlace) {  // inputs are read only (the fused buffer's halves included)
    expect_close(std::string(what) + " gate unchanged", gbuf.values(), g_before, 0.0, 0.0);
    expect_close(std::string(what) + " up unchanged", ubuf.values(), u_before, 0.0, 0.0);
  }
}

}  // namespace

// Separate buffers and the fused layout, every dtype and activation, odd and vector-friendly widths.
TF_TEST(glu_separate_and_fused_all_acts_dtypes_shapes) {
  uint64_t seed = 21;
  for (int dt : kDtypes)
    for (int act : kAllActs)
      for (GluLayout layout : {GluLayout::kSeparate, GluLayout::kFused})
        for (int ffn : {1, 7, 8, 64, 100, 1000, 2050})
          for (int tokens : {1, 3}) run_glu(dt, act, layout, tokens, ffn, seed += 3);
}

// Layouts that must take the scalar path (row stride not a multiple of 16 bytes, pointers one element
// past a 16-byte boundary) and out == gate (in place), over widths that would otherwise vectorise.
TF_TEST(glu_padded_stride_misaligned_and_in_place) {
  uint64_t seed = 5000;
  for (int dt : kDtypes)
    for (GluLayout layout : {GluLayout::kPadded, GluLayout::kMisaligned, GluLayout::kInPlace})
      for (int ffn : {8, 33, 256})
        for (int act : {TF_ACT_SILU, TF_ACT_IDENTITY}) run_glu(dt, act, layout, 5, ffn, seed += 3);
}

TF_TEST(glu_gemv_decode_all_weight_and_x_types) {
  uint64_t seed = 300;
  for (int wdt : kDtypes)
    for (bool x_f32 : {true, false})
      for (int act : {TF_ACT_SILU, TF_ACT_GELU_TANH, TF_ACT_GELU_ERF})
        for (int dim : {8, 100, 1024, 4100})
          for (int ffn : {1, 37, 130}) {
            if (act != TF_ACT_SILU && dim == 4100) continue;  // keep the run short: shapes are act-independent
            const int xdt = x_f32 ? TF_DTYPE_F32 : wdt;
            DBuf wg(wdt, size_t(ffn) * dim), wu(wdt, size_t(ffn) * dim), x(xdt, dim), out(xdt, ffn);
            const float scale = 2.f / std::sqrt(float(dim));  // keeps the dot products O(1)
            fill(wg, seed++, -scale, scale);
            fill(wu, seed++, -scale, scale);
            fill(x, seed++, -1.f, 1.f);
            fill(out, seed++, 50.f, 60.f);
            char what[160];
            std::snprintf(what, sizeof what, "glu_gemv w=%s x=%s %s ffn=%d dim=%d", dtype_name(wdt), dtype_name(xdt),
                          act_name(act), ffn, dim);
            const int err = tf_glu_gemv(out.data(), wg.data(), wu.data(), x.data(), ffn, dim, act, wdt, xdt, nullptr);
            if (err) { tf_test::fail(__FILE__, __LINE__, std::string(what) + " launch error"); continue; }
            const double u = unit_roundoff(xdt);
            int bad = 0;
            for (int j = 0; j < ffn; ++j) {
              double g = 0, up = 0, gmag = 0, umag = 0;
              for (int i = 0; i < dim; ++i) {
                const double xi = x.get(i);
                g += wg.get(size_t(j) * dim + i) * xi;
                up += wu.get(size_t(j) * dim + i) * xi;
                gmag += std::fabs(wg.get(size_t(j) * dim + i) * xi);
                umag += std::fabs(wu.get(size_t(j) * dim + i) * xi);
              }
              const double ref = act_ref(act, g) * up;
              const double tol = 2 * u * std::fabs(ref) + 2e-6 * (1.13 * gmag * std::fabs(up) + std::fabs(act_ref(act, g)) * umag) + 1e-7;
              const double got = out.get(j);
              if (!(std::fabs(got - ref) <= tol) && bad++ == 0) {
                char buf[300];
                std::snprintf(buf, sizeof buf, "%s: row %d got %.9g want %.9g (tol %.3g)", what, j, got, ref, tol);
                tf_test::fail(__FILE__, __LINE__, buf);
              }
            }
          }
}

// More tokens than a grid's y dimension holds (65535): the kernel loops over the rest.
TF_TEST(glu_more_tokens_than_grid_y) {
  const int tokens = 70000, ffn = 3, dt = TF_DTYPE_F32;
  DBuf gu(dt, size_t(tokens) * 2 * ffn), out(dt, size_t(tokens) * ffn);
  fill(gu, 4242, -4.f, 4.f);
  CHECK_EQ(tf_glu(out.data(), gu.data(), static_cast<float*>(gu.data()) + ffn, tokens, ffn, 2L * ffn, TF_ACT_SILU, dt,
                  nullptr), 0);
  std::vector<double> ref(out.n);
  for (int t = 0; t < tokens; ++t)
    for (int j = 0; j < ffn; ++j)
      ref[size_t(t) * ffn + j] = act_ref(TF_ACT_SILU, gu.get(size_t(t) * 2 * ffn + j)) * gu.get(size_t(t) * 2 * ffn + ffn + j);
  expect_close("glu 70000 tokens", out.values().data(), ref.data(), ref.size(), 1e-6, 4e-7);
}

TF_TEST(glu_rejects_bad_arguments) {
  DBuf a(TF_DTYPE_F16, 64), b(TF_DTYPE_F16, 64);
  EXPECT(tf_glu(a.data(), b.data(), b.data(), 1, 8, 8, 5, TF_DTYPE_F16, nullptr) != 0);             // unknown activation
  EXPECT(tf_glu(a.data(), b.data(), b.data(), 2, 8, 7, TF_ACT_SILU, TF_DTYPE_F16, nullptr) != 0);    // in_stride < ffn
  EXPECT(tf_glu(a.data(), b.data(), nullptr, 2, 8, 8, TF_ACT_SILU, TF_DTYPE_F16, nullptr) != 0);     // no up
  EXPECT(tf_glu(a.data(), b.data(), b.data(), 2, 8, 8, TF_ACT_SILU, 9, nullptr) != 0);               // unknown dtype
  EXPECT(tf_glu_gemv(a.data(), b.data(), b.data(), a.data(), 4, 8, TF_ACT_IDENTITY, TF_DTYPE_F16, TF_DTYPE_F16,
                     nullptr) != 0);  // the GEMV keeps SiLU / GELU only
  EXPECT(tf_glu_gemv(a.data(), b.data(), b.data(), a.data(), 4, 8, TF_ACT_SILU, TF_DTYPE_F16, TF_DTYPE_BF16, nullptr) != 0);
}
