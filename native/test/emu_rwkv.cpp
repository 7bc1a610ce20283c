// emu_rwkv.cpp: the RWKV kernels (tf_rwkv_*: token shift, token mix, pointwise, WKV-6 and WKV-7 with the head
// group norm) on the emulator, against the double-precision references of rwkv_ref.h.
//
// Shapes: head sizes 32 and 64 (the launchers' limit), 1 to 3 heads, 1 (decode), 5 and 37 tokens, every dtype, from a zero or a given
// state, RWKV-7 with and without the value residual; two calls in a row (the state handed on) must equal one.
// Tolerances: inputs are rounded to the dtype first and the reference runs in double from those values; the
// kernel's fp32 sums over S products per output (state values O(tokens)), then the group norm divides by the head's
// standard deviation (O(1) here): 2e-4 absolute + relative in f32, plus 4 unit roundoffs of the output type in
// f16/bf16. A wrong index, decay, missing barrier (the random fiber order of the emulator) or norm moves outputs by O(1).
#include "tf_test.h"
#include "transfuse.h"
#include "dtype_buffer.h"
#include "rwkv_ref.h"

#include <string>
#include <vector>

namespace {

std::vector<float> upload(DBuf& b, const std::vector<float>& v) {
  for (size_t i = 0; i < v.size(); i++) b.set(i, v[i]);
  return b.values();  // the values as the dtype holds them
}

void wkv_case(int version, int dt, int S, int heads, int tokens, bool fresh, bool residual, uint64_t seed) {
  const size_t C = size_t(heads) * S, n = size_t(tokens) * C;
  auto rnd = [&](size_t count, float lo, float hi) { return tf_test::random_uniform(count, seed++, lo, hi); };
  DBuf r(dt, n), k(dt, n), v(dt, n), w(dt, n), a(dt, n), vf(dt, n), vm(dt, n), out(dt, n);
  DBuf lw(dt, C), lb(dt, C), kK(dt, C), kA(dt, C), rK(dt, C);
  std::vector<float> rv = upload(r, rnd(n, -1, 1)), kv = upload(k, rnd(n, -1, 1)), vv = upload(v, rnd(n, -1, 1));
  std::vector<float> wv = upload(w, version == 6 ? rnd(n, -4, 0) : rnd(n, -3, 2)), av = upload(a, rnd(n, -2, 2));
  std::vector<float> vfv = upload(vf, rnd(n, -1, 1)), vmv = upload(vm, rnd(n, -2, 2));
  std::vector<float> lwv = upload(lw, rnd(C, 0.5f, 1.5f)), lbv = upload(lb, rnd(C, -0.5f, 0.5f));
  std::vector<float> kKv = upload(kK, rnd(C, 0.5f, 1)), kAv = upload(kA, rnd(C, 0.5f, 1.5f)), rKv = upload(rK, rnd(C, -0.5f, 0.5f));
  std::vector<float> u = rnd(C, -0.5f, 1);
  std::vector<float> st = fresh ? std::vector<float>(C * S, 0.f) : rnd(C * S, -0.5f, 0.5f);
  std::vector<double> ref_state(st.begin(), st.end());
  const double eps = 64e-5;
  std::vector<double> ref = version == 6
      ? rwkv_ref::wkv6(ref_state, rv, kv, vv, wv, u, lwv, lbv, tokens, heads, S, eps)
      : rwkv_ref::wkv7(ref_state, rv, wv, kv, vv, av, residual ? vfv : std::vector<float>(), residual ? vmv : std::vector<float>(),
                       kKv, kAv, rKv, lwv, lbv, tokens, heads, S, eps);
  std::vector<float> state = st;
  const int err = version == 6
      ? tf_rwkv_wkv6(out.data(), state.data(), r.data(), k.data(), v.data(), w.data(), u.data(), lw.data(), lb.data(), tokens, heads, S,
                     float(eps), dt, nullptr)
      : tf_rwkv_wkv7(out.data(), state.data(), r.data(), w.data(), k.data(), v.data(), a.data(), residual ? vf.data() : nullptr,
                     residual ? vm.data() : nullptr, kK.data(), kA.data(), rK.data(), lw.data(), lb.data(), tokens, heads, S,
                     float(eps), dt, nullptr);
  const std::string what = "wkv" + std::to_string(version) + " " + dtype_name(dt) + " S=" + std::to_string(S) + " heads=" +
                           std::to_string(heads) + " tokens=" + std::to_string(tokens) + (fresh ? " fresh" : " carried") +
                           (residual ? " v-residual" : "");
  if (err != 0) { tf_test::fail(__FILE__, __LINE__, what + ": launch error " + std::to_string(err)); return; }
  const double tol = 2e-4 + 4 * unit_roundoff(dt);
  const std::vector<float> got = out.values();
  expect_close(what + " out", got.data(), ref.data(), n, tol, tol);
  expect_close(what + " state", state.data(), ref_state.data(), C * S, 2e-4, 2e-4);
}

}  // namespace

