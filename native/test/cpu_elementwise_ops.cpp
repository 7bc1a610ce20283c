// cpu_elementwise_ops.cpp: the norms and activations of libtransfuse_cpu (tf_cpu_rmsnorm, tf_cpu_layernorm,
// tf_cpu_bias_act, tf_cpu_glu; native/cpu/elementwise.inc) against plain double-precision references
// written here, under every kernel configuration of cpu_configs.h. Shapes include odd sizes, so every
// vector tail is crossed.
//
// Tolerances (|got - ref| <= bound):
//  - rmsnorm: the sum of squares in double, the scale rounded to float, two float products:
//    1e-6 + 1e-5 |ref|.
//  - layernorm: float sums over <= 4099 values of size <= ~10 (mean, then the centred squares): the
//    normalised value is off by ~dim 2^-24 of its size, times |w| <= 1.5, plus a float bias:
//    1e-5 + 1e-5 |ref| at dim <= 800, 2e-5 + 2e-5 |ref| above.
//  - the residual written back: exactly float(residual + x) (one rounding).
//  - SILU x / (1 + exp(-x)): a vector exp within 2 ulp, an add and a divide: 1e-6 |ref|; where exp(-x)
//    saturates (x < -88) the result is x / 2e38 instead of ~0: + 5e-39 |x|.
//  - GELU_TANH, evaluated as x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3): the rounding of 2u
//    (a few ulp of it) turns into that much relative error through exp: (4 |u| + 8) 2^-24 |ref|
//    (transfuse.h states it); + 5e-39 |x| where exp saturates; + 2^-52 |x| for the reference itself,
//    whose 1 + tanh(u) cancels in double for u < -18.
//  - GELU_ERF: erf by Abramowitz & Stegun 7.1.26 (absolute error 1.5e-7): 3e-7 |x| + 1e-7 |ref|.
//  - IDENTITY with a bias: exactly float(x + bias).
//  - glu: the activation's bound times |up|, plus one float product: + 1e-7 |ref|.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "cpu_configs.h"
#include "tf_test.h"
#include "transfuse.h"

