// cpu_rwkv_chunked.cpp: the prefill forms of libtransfuse_cpu's WKV ops (16 tokens or more, rwkv.inc: RWKV-6 chunked,
// RWKV-7 the recurrence on a transposed state) against the one-step path of the same library (the same call one token at a time, which runs the recurrence) and
// against the double-precision recurrence of rwkv_ref.h, on every instruction set this CPU has.
//
// Cases: decays from ~0 to ~1 (w in [2, 6]: d = exp(-exp(w)) <= 6e-4, down to 1e-38 where exp(-exp(w)) saturates;
// w in [-14, -8]: d >= 0.9997; w in [-9, 5] mixed per channel and token), token counts that are and are not
// multiples of the chunk (16, 17, 31, 33, 100, 130), head sizes 32, 64, 96 and 128, a carried state in and out, and
// one call split in two at a token that is not a chunk boundary. Tolerance: fp32 sums of S + chunk products per
// output; the state grows to O(tokens) when decays are ~1 and the group norm divides by the head's spread (O(1)):
// 2e-4 absolute + relative on outputs and state; a wrong decay product, mask or bonus moves outputs by O(0.1-1)
// (checked by breaking each while writing this test).
#include "tf_test.h"
#include "transfuse.h"
#include "rwkv_ref.h"

#include <string>
#include <vector>

namespace {

struct Inputs {
  std::vector<float> r, k, v, w, u, lw, lb, state;
};

Inputs make(int S, int heads, int tokens, float wlo, float whi, uint64_t seed) {
  const size_t C = size_t(heads) * S, n = size_t(tokens) * C;
  auto rnd = [&](size_t count, float lo, float hi) { return tf_test::random_uniform(count, seed++, lo, hi); };
  return Inputs{rnd(n, -1, 1), rnd(n, -1, 1), rnd(n, -1, 1), rnd(n, wlo, whi), rnd(C, -0.5f, 1), rnd(C, 0.5f, 1.5f),
                rnd(C, -0.5f, 0.5f), rnd(C * S, -0.5f, 0.5f)};
}

void wkv6_case(int S, int heads, int tokens, float wlo, float whi, uint64_t seed, const std::string& isa) {
  const size_t C = size_t(heads) * S, n = size_t(tokens) * C;
  const float eps = 64e-5f;
  Inputs in = make(S, heads, tokens, wlo, whi, seed);
  const std::string what = "wkv6 " + isa + " S=" + std::to_string(S) + " tokens=" + std::to_string(tokens) + " w in [" +
                           std::to_string(wlo) + ", " + std::to_string(whi) + "]";
  // the chunked call
  std::vector<float> st = in.state, out(n);
  tf_cpu_rwkv_wkv6(out.data(), st.data(), in.r.data(), in.k.data(), in.v.data(), in.w.data(), in.u.data(), in.lw.data(),
                   in.lb.data(), tokens, heads, S, eps);
  // the one-step path, token by token
  std::vector<float> st1 = in.state, out1(n);
  for (int t = 0; t < tokens; t++) {
    const size_t o = size_t(t) * C;
    tf_cpu_rwkv_wkv6(out1.data() + o, st1.data(), in.r.data() + o, in.k.data() + o, in.v.data() + o, in.w.data() + o,
                     in.u.data(), in.lw.data(), in.lb.data(), 1, heads, S, eps);
  }
  // double-precision recurrence
  std::vector<double> ref_state(in.state.begin(), in.state.end());
  const std::vector<double> ref = rwkv_ref::wkv6(ref_state, in.r, in.k, in.v, in.w, in.u, in.lw, in.lb, tokens, heads, S, eps);
  const double tol = 2e-4;
  expect_close(what + " out vs one-step", out.data(), out1.data(), n, tol, tol);
  expect_close(what + " state vs one-step", st.data(), st1.data(), C * S, tol, tol);
  expect_close(what + " out vs double reference", out.data(), ref.data(), n, tol, tol);
  expect_close(what + " state vs double reference", st.data(), ref_state.data(), C * S, tol, tol);
  // two calls (split inside a chunk, the state handed on) equal one
  const int first = tokens / 2 + 3;
  if (first < tokens) {
    std::vector<float> st2 = in.state, out2(n);
    tf_cpu_rwkv_wkv6(out2.data(), st2.data(), in.r.data(), in.k.data(), in.v.data(), in.w.data(), in.u.data(), in.lw.data(),
                     in.lb.data(), first, heads, S, eps);
    const size_t o = size_t(first) * C;
    tf_cpu_rwkv_wkv6(out2.data() + o, st2.data(), in.r.data() + o, in.k.data() + o, in.v.data() + o, in.w.data() + o,
                     in.u.data(), in.lw.data(), in.lb.data(), tokens - first, heads, S, eps);
    expect_close(what + " split at " + std::to_string(first) + " out", out2.data(), ref.data(), n, tol, tol);
    expect_close(what + " split state", st2.data(), ref_state.data(), C * S, tol, tol);
  }
}

// RWKV-7 prefill (16 tokens or more: the recurrence on the transposed state) against the one-step path and the
// double reference, with and without the value residual.
void wkv7_case(int S, int heads, int tokens, bool residual, float wlo, float whi, uint64_t seed, const std::string& isa) {
  const size_t C = size_t(heads) * S, n = size_t(tokens) * C;
  const float eps = 64e-5f;
  auto rnd = [&](size_t count, float lo, float hi) { return tf_test::random_uniform(count, seed++, lo, hi); };
  const std::vector<float> r = rnd(n, -1, 1), w = rnd(n, wlo, whi), k = rnd(n, -1, 1), v = rnd(n, -1, 1), a = rnd(n, -2, 2);
  const std::vector<float> vf = residual ? rnd(n, -1, 1) : std::vector<float>(), vm = residual ? rnd(n, -2, 2) : std::vector<float>();
  const std::vector<float> kK = rnd(C, 0.5f, 1), kA = rnd(C, 0.5f, 1.5f), rK = rnd(C, -0.5f, 0.5f), lw = rnd(C, 0.5f, 1.5f),
                           lb = rnd(C, -0.5f, 0.5f), st0 = rnd(C * S, -0.5f, 0.5f);
  const std::string what = "wkv7 " + isa + " S=" + std::to_string(S) + " tokens=" + std::to_string(tokens) +
                           (residual ? " v-residual" : "") + " w in [" + std::to_string(wlo) + ", " + std::to_string(whi) + "]";
  auto call = [&](float* out, float* st, size_t t, int count) {
    const size_t o = t * C;
    tf_cpu_rwkv_wkv7(out + o, st, r.data() + o, w.data() + o, k.data() + o, v.data() + o, a.data() + o,
                     residual ? vf.data() + o : nullptr, residual ? vm.data() + o : nullptr, kK.data(), kA.data(), rK.data(),
                     lw.data(), lb.data(), count, heads, S, eps);
  };
  std::vector<float> st = st0, out(n), st1 = st0, out1(n);
  call(out.data(), st.data(), 0, tokens);
  for (int t = 0; t < tokens; t++) call(out1.data(), st1.data(), size_t(t), 1);
  std::vector<double> ref_state(st0.begin(), st0.end());
  const std::vector<double> ref = rwkv_ref::wkv7(ref_state, r, w, k, v, a, vf, vm, kK, kA, rK, lw, lb, tokens, heads, S, eps);
  const double tol = 2e-4;
  expect_close(what + " out vs one-step", out.data(), out1.data(), n, tol, tol);
  expect_close(what + " state vs one-step", st.data(), st1.data(), C * S, tol, tol);
  expect_close(what + " out vs double reference", out.data(), ref.data(), n, tol, tol);
  expect_close(what + " state vs double reference", st.data(), ref_state.data(), C * S, tol, tol);
}

}  // namespace