TF_TEST(rwkv_wkv6_shapes) {
  uint64_t seed = 1;
  for (int dt : kDtypes)
    for (int S : {32, 64})
      for (int tokens : {1, 5, 37}) wkv_case(6, dt, S, 3, tokens, tokens != 5, false, seed += 100);
}

TF_TEST(rwkv_wkv7_shapes) {
  uint64_t seed = 5000;
  for (int dt : kDtypes)
    for (int S : {32, 64})
      for (int tokens : {1, 5, 37})
        for (bool residual : {false, true}) wkv_case(7, dt, S, 2, tokens, tokens == 1, residual, seed += 100);
}

TF_TEST(rwkv_token_shift_mix_pointwise) {
  for (int dt : kDtypes) {
    const int tokens = 7, dim = 300;
    const size_t n = size_t(tokens) * dim;
    DBuf x(dt, n), st(dt, dim), out(dt, n), mix(dt, n), bias(dt, dim), mixed(dt, n);
    fill(x, 11, -2, 2);
    fill(st, 12, -1, 1);
    fill(mix, 13, 0, 1);
    fill(bias, 14, -0.5f, 0.5f);
    const std::vector<float> xv = x.values(), sv = st.values(), mv = mix.values(), bv = bias.values();
    CHECK(tf_rwkv_token_shift(out.data(), st.data(), x.data(), tokens, dim, 0, dt, nullptr) == 0);
    std::vector<double> ref(n);
    for (int t = 0; t < tokens; t++)
      for (int c = 0; c < dim; c++) ref[size_t(t) * dim + c] = (t == 0 ? sv[c] : xv[size_t(t - 1) * dim + c]) - xv[size_t(t) * dim + c];
    const double u = unit_roundoff(dt);
    expect_close(std::string("token shift ") + dtype_name(dt), out.values().data(), ref.data(), n, 2 * u, 2 * u);
    for (int c = 0; c < dim; c++) EXPECT(st.get(c) == xv[size_t(tokens - 1) * dim + c]);
    const std::vector<float> sx = out.values();
    // per-token mix with a bias, then a one-row mix without
    CHECK(tf_rwkv_token_mix(mixed.data(), x.data(), out.data(), mix.data(), tokens, bias.data(), tokens, dim, dt, nullptr) == 0);
    for (size_t i = 0; i < n; i++) ref[i] = xv[i] + double(sx[i]) * (double(mv[i]) + bv[i % dim]);
    expect_close(std::string("token mix ") + dtype_name(dt), mixed.values().data(), ref.data(), n, 4 * u + 1e-6, 4 * u + 1e-6);
    CHECK(tf_rwkv_token_mix(mixed.data(), x.data(), out.data(), mix.data(), 1, nullptr, tokens, dim, dt, nullptr) == 0);
    for (size_t i = 0; i < n; i++) ref[i] = xv[i] + double(sx[i]) * mv[i % dim];
    expect_close(std::string("token mix one row ") + dtype_name(dt), mixed.values().data(), ref.data(), n, 4 * u + 1e-6, 4 * u + 1e-6);
    for (int fn = 0; fn < 4; fn++) {
      DBuf y(dt, n);
      for (size_t i = 0; i < n; i++) y.set(i, xv[i]);
      CHECK(tf_rwkv_pointwise(y.data(), long(n), fn, dt, nullptr) == 0);
      for (size_t i = 0; i < n; i++) {
        const double v = xv[i];
        ref[i] = fn == 0 ? std::tanh(v) : fn == 1 ? rwkv_ref::sigmoid(v) : fn == 2 ? (v > 0 ? v * v : 0) : v / 2;
      }
      expect_close(std::string("pointwise ") + std::to_string(fn) + " " + dtype_name(dt), y.values().data(), ref.data(), n, 2 * u + 1e-6,
                   2 * u + 1e-6);
    }
  }
}

