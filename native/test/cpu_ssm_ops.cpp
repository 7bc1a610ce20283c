// cpu_ssm_ops.cpp: the Mamba-1 ops of libtransfuse_cpu (tf_cpu_causal_conv1d, tf_cpu_selective_scan;
// native/cpu/ssm.inc) against double-precision loops written here from the recurrences in transfuse.h,
// under every kernel configuration of cpu_configs.h (each ISA table has its own compiled copy of the
// loops). The Java test CpuSsmOpsTest covers more shapes and the argument checks.
//
// Tolerances (|got - ref| <= atol + rtol |ref|):
//  - conv1d: fp32 sums of at most 5 terms of size <= 2, then SiLU through a polynomial exp (~1e-7
//    relative): 1e-5 + 1e-5 |ref|.
//  - selective scan: polynomial exp and softplus (~1e-7 relative) through a recurrence over the tokens
//    whose state stays of size ~10: 2e-5 + 2e-5 |ref|.
// The state each op carries out is checked too, and a second call continues from it.
#include <cmath>
#include <string>
#include <vector>

#include "cpu_configs.h"
#include "tf_test.h"
#include "transfuse.h"

namespace {

// out [tokens][dim] then the new state [dim][width-1], in double.
std::vector<double> conv_ref(const std::vector<float>& x, const std::vector<float>& state, const std::vector<float>& w,
                             const float* bias, int tokens, int dim, int width, bool silu) {
  const int h = width - 1;
  std::vector<double> r(size_t(tokens) * dim + size_t(dim) * h);
  auto in = [&](int j, int d) { return j >= 0 ? double(x[size_t(j) * dim + d]) : double(state[size_t(d) * h + h + j]); };
  for (int d = 0; d < dim; ++d) {
    for (int t = 0; t < tokens; ++t) {
      double acc = bias ? bias[d] : 0.0;
      for (int k = 0; k < width; ++k) acc += double(w[size_t(d) * width + k]) * in(t - h + k, d);
      r[size_t(t) * dim + d] = silu ? acc / (1 + std::exp(-acc)) : acc;
    }
    for (int k = 0; k < h; ++k) r[size_t(tokens) * dim + size_t(d) * h + k] = in(tokens - h + k, d);
  }
  return r;
}

// out [tokens][dim] then the new state [dim][dstate], in double.
std::vector<double> scan_ref(const std::vector<float>& u, const std::vector<float>& delta, const std::vector<float>& A,
                             const std::vector<float>& B, const std::vector<float>& C, const std::vector<float>& D,
                             const std::vector<float>& z, const std::vector<float>& dbias, const std::vector<float>& state0,
                             int tokens, int dim, int dstate) {
  std::vector<double> r(size_t(tokens) * dim + size_t(dim) * dstate);
  for (int d = 0; d < dim; ++d) {
    std::vector<double> h(state0.begin() + size_t(d) * dstate, state0.begin() + size_t(d + 1) * dstate);
    for (int t = 0; t < tokens; ++t) {
      const size_t i = size_t(t) * dim + d;
      double dt = double(delta[i]) + dbias[d];
      dt = dt > 20 ? dt : std::log1p(std::exp(dt));
      double y = double(D[d]) * u[i];
      for (int n = 0; n < dstate; ++n) {
        h[n] = std::exp(dt * A[size_t(d) * dstate + n]) * h[n] + dt * B[size_t(t) * dstate + n] * u[i];
        y += h[n] * C[size_t(t) * dstate + n];
      }
      r[i] = y * z[i] / (1 + std::exp(-double(z[i])));
    }
    for (int n = 0; n < dstate; ++n) r[size_t(tokens) * dim + size_t(d) * dstate + n] = h[n];
  }
  return r;
}

}  // namespace