namespace {

double erf_series(double x) {  // A&S 7.1.6: all terms share the sign of x, no cancellation
  if (std::fabs(x) > 6) return x > 0 ? 1 : -1;
  double term = x, sum = x;
  for (int n = 1; n < 400 && std::fabs(term) >= 1e-18 * std::fabs(sum); n++) {
    term *= 2 * x * x / (2 * n + 1);
    sum += term;
  }
  return 2 / std::sqrt(M_PI) * std::exp(-x * x) * sum;
}

const double kSqrt2OverPi = 0.79788456080286535588;

// The activation of x in double, written from its definition (transfuse.h, section 0).
double act_ref(int act, double x) {
  switch (act) {
    case TF_ACT_SILU: return x / (1 + std::exp(-x));
    case TF_ACT_GELU_TANH: return 0.5 * x * (1 + std::tanh(kSqrt2OverPi * (x + 0.044715 * x * x * x)));
    case TF_ACT_GELU_ERF: return 0.5 * x * (1 + erf_series(x / std::sqrt(2.0)));
    case TF_ACT_RELU: return x > 0 ? x : 0.0;
    default: return x;
  }
}

// The bound on |got - act_ref(x)| for an input x (float) whose exact result is ref (see the file comment).
double act_bound(int act, double x, double ref) {
  const double ax = std::fabs(x), ar = std::fabs(ref);
  switch (act) {
    case TF_ACT_SILU: return 1e-6 * ar + 5e-39 * ax;
    case TF_ACT_GELU_TANH: {
      const double u = std::fabs(kSqrt2OverPi * (x + 0.044715 * x * x * x));
      return (4 * u + 8) * 0x1p-24 * ar + 5e-39 * ax + 0x1p-52 * ax;
    }
    case TF_ACT_GELU_ERF: return 3e-7 * ax + 1e-7 * ar + 1e-37;
    default: return 0;
  }
}

const char* act_name(int act) {
  return act == TF_ACT_SILU ? "silu" : act == TF_ACT_GELU_TANH ? "gelu_tanh" : act == TF_ACT_GELU_ERF ? "gelu_erf"
         : act == TF_ACT_RELU ? "relu" : "identity";
}

// rmsnorm (norm = 0) or layernorm (norm = 1) of h in double.
void norm_ref(int norm, const std::vector<float>& h, const std::vector<float>& w, const float* b, int rows, int dim,
              float eps, std::vector<double>& out) {
  out.assign(h.size(), 0.0);
  for (int r = 0; r < rows; ++r) {
    const float* hr = h.data() + size_t(r) * dim;
    double* o = out.data() + size_t(r) * dim;
    if (norm == 0) {
      double ss = 0;
      for (int i = 0; i < dim; ++i) ss += double(hr[i]) * hr[i];
      const double s = 1 / std::sqrt(ss / dim + double(eps));
      for (int i = 0; i < dim; ++i) o[i] = hr[i] * s * w[i];
    } else {
      double mean = 0, var = 0;
      for (int i = 0; i < dim; ++i) mean += hr[i];
      mean /= dim;
      for (int i = 0; i < dim; ++i) var += (hr[i] - mean) * (hr[i] - mean);
      const double s = 1 / std::sqrt(var / dim + double(eps));
      for (int i = 0; i < dim; ++i) o[i] = (hr[i] - mean) * s * w[i] + (b ? b[i] : 0.0);
    }
  }
}

// One norm (0 rmsnorm, 1 layernorm) with and without the residual, and with out aliasing x or residual;
// bias (layernorm) present or NULL.
void run_norm(int norm) {
  const char* name = norm == 0 ? "rmsnorm" : "layernorm";
  uint64_t seed = norm == 0 ? 100 : 200;
  for (int dim : {1, 7, 17, 64, 384, 4099})
    for (int rows : {1, 3, 40}) {
      std::vector<float> x = random_uniform(size_t(rows) * dim, seed++, -4.f, 4.f);
      for (auto& v : x) v += norm == 1 ? 3.f : 0.f;  // layernorm: a mean far from 0 tests the centring
      const std::vector<float> res = random_uniform(x.size(), seed++, -2.f, 2.f);
      const std::vector<float> w = random_uniform(dim, seed++, -1.5f, 1.5f), b = random_uniform(dim, seed++);
      const float eps = norm == 0 ? 1e-5f : 1e-12f;
      std::vector<float> h(x.size());  // residual + x, as the library must store it
      for (size_t i = 0; i < x.size(); ++i) h[i] = float(double(res[i]) + double(x[i]));
      const double tol = norm == 0 ? 1e-6 : dim > 800 ? 2e-5 : 1e-5, rtol = norm == 0 ? 1e-5 : tol;
      for (bool with_bias : {true, false}) {
        if (norm == 0 && !with_bias) continue;
        const float* bp = norm == 1 && with_bias ? b.data() : nullptr;
        std::vector<double> ref_plain, ref_res;
        norm_ref(norm, x, w, bp, rows, dim, eps, ref_plain);
        norm_ref(norm, h, w, bp, rows, dim, eps, ref_res);
        auto call = [&](float* out, float* residual, const float* in) {
          if (norm == 0) tf_cpu_rmsnorm(out, residual, in, w.data(), rows, dim, eps);
          else tf_cpu_layernorm(out, residual, in, w.data(), bp, rows, dim, eps);
        };
        for (const CpuConfig& cfg : cpu_configs()) {
          CHECK(cfg.apply());
          const std::string what = std::string(name) + " rows=" + std::to_string(rows) + " dim=" + std::to_string(dim) +
                                   (bp ? " bias" : "") + " " + cfg.name();
          std::vector<float> out(x.size(), NAN);
          call(out.data(), nullptr, x.data());
          expect_close(what, out.data(), ref_plain.data(), out.size(), tol, rtol);
          std::vector<float> xi = x;  // out aliases x
          call(xi.data(), nullptr, xi.data());
          expect_same_bits(what + " out == x", xi.data(), out.data(), out.size());

          std::vector<float> r1 = res, o1(x.size(), NAN);
          call(o1.data(), r1.data(), x.data());
          expect_close(what + " residual", o1.data(), ref_res.data(), o1.size(), tol, rtol);
          expect_same_bits(what + " residual written back", r1.data(), h.data(), h.size());
          std::vector<float> r2 = res, x2 = x;  // out aliases x
          call(x2.data(), r2.data(), x2.data());
          expect_same_bits(what + " residual, out == x", x2.data(), o1.data(), o1.size());
          expect_same_bits(what + " residual, out == x, written back", r2.data(), h.data(), h.size());
          std::vector<float> r3 = res;  // out aliases residual (post-LN)
          call(r3.data(), r3.data(), x.data());
          expect_same_bits(what + " residual, out == residual", r3.data(), o1.data(), o1.size());
        }
      }
    }
  cpu_restore_defaults();
}

// Inputs for the activations: a dense sweep over [-12, 12] (every regime of each function), far values,
// zeros and a denormal, then random values of several sizes.
std::vector<float> activation_inputs(size_t n, uint64_t seed) {
  std::vector<float> x = random_uniform(n, seed, -8.f, 8.f);
  const size_t sweep = n / 2;
  for (size_t i = 0; i < sweep; ++i) x[i] = -12.f + 24.f * float(i) / float(sweep);
  const float special[] = {0.f, -0.f, 1e-30f, -1e-30f, 100.f, -100.f, 30.f, -30.f, -88.f, -89.f, 90.f, -10.2f, 1e-3f};
  for (size_t i = 0; i < sizeof special / sizeof special[0] && sweep + i < n; ++i) x[sweep + i] = special[i];
  return x;
}

}  // namespace

