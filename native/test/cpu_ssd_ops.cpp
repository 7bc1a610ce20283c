// cpu_ssd_ops.cpp: the Mamba-2 ops of libtransfuse_cpu (tf_cpu_ssd_scan, tf_cpu_gated_rmsnorm; native/cpu/ssd.inc)
// against double-precision loops written here from the definitions in transfuse.h: the SSD scan as the
// plain sequential recurrence (not the chunked form the library runs for prefill), under every kernel
// configuration of cpu_configs.h (each ISA table has its own compiled copy of the loops).
//
// Tolerances (|got - ref| <= atol + rtol |ref|):
//  - ssd scan: polynomial exp and softplus (~1e-7 relative); the chunked form sums up to 64 products
//    exp(cum_i - cum_j) (C.B) dt x of size <= ~20 in fp32 and differs from the recurrence in summation
//    order: 1e-4 + 1e-4 |ref| (measured worst 1.1e-5 on values of size ~1).
//  - gated RMSNorm: fp32 sums of squares over a group: 1e-5 + 1e-5 |ref|.
// The state the scan carries out is checked too, and a second call continues from it.
#include <cmath>
#include <string>
#include <vector>

#include "cpu_configs.h"
#include "tf_test.h"
#include "transfuse.h"

namespace {

struct SsdCase {
  int tokens, heads, head_dim, groups, dstate;
  std::string name() const {
    return "ssd tokens=" + std::to_string(tokens) + " heads=" + std::to_string(heads) + " P=" + std::to_string(head_dim) +
           " groups=" + std::to_string(groups) + " N=" + std::to_string(dstate);
  }
};

// out [tokens][heads * P] then the new state [heads][P][N], in double, by the recurrence.
std::vector<double> ssd_ref(const SsdCase& c, const std::vector<float>& x, const std::vector<float>& dt,
                            const std::vector<float>& A, const std::vector<float>& B, const std::vector<float>& C,
                            const float* D, const float* bias, const std::vector<float>& state0) {
  const int H = c.heads, P = c.head_dim, N = c.dstate, G = c.groups;
  std::vector<double> h(state0.begin(), state0.end());
  std::vector<double> r(size_t(c.tokens) * H * P + h.size());
  for (int t = 0; t < c.tokens; ++t)
    for (int hd = 0; hd < H; ++hd) {
      const int g = hd / (H / G);
      const double v = double(dt[size_t(t) * H + hd]) + (bias ? bias[hd] : 0.0);
      const double d = v > 20 ? v : std::log1p(std::exp(v));
      const double a = std::exp(d * A[hd]);
      for (int p = 0; p < P; ++p) {
        const double xv = x[(size_t(t) * H + hd) * P + p];
        double y = (D ? D[hd] : 0.0) * xv;
        for (int n = 0; n < N; ++n) {
          double& s = h[(size_t(hd) * P + p) * N + n];
          s = a * s + d * xv * B[(size_t(t) * G + g) * N + n];
          y += s * C[(size_t(t) * G + g) * N + n];
        }
        r[(size_t(t) * H + hd) * P + p] = y;
      }
    }
  std::copy(h.begin(), h.end(), r.begin() + long(size_t(c.tokens) * H * P));
  return r;
}

}  // namespace

// One token (the decode recurrence), chunk-internal lengths, exactly one chunk, and several chunks with a
// ragged end; groups 1 and > 1; state sizes that are not a vector multiple; optional D and bias off.
TF_TEST(ssd_scan) {
  uint64_t seed = 3100;
  const SsdCase cases[] = {{1, 4, 8, 1, 16}, {7, 4, 8, 2, 16}, {64, 3, 5, 1, 19}, {130, 4, 16, 2, 32},
                           {1, 2, 64, 1, 128}, {150, 2, 64, 1, 128}};
  for (const SsdCase& c : cases)
    for (bool optional : {true, false}) {
      const size_t xs = size_t(c.tokens) * c.heads * c.head_dim, bc = size_t(c.tokens) * c.groups * c.dstate;
      const size_t ss = size_t(c.heads) * c.head_dim * c.dstate;
      const std::vector<float> x = random_uniform(xs, seed++, -2.f, 2.f);
      const std::vector<float> dt = random_uniform(size_t(c.tokens) * c.heads, seed++, -4.f, 1.f);
      std::vector<float> A = random_uniform(c.heads, seed++, 0.05f, 4.f);
      for (float& a : A) a = -a;  // Mamba-2's A = -exp(A_log) < 0
      const std::vector<float> B = random_uniform(bc, seed++), C = random_uniform(bc, seed++);
      const std::vector<float> D = random_uniform(c.heads, seed++), bias = random_uniform(c.heads, seed++);
      const std::vector<float> state0 = random_uniform(ss, seed++, -2.f, 2.f);
      const float* Dp = optional ? D.data() : nullptr;
      const float* bp = optional ? bias.data() : nullptr;
      const std::vector<double> ref = ssd_ref(c, x, dt, A, B, C, Dp, bp, state0);
      for (const CpuConfig& cfg : cpu_configs()) {
        CHECK(cfg.apply());
        std::vector<float> got(ref.size(), NAN), state = state0;
        tf_cpu_ssd_scan(got.data(), state.data(), x.data(), dt.data(), A.data(), B.data(), C.data(), Dp, bp, c.tokens,
                        c.heads, c.head_dim, c.groups, c.dstate);
        std::copy(state.begin(), state.end(), got.begin() + long(xs));
        const std::string what = c.name() + (optional ? " D+bias " : " ") + cfg.name();
        expect_close(what, got.data(), ref.data(), ref.size(), 1e-4, 1e-4);
        // the second call starts from the state the first left
        std::vector<float> out2(xs, NAN);
        tf_cpu_ssd_scan(out2.data(), state.data(), x.data(), dt.data(), A.data(), B.data(), C.data(), Dp, bp, c.tokens,
                        c.heads, c.head_dim, c.groups, c.dstate);
        const std::vector<float> carried(got.begin() + long(xs), got.end());
        const std::vector<double> ref2 = ssd_ref(c, x, dt, A, B, C, Dp, bp, carried);
        expect_close(what + " second call", out2.data(), ref2.data(), xs, 1e-4, 1e-4);
      }
    }
  cpu_restore_defaults();
}

