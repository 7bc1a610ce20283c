// cpu_rwkv_ops.cpp: the RWKV ops of libtransfuse_cpu (tf_cpu_rwkv_*) against the double-precision references of
// rwkv_ref.h: WKV-6 and WKV-7 (head sizes 32, 64, 96; 1, 5 and 37 tokens; fresh or carried state; RWKV-7 with and
// without the value residual). fp32 sums over S products per output: 1e-4 absolute + relative (outputs O(1) after
// the group norm); a wrong index, decay or norm moves them by O(1).
#include "tf_test.h"
#include "transfuse.h"
#include "rwkv_ref.h"

#include <string>
#include <vector>

namespace {

void wkv_case(int version, int S, int heads, int tokens, bool fresh, bool residual, uint64_t seed) {
  const size_t C = size_t(heads) * S, n = size_t(tokens) * C;
  auto rnd = [&](size_t count, float lo, float hi) { return tf_test::random_uniform(count, seed++, lo, hi); };
  std::vector<float> r = rnd(n, -1, 1), k = rnd(n, -1, 1), v = rnd(n, -1, 1), w = version == 6 ? rnd(n, -4, 0) : rnd(n, -3, 2);
  std::vector<float> a = rnd(n, -2, 2), vf = rnd(n, -1, 1), vm = rnd(n, -2, 2), lw = rnd(C, 0.5f, 1.5f), lb = rnd(C, -0.5f, 0.5f);
  std::vector<float> kK = rnd(C, 0.5f, 1), kA = rnd(C, 0.5f, 1.5f), rK = rnd(C, -0.5f, 0.5f), u = rnd(C, -0.5f, 1);
  std::vector<float> st = fresh ? std::vector<float>(C * S, 0.f) : rnd(C * S, -0.5f, 0.5f), out(n);
  std::vector<double> ref_state(st.begin(), st.end());
  std::vector<double> ref;
  if (version == 6) {
    ref = rwkv_ref::wkv6(ref_state, r, k, v, w, u, lw, lb, tokens, heads, S, 64e-5);
    tf_cpu_rwkv_wkv6(out.data(), st.data(), r.data(), k.data(), v.data(), w.data(), u.data(), lw.data(), lb.data(), tokens, heads, S, 64e-5f);
  } else {
    ref = rwkv_ref::wkv7(ref_state, r, w, k, v, a, residual ? vf : std::vector<float>(), residual ? vm : std::vector<float>(), kK, kA, rK,
                         lw, lb, tokens, heads, S, 64e-5);
    tf_cpu_rwkv_wkv7(out.data(), st.data(), r.data(), w.data(), k.data(), v.data(), a.data(), residual ? vf.data() : nullptr,
                     residual ? vm.data() : nullptr, kK.data(), kA.data(), rK.data(), lw.data(), lb.data(), tokens, heads, S, 64e-5f);
  }
  const std::string what = "cpu wkv" + std::to_string(version) + " S=" + std::to_string(S) + " tokens=" + std::to_string(tokens) +
                           (fresh ? " fresh" : " carried") + (residual ? " v-residual" : "");
  tf_test::expect_close(what + " out", out.data(), ref.data(), n, 1e-4, 1e-4);
  tf_test::expect_close(what + " state", st.data(), ref_state.data(), C * S, 1e-4, 1e-4);
}

}  // namespace

TF_TEST(cpu_rwkv_wkv6_wkv7) {
  uint64_t seed = 1;
  for (int S : {32, 64, 96})
    for (int tokens : {1, 5, 37}) {
      wkv_case(6, S, 3, tokens, tokens == 1, false, seed += 100);
      wkv_case(7, S, 3, tokens, tokens != 1, false, seed += 100);
      wkv_case(7, S, 2, tokens, tokens == 5, true, seed += 100);
    }
}
