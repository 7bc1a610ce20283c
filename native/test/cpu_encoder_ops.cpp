// cpu_encoder_ops.cpp: the encoder ops of libtransfuse_cpu (tf_cpu_layernorm, tf_cpu_add_bias,
// tf_cpu_gelu, tf_cpu_bias_gelu, tf_cpu_attention_bidirectional; native/cpu/encoder_ops.cpp) against
// naive double-precision references written here, under every instruction set this CPU supports and
// with 1 and 2 threads; tf_cpu_matmul_bias against tf_cpu_matmul followed by those ops (which
// cpu_ops.cpp and the tests here check against references). (The Java tests in CpuEncoderOpsTest
// check the same ops through Panama.)
//
// Tolerances:
//  - layernorm: float sums over dim <= 768 values of size <= ~10: the normalised value is off by
//    ~1e-6 of its size, times |w| <= 1.5, plus a float bias: 1e-5 absolute + 1e-5 relative.
//  - gelu: erf is approximated to 1.5e-7 absolute (Abramowitz & Stegun 7.1.26): 3e-7 |x| + 1e-7 |ref|.
//  - attention: fp32 dot products over head_dim, exp within ~2e-7 relative, an fp32 average of
//    v in [-1, 1]: 2e-6 absolute. Padded query rows must be exactly zero.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "tf_test.h"
#include "transfuse.h"

namespace {

std::vector<int> supported_isas() {
  std::vector<int> v;
  for (int isa : {TF_CPU_ISA_GENERIC, TF_CPU_ISA_AVX2, TF_CPU_ISA_AVX512})
    if (tf_cpu_set_isa(isa) == isa) v.push_back(isa);
  tf_cpu_set_isa(tf_cpu_best_isa());
  return v;
}

double erf_series(double x) {  // A&S 7.1.6: all terms share the sign of x, no cancellation
  if (std::fabs(x) > 6) return x > 0 ? 1 : -1;
  double term = x, sum = x;
  for (int n = 1; n < 400 && std::fabs(term) >= 1e-18 * std::fabs(sum); n++) {
    term *= 2 * x * x / (2 * n + 1);
    sum += term;
  }
  return 2 / std::sqrt(M_PI) * std::exp(-x * x) * sum;
}
double gelu_ref(double x) { return 0.5 * x * (1 + erf_series(x / std::sqrt(2.0))); }

}  // namespace

TF_TEST(layernorm_with_bias_and_residual) {
  for (int dim : {1, 17, 384, 768}) {
    const int tokens = 37;
    auto x = tf_test::random_uniform(size_t(tokens) * dim, 1, -4, 4), res = tf_test::random_uniform(size_t(tokens) * dim, 2);
    auto xb = tf_test::random_uniform(dim, 3), w = tf_test::random_uniform(dim, 4, -1.5f, 1.5f), b = tf_test::random_uniform(dim, 5);
    for (auto& v : x) v += 3;
    std::vector<double> ref(x.size());
    for (int t = 0; t < tokens; t++) {
      std::vector<double> y(dim);
      double mean = 0, var = 0;
      for (int i = 0; i < dim; i++) mean += y[i] = double(x[t * dim + i]) + xb[i] + res[t * dim + i];
      mean /= dim;
      for (int i = 0; i < dim; i++) var += (y[i] - mean) * (y[i] - mean);
      const double s = 1 / std::sqrt(var / dim + 1e-12);
      for (int i = 0; i < dim; i++) ref[t * dim + i] = (y[i] - mean) * s * w[i] + b[i];
    }
    for (int isa : supported_isas()) {
      tf_cpu_set_isa(isa);
      for (int threads : {1, 2}) {
        tf_cpu_set_threads(threads);
        std::vector<float> out(x.size());
        tf_cpu_layernorm(out.data(), x.data(), xb.data(), res.data(), w.data(), b.data(), tokens, dim, 1e-12f);
        tf_test::expect_close("layernorm dim " + std::to_string(dim) + " isa " + std::to_string(isa), out, ref, 1e-5, 1e-5);
      }
    }
  }
}

TF_TEST(gelu_and_bias_gelu) {
  const int rows = 9, dim = 1536;
  auto x = tf_test::random_uniform(size_t(rows) * dim, 6, -8, 8), bias = tf_test::random_uniform(dim, 7, -2, 2);
  for (int isa : supported_isas()) {
    tf_cpu_set_isa(isa);
    for (int threads : {1, 2}) {
      tf_cpu_set_threads(threads);
      std::vector<float> a = x, b = x;
      tf_cpu_gelu(a.data(), long(a.size()));
      tf_cpu_bias_gelu(b.data(), bias.data(), rows, dim);
      for (size_t i = 0; i < x.size(); i++) {
        const double in = double(x[i] + bias[i % dim]);
        const double ra = gelu_ref(x[i]), rb = gelu_ref(in);
        if (!(std::fabs(a[i] - ra) <= 3e-7 * std::fabs(x[i]) + 1e-7 * std::fabs(ra) + 1e-37) ||
            !(std::fabs(b[i] - rb) <= 3e-7 * std::fabs(in) + 1e-7 * std::fabs(rb) + 1e-37)) {
          tf_test::fail(__FILE__, __LINE__, "gelu at " + std::to_string(i) + " isa " + std::to_string(isa));
          return;
        }
      }
    }
  }
}