// Prefill of a sequence in one call equals the same tokens one at a time (the decode path).
TF_TEST(ssd_scan_prefill_equals_steps) {
  const SsdCase c{100, 3, 16, 1, 24};
  const size_t w = size_t(c.heads) * c.head_dim, bw = size_t(c.groups) * c.dstate;
  const std::vector<float> x = random_uniform(c.tokens * w, 3301, -2.f, 2.f), dt = random_uniform(c.tokens * c.heads, 3302, -4.f, 1.f);
  const std::vector<float> A = random_uniform(c.heads, 3303, -3.f, -0.1f), B = random_uniform(c.tokens * bw, 3304),
                           C = random_uniform(c.tokens * bw, 3305), D = random_uniform(c.heads, 3306);
  for (const CpuConfig& cfg : cpu_configs()) {
    CHECK(cfg.apply());
    std::vector<float> all(c.tokens * w), steps(c.tokens * w);
    std::vector<float> s1(size_t(c.heads) * c.head_dim * c.dstate, 0.f), s2 = s1;
    tf_cpu_ssd_scan(all.data(), s1.data(), x.data(), dt.data(), A.data(), B.data(), C.data(), D.data(), nullptr, c.tokens,
                    c.heads, c.head_dim, c.groups, c.dstate);
    for (int t = 0; t < c.tokens; ++t)
      tf_cpu_ssd_scan(steps.data() + t * w, s2.data(), x.data() + t * w, dt.data() + t * c.heads, A.data(),
                      B.data() + t * bw, C.data() + t * bw, D.data(), nullptr, 1, c.heads, c.head_dim, c.groups, c.dstate);
    expect_close("ssd prefill vs steps " + cfg.name(), all, steps, 1e-4, 1e-4);
    expect_close("ssd prefill vs steps, state " + cfg.name(), s1, s2, 1e-4, 1e-4);
  }
  cpu_restore_defaults();
}

// Groups of 1, 4 and the whole row; out separate, or in place over x or z.
TF_TEST(gated_rmsnorm) {
  uint64_t seed = 3400;
  for (int dim : {8, 48, 1536})
    for (int group : {dim, dim / 4 > 0 ? dim / 4 : 1, 1})
      for (int rows : {1, 5}) {
        const size_t n = size_t(rows) * dim;
        const std::vector<float> x = random_uniform(n, seed++, -3.f, 3.f), z = random_uniform(n, seed++, -4.f, 4.f);
        const std::vector<float> w = random_uniform(dim, seed++, 0.5f, 1.5f);
        std::vector<double> ref(n);
        for (int r = 0; r < rows; ++r)
          for (int g0 = 0; g0 < dim; g0 += group) {
            double ss = 0;
            std::vector<double> v(group);
            for (int i = 0; i < group; ++i) {
              const double zz = z[size_t(r) * dim + g0 + i];
              v[i] = x[size_t(r) * dim + g0 + i] * zz / (1 + std::exp(-zz));
              ss += v[i] * v[i];
            }
            for (int i = 0; i < group; ++i) ref[size_t(r) * dim + g0 + i] = v[i] / std::sqrt(ss / group + 1e-5) * w[g0 + i];
          }
        for (const CpuConfig& cfg : cpu_configs()) {
          CHECK(cfg.apply());
          const std::string what = "gated_rmsnorm dim=" + std::to_string(dim) + " group=" + std::to_string(group) +
                                   " rows=" + std::to_string(rows) + " " + cfg.name();
          std::vector<float> out(n, NAN), xi = x, zi = z;
          tf_cpu_gated_rmsnorm(out.data(), x.data(), z.data(), w.data(), rows, dim, group, 1e-5f);
          expect_close(what, out.data(), ref.data(), n, 1e-5, 1e-5);
          tf_cpu_gated_rmsnorm(xi.data(), xi.data(), z.data(), w.data(), rows, dim, group, 1e-5f);
          expect_close(what + " in place over x", xi.data(), ref.data(), n, 1e-5, 1e-5);
          tf_cpu_gated_rmsnorm(zi.data(), x.data(), zi.data(), w.data(), rows, dim, group, 1e-5f);
          expect_close(what + " in place over z", zi.data(), ref.data(), n, 1e-5, 1e-5);
        }
      }
  cpu_restore_defaults();
}