// Widths 1..4, with and without bias and SiLU, dims that end inside a channel block; the state carried
// out equals the reference's and a second call continues from it.
TF_TEST(causal_conv1d) {
  uint64_t seed = 1100;
  for (int width : {1, 2, 4})
    for (int dim : {5, 16, 37})
      for (int tokens : {1, 9}) {
        const int h = width - 1;
        const std::vector<float> x = random_uniform(size_t(tokens) * dim, seed++, -2.f, 2.f);
        const std::vector<float> w = random_uniform(size_t(dim) * width, seed++, -1.f, 1.f);
        const std::vector<float> bias = random_uniform(dim, seed++), state0 = random_uniform(size_t(dim) * h, seed++);
        for (bool silu : {false, true})
          for (bool with_bias : {false, true}) {
            const float* b = with_bias ? bias.data() : nullptr;
            const std::vector<double> ref = conv_ref(x, state0, w, b, tokens, dim, width, silu);
            for (const CpuConfig& cfg : cpu_configs()) {
              CHECK(cfg.apply());
              std::vector<float> got(ref.size(), NAN), state = state0;
              tf_cpu_causal_conv1d(got.data(), state.data(), x.data(), w.data(), b, tokens, dim, width, silu);
              std::copy(state.begin(), state.end(), got.begin() + size_t(tokens) * dim);
              const std::string what = "conv1d width=" + std::to_string(width) + " dim=" + std::to_string(dim) +
                                       " tokens=" + std::to_string(tokens) + (silu ? " silu" : "") + (b ? " bias " : " ") +
                                       cfg.name();
              expect_close(what, got.data(), ref.data(), ref.size(), 1e-5, 1e-5);
              // the second call starts from the state the first left
              std::vector<float> out2(size_t(tokens) * dim, NAN);
              tf_cpu_causal_conv1d(out2.data(), state.data(), x.data(), w.data(), b, tokens, dim, width, silu);
              const std::vector<float> carried(got.begin() + size_t(tokens) * dim, got.end());
              const std::vector<double> ref2 = conv_ref(x, carried, w, b, tokens, dim, width, silu);
              expect_close(what + " second call", out2.data(), ref2.data(), out2.size(), 1e-5, 1e-5);
            }
          }
      }
  cpu_restore_defaults();
}

// The scan with all its optional inputs, dims that end inside a channel block, several state sizes.
TF_TEST(selective_scan) {
  uint64_t seed = 1200;
  for (int dstate : {1, 16, 19})
    for (int dim : {7, 32, 35})
      for (int tokens : {1, 12}) {
        const size_t act = size_t(tokens) * dim;
        const std::vector<float> u = random_uniform(act, seed++, -1.f, 1.f), delta = random_uniform(act, seed++, -3.f, 1.f);
        const std::vector<float> z = random_uniform(act, seed++, -3.f, 3.f);
        std::vector<float> A = random_uniform(size_t(dim) * dstate, seed++, 0.1f, 2.f);
        for (float& a : A) a = -a;  // Mamba's A = -exp(A_log) < 0: a decaying state
        const std::vector<float> B = random_uniform(size_t(tokens) * dstate, seed++), C = random_uniform(size_t(tokens) * dstate, seed++);
        const std::vector<float> D = random_uniform(dim, seed++), dbias = random_uniform(dim, seed++, -1.f, 1.f);
        const std::vector<float> state0 = random_uniform(size_t(dim) * dstate, seed++, -2.f, 2.f);
        const std::vector<double> ref = scan_ref(u, delta, A, B, C, D, z, dbias, state0, tokens, dim, dstate);
        for (const CpuConfig& cfg : cpu_configs()) {
          CHECK(cfg.apply());
          std::vector<float> got(ref.size(), NAN), state = state0;
          tf_cpu_selective_scan(got.data(), state.data(), u.data(), delta.data(), A.data(), B.data(), C.data(), D.data(),
                                z.data(), dbias.data(), tokens, dim, dstate, 1);
          std::copy(state.begin(), state.end(), got.begin() + long(act));
          expect_close("selective_scan dstate=" + std::to_string(dstate) + " dim=" + std::to_string(dim) + " tokens=" +
                           std::to_string(tokens) + " " + cfg.name(),
                       got.data(), ref.data(), ref.size(), 2e-5, 2e-5);
        }
      }
  cpu_restore_defaults();
}
