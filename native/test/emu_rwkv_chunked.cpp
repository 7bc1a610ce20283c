// emu_rwkv_chunked.cpp: the chunked RWKV-6 WKV kernel (rwkv_chunked.cuh: tf_rwkv_wkv6 with 16 tokens or more) on the
// emulator, against the recurrent kernel of the same launcher (the call one token at a time) and the double-precision
// recurrence of rwkv_ref.h.
//
// Cases: head sizes 32 (chunks of 16) and 64 (chunks of 8), token counts on and off chunk boundaries (16, 23, 40, 67),
// decays from ~0 (w in [2, 6]) to ~1 (w in [-14, -8]) and mixed (w in [-9, 5]), a carried state, every dtype, and one
// call split in two inside a chunk. Tolerance as in emu_rwkv.cpp: 2e-4 absolute + relative in f32 plus 4 unit
// roundoffs of the output type; the state 2e-4 (it is fp32 throughout). A missing barrier (random fiber order), a
// wrong decay product or mask moves outputs by O(0.1-1).
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

void chunked_case(int dt, int S, int heads, int tokens, float wlo, float whi, uint64_t seed) {
  const size_t C = size_t(heads) * S, n = size_t(tokens) * C;
  const float eps = 64e-5f;
  auto rnd = [&](size_t count, float lo, float hi) { return tf_test::random_uniform(count, seed++, lo, hi); };
  DBuf r(dt, n), k(dt, n), v(dt, n), w(dt, n), out(dt, n), out1(dt, n), out2(dt, n), lw(dt, C), lb(dt, C);
  const std::vector<float> rv = upload(r, rnd(n, -1, 1)), kv = upload(k, rnd(n, -1, 1)), vv = upload(v, rnd(n, -1, 1));
  const std::vector<float> wv = upload(w, rnd(n, wlo, whi)), lwv = upload(lw, rnd(C, 0.5f, 1.5f)), lbv = upload(lb, rnd(C, -0.5f, 0.5f));
  const std::vector<float> u = rnd(C, -0.5f, 1), st0 = rnd(C * S, -0.5f, 0.5f);
  const std::string what = std::string("wkv6 chunked ") + dtype_name(dt) + " S=" + std::to_string(S) + " tokens=" +
                           std::to_string(tokens) + " w in [" + std::to_string(wlo) + ", " + std::to_string(whi) + "]";
  std::vector<double> ref_state(st0.begin(), st0.end());
  const std::vector<double> ref = rwkv_ref::wkv6(ref_state, rv, kv, vv, wv, u, lwv, lbv, tokens, heads, S, eps);
  const size_t es = DBuf::esize(dt);
  auto at = [&](DBuf& b, size_t t) { return static_cast<char*>(b.data()) + t * C * es; };
  // one call (chunked)
  std::vector<float> st = st0;
  CHECK(tf_rwkv_wkv6(out.data(), st.data(), r.data(), k.data(), v.data(), w.data(), u.data(), lw.data(), lb.data(), tokens, heads, S,
                     eps, dt, nullptr) == 0);
  // token by token (the recurrent kernel)
  std::vector<float> st1 = st0;
  for (int t = 0; t < tokens; t++)
    CHECK(tf_rwkv_wkv6(at(out1, t), st1.data(), at(r, t), at(k, t), at(v, t), at(w, t), u.data(), lw.data(), lb.data(), 1, heads, S, eps,
                       dt, nullptr) == 0);
  // two chunked calls split inside a chunk (the first at least one chunk long)
  const int first = 16 + 3 < tokens ? 16 + 3 : 16;
  std::vector<float> st2 = st0;
  CHECK(tf_rwkv_wkv6(out2.data(), st2.data(), r.data(), k.data(), v.data(), w.data(), u.data(), lw.data(), lb.data(), first, heads, S,
                     eps, dt, nullptr) == 0);
  if (tokens > first)
    CHECK(tf_rwkv_wkv6(at(out2, first), st2.data(), at(r, first), at(k, first), at(v, first), at(w, first), u.data(), lw.data(),
                       lb.data(), tokens - first, heads, S, eps, dt, nullptr) == 0);
  const double tol = 2e-4 + 4 * unit_roundoff(dt);
  const std::vector<float> got = out.values(), got1 = out1.values(), got2 = out2.values();
  expect_close(what + " out vs reference", got.data(), ref.data(), n, tol, tol);
  expect_close(what + " state vs reference", st.data(), ref_state.data(), C * S, 2e-4, 2e-4);
  expect_close(what + " out vs token by token", got.data(), got1.data(), n, tol, tol);
  expect_close(what + " state vs token by token", st.data(), st1.data(), C * S, 2e-4, 2e-4);
  expect_close(what + " split out", got2.data(), ref.data(), n, tol, tol);
  expect_close(what + " split state", st2.data(), ref_state.data(), C * S, 2e-4, 2e-4);
}

}  // namespace

TF_TEST(rwkv_wkv6_chunked_equals_recurrence) {
  uint64_t seed = 9000;
  for (int dt : kDtypes)
    for (int S : {32, 64})
      for (int tokens : {16, 23, 40, 67}) chunked_case(dt, S, 2, tokens, -9, 5, seed += 100);
  for (int S : {32, 64}) {
    chunked_case(TF_DTYPE_F32, S, 2, 40, 2, 6, seed += 100);     // decays ~0
    chunked_case(TF_DTYPE_F32, S, 2, 40, -14, -8, seed += 100);  // decays ~1
  }
}