TF_TEST(rmsnorm) { run_norm(0); }
TF_TEST(layernorm) { run_norm(1); }

// Every activation, with a bias and without, over shapes whose rows end inside a vector.
TF_TEST(bias_act) {
  uint64_t seed = 300;
  struct Shape { int rows, dim; };
  for (Shape sh : {Shape{1, 1}, Shape{3, 7}, Shape{9, 1536}, Shape{5, 4099}, Shape{700, 33}})
    for (int act : {TF_ACT_SILU, TF_ACT_GELU_TANH, TF_ACT_GELU_ERF, TF_ACT_IDENTITY, TF_ACT_RELU})
      for (bool with_bias : {true, false}) {
        const size_t n = size_t(sh.rows) * sh.dim;
        const std::vector<float> x = activation_inputs(n, seed++);
        const std::vector<float> bias = random_uniform(sh.dim, seed++, -2.f, 2.f);
        std::vector<double> ref(n), bound(n);
        for (size_t i = 0; i < n; ++i) {
          const float in = with_bias ? float(double(x[i]) + bias[i % sh.dim]) : x[i];  // the float sum, exact here
          ref[i] = act_ref(act, in);
          bound[i] = act_bound(act, in, ref[i]);
        }
        for (const CpuConfig& cfg : cpu_configs()) {
          CHECK(cfg.apply());
          std::vector<float> got = x;
          tf_cpu_bias_act(got.data(), with_bias ? bias.data() : nullptr, sh.rows, sh.dim, act);
          const std::string what = std::string("bias_act ") + act_name(act) + (with_bias ? " bias" : "") + " rows=" +
                                   std::to_string(sh.rows) + " dim=" + std::to_string(sh.dim) + " " + cfg.name();
          if (!expect_within(what, got.data(), ref.data(), bound.data(), n)) break;
        }
      }
  cpu_restore_defaults();
}

// Every activation of the GLU, out separate, aliasing gate and aliasing up.
TF_TEST(glu) {
  uint64_t seed = 400;
  for (long n : {1L, 7L, 16L, 33L, 1000L, 70001L})
    for (int act : {TF_ACT_SILU, TF_ACT_GELU_TANH, TF_ACT_GELU_ERF, TF_ACT_IDENTITY, TF_ACT_RELU}) {
      const std::vector<float> g = activation_inputs(size_t(n), seed++);
      const std::vector<float> u = random_uniform(size_t(n), seed++, -2.f, 2.f);
      std::vector<double> ref(n), bound(n);
      for (long i = 0; i < n; ++i) {
        const double a = act_ref(act, g[i]);
        ref[i] = a * u[i];
        bound[i] = act_bound(act, g[i], a) * std::fabs(u[i]) + 1e-7 * std::fabs(ref[i]);
      }
      for (const CpuConfig& cfg : cpu_configs()) {
        CHECK(cfg.apply());
        const std::string what = std::string("glu ") + act_name(act) + " n=" + std::to_string(n) + " " + cfg.name();
        std::vector<float> out(n, NAN);
        tf_cpu_glu(out.data(), g.data(), u.data(), n, act);
        expect_within(what, out.data(), ref.data(), bound.data(), size_t(n));
        std::vector<float> a = g;  // out aliases gate
        tf_cpu_glu(a.data(), a.data(), u.data(), n, act);
        expect_same_bits(what + " out == gate", a.data(), out.data(), size_t(n));
        std::vector<float> b = u;  // out aliases up
        tf_cpu_glu(b.data(), g.data(), b.data(), n, act);
        expect_same_bits(what + " out == up", b.data(), out.data(), size_t(n));
      }
    }
  cpu_restore_defaults();
}