TF_TEST(rwkv_two_calls_equal_one_and_invalid_arguments) {
  // prefill of 9 then 1 decode token equals 10 at once (state handed on through the fp32 state)
  const int S = 64, heads = 2, C = S * heads;
  std::vector<float> r = tf_test::random_uniform(10 * C, 1, -1, 1), k = tf_test::random_uniform(10 * C, 2, -1, 1),
                     v = tf_test::random_uniform(10 * C, 3, -1, 1), w = tf_test::random_uniform(10 * C, 4, -4, 0),
                     u = tf_test::random_uniform(C, 5, -0.5f, 1), lw(C, 1.f), lb(C, 0.f);
  std::vector<float> s1(C * S, 0.f), s2(C * S, 0.f), o1(10 * C), o2(10 * C);
  CHECK(tf_rwkv_wkv6(o1.data(), s1.data(), r.data(), k.data(), v.data(), w.data(), u.data(), lw.data(), lb.data(), 10, heads, S, 64e-5f,
                     TF_DTYPE_F32, nullptr) == 0);
  CHECK(tf_rwkv_wkv6(o2.data(), s2.data(), r.data(), k.data(), v.data(), w.data(), u.data(), lw.data(), lb.data(), 9, heads, S, 64e-5f,
                     TF_DTYPE_F32, nullptr) == 0);
  const size_t o = size_t(9) * C;
  CHECK(tf_rwkv_wkv6(o2.data() + o, s2.data(), r.data() + o, k.data() + o, v.data() + o, w.data() + o, u.data(), lw.data(), lb.data(), 1,
                     heads, S, 64e-5f, TF_DTYPE_F32, nullptr) == 0);
  for (size_t i = 0; i < o1.size(); i++) EXPECT(o1[i] == o2[i]);
  float* p = s1.data();
  EXPECT(tf_rwkv_wkv6(p, p, p, p, p, p, p, p, p, 1, 1, 48, 64e-5f, TF_DTYPE_F32, nullptr) != 0);   // head size
  EXPECT(tf_rwkv_wkv6(p, p, p, p, p, p, p, p, p, 1, 1, 128, 64e-5f, TF_DTYPE_F32, nullptr) != 0);
  EXPECT(tf_rwkv_wkv7(p, p, p, p, p, p, p, p, nullptr, p, p, p, p, p, 1, 1, 64, 64e-5f, TF_DTYPE_F32, nullptr) != 0);  // v_mix
  EXPECT(tf_rwkv_token_mix(p, p, p, p, 3, nullptr, 5, 8, TF_DTYPE_F32, nullptr) != 0);  // mix rows
  EXPECT(tf_rwkv_pointwise(p, 4, 9, TF_DTYPE_F32, nullptr) != 0);  // fn
}