TF_TEST(attention_bidirectional_padded_batch) {
  struct Case { int batch, seq, heads, hd, stride; std::vector<int> lens; };
  for (const Case& c : {Case{3, 32, 12, 32, 3 * 384, {32, 9, 1}}, Case{4, 20, 2, 64, 200, {20, 0, 13, 19}},
                        Case{2, 300, 2, 128, 256, {290, 300}}}) {
    const size_t rows = size_t(c.batch) * c.seq, width = size_t(c.heads) * c.hd;
    auto q = tf_test::random_uniform(rows * c.stride, 8, -2, 2), k = tf_test::random_uniform(rows * c.stride, 9, -2, 2),
         v = tf_test::random_uniform(rows * c.stride, 10);
    std::vector<double> ref(rows * width, 0.0);
    for (int b = 0; b < c.batch; b++)
      for (int i = 0; i < c.lens[b]; i++)
        for (int h = 0; h < c.heads; h++) {
          std::vector<double> p(c.lens[b]);
          double m = -INFINITY, sum = 0;
          for (int j = 0; j < c.lens[b]; j++) {
            double s = 0;
            for (int d = 0; d < c.hd; d++)
              s += double(q[(b * c.seq + i) * size_t(c.stride) + h * c.hd + d]) * k[(b * c.seq + j) * size_t(c.stride) + h * c.hd + d];
            p[j] = s / std::sqrt(double(c.hd));
            m = std::max(m, p[j]);
          }
          for (auto& e : p) sum += e = std::exp(e - m);
          for (int j = 0; j < c.lens[b]; j++)
            for (int d = 0; d < c.hd; d++)
              ref[(b * c.seq + i) * width + h * c.hd + d] += p[j] / sum * v[(b * c.seq + j) * size_t(c.stride) + h * c.hd + d];
        }
    for (int isa : supported_isas()) {
      tf_cpu_set_isa(isa);
      for (int threads : {1, 2}) {
        tf_cpu_set_threads(threads);
        std::vector<float> out(rows * width, 1e30f);  // padded rows must be overwritten with zeros
        tf_cpu_attention_bidirectional(out.data(), q.data(), k.data(), v.data(), c.lens.data(), c.batch, c.seq, c.heads,
                                       c.hd, c.stride);
        tf_test::expect_close("attention seq " + std::to_string(c.seq) + " hd " + std::to_string(c.hd) + " isa " +
                                  std::to_string(isa) + " threads " + std::to_string(threads),
                              out, ref, 2e-6, 0);
      }
    }
  }
}

// The fused Linear layer must equal its parts, bit for bit: the same fp32 sum, bias add and GELU,
// only applied per block in the matmul's region (F32_PANELS, F32_AMX) or by the separate ops (other
// types). Output widths end inside a panel (173) and token counts inside a register tile (1, 7, 263),
// so every block edge is crossed; the bias is large enough that a block left out or done twice shows.
// (F32_AMX runs on AMX tiles with the AVX-512 ISA where the CPU has them, rebuilt in f32 otherwise.)
TF_TEST(matmul_bias_equals_matmul_then_bias) {
  for (int type : {TF_CPU_F32_PANELS, TF_CPU_F32_AMX, TF_CPU_F32})
    for (int in_dim : {64, 384})
      for (int out_dim : {7, 96, 173}) {
        auto w = tf_test::random_uniform(size_t(in_dim) * out_dim, 11, -0.2f, 0.2f), bias = tf_test::random_uniform(out_dim, 12, -2, 2);
        std::vector<float> panels(size_t(tf_cpu_packed_f32_bytes(in_dim, out_dim)) / 4);
        std::vector<float> amx(size_t(tf_cpu_packed_f32_amx_bytes(in_dim, out_dim)) / 4);
        tf_cpu_pack_f32(panels.data(), w.data(), in_dim, out_dim);
        tf_cpu_pack_f32_amx(amx.data(), w.data(), in_dim, out_dim);
        const void* wd = type == TF_CPU_F32_PANELS ? panels.data() : type == TF_CPU_F32_AMX ? amx.data() : static_cast<const void*>(w.data());
        for (int tokens : {1, 7, 32, 263}) {
          auto x = tf_test::random_uniform(size_t(tokens) * in_dim, 13);
          for (int isa : supported_isas())
            for (int threads : {1, 2})
              for (int act : {TF_CPU_ACT_NONE, TF_CPU_ACT_GELU}) {
                tf_cpu_set_isa(isa);
                tf_cpu_set_threads(threads);
                std::vector<float> fused(size_t(tokens) * out_dim, NAN), parts(fused.size(), NAN);
                tf_cpu_matmul_bias(fused.data(), x.data(), wd, type, tokens, in_dim, out_dim, bias.data(), act);
                tf_cpu_matmul(parts.data(), x.data(), wd, type, tokens, in_dim, out_dim);
                if (act == TF_CPU_ACT_GELU) tf_cpu_bias_gelu(parts.data(), bias.data(), tokens, out_dim);
                else tf_cpu_add_bias(parts.data(), bias.data(), tokens, out_dim);
                for (size_t i = 0; i < fused.size(); i++)
                  if (!(fused[i] == parts[i])) {
                    tf_test::fail(__FILE__, __LINE__,
                                  "matmul_bias type " + std::to_string(type) + " act " + std::to_string(act) + " tokens " +
                                      std::to_string(tokens) + " in " + std::to_string(in_dim) + " out " + std::to_string(out_dim) +
                                      " isa " + std::to_string(isa) + " threads " + std::to_string(threads) + " at " +
                                      std::to_string(i) + ": " + std::to_string(fused[i]) + " vs " + std::to_string(parts[i]));
                    return;
                  }
              }
        }
      }
  tf_cpu_set_isa(tf_cpu_best_isa());
  tf_cpu_set_threads(1);
}