TF_TEST(cpu_rwkv_wkv7_prefill_equals_recurrence) {
  const int best = tf_cpu_best_isa();
  uint64_t seed = 70000;
  for (int isa : {TF_CPU_ISA_GENERIC, TF_CPU_ISA_AVX2, TF_CPU_ISA_AVX512}) {
    if (isa > best) continue;
    CHECK(tf_cpu_set_isa(isa) == isa);
    const std::string name = isa == TF_CPU_ISA_GENERIC ? "generic" : isa == TF_CPU_ISA_AVX2 ? "avx2" : "avx512";
    for (int S : {32, 64, 96})
      for (int tokens : {16, 33}) wkv7_case(S, 2, tokens, tokens == 33, -3, 2, seed += 100, name);
    wkv7_case(64, 2, 100, true, 4, 9, seed += 100, name);     // the strongest RWKV-7 decay, d -> exp(-0.61)
    wkv7_case(64, 2, 100, false, -14, -8, seed += 100, name); // d -> 1
  }
  CHECK(tf_cpu_set_isa(best) == best);
}

TF_TEST(cpu_rwkv_wkv6_chunked_equals_recurrence) {
  const int best = tf_cpu_best_isa();
  uint64_t seed = 7;
  for (int isa : {TF_CPU_ISA_GENERIC, TF_CPU_ISA_AVX2, TF_CPU_ISA_AVX512}) {
    if (isa > best) continue;
    CHECK(tf_cpu_set_isa(isa) == isa);
    const std::string name = isa == TF_CPU_ISA_GENERIC ? "generic" : isa == TF_CPU_ISA_AVX2 ? "avx2" : "avx512";
    for (int S : {32, 64, 96, 128})
      for (int tokens : {16, 17, 33, 100}) wkv6_case(S, 2, tokens, -9, 5, seed += 100, name);
    for (int tokens : {31, 130}) {
      wkv6_case(64, 3, tokens, 2, 6, seed += 100, name);      // decays ~0 (exp(-exp(w)) underflows within a token)
      wkv6_case(64, 3, tokens, -14, -8, seed += 100, name);   // decays ~1 (the state accumulates every token)
    }
  }
  CHECK(tf_cpu_set_isa(best) == best);
}
