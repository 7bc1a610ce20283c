// rwkv_ref.h: double-precision references for the RWKV ops (transfuse.h: tf_cpu_rwkv_* and tf_rwkv_*), written
// from the equations there with plain loops; shared by cpu_rwkv_ops.cpp and emu_rwkv.cpp.
#pragma once
#include <cmath>
#include <vector>

namespace rwkv_ref {

inline double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

// The group norm of one head's S outputs y into out[o..o+S) with ln_w/ln_b at c0.
inline void group_norm(std::vector<double>& out, size_t o, const std::vector<double>& y, const std::vector<float>& lw,
                       const std::vector<float>& lb, size_t c0, double eps) {
  const size_t S = y.size();
  double mean = 0, var = 0;
  for (double v : y) mean += v;
  mean /= double(S);
  for (double v : y) var += (v - mean) * (v - mean);
  var /= double(S);
  for (size_t i = 0; i < S; i++) out[o + i] = (y[i] - mean) / std::sqrt(var + eps) * lw[c0 + i] + lb[c0 + i];
}

// RWKV-6 WKV over tokens x heads x S; state [heads][S][S] (row = value channel) updated in place.
inline std::vector<double> wkv6(std::vector<double>& state, const std::vector<float>& r, const std::vector<float>& k,
                                const std::vector<float>& v, const std::vector<float>& w, const std::vector<float>& u,
                                const std::vector<float>& lw, const std::vector<float>& lb, int tokens, int heads, int S, double eps) {
  const size_t C = size_t(heads) * S;
  std::vector<double> out(size_t(tokens) * C), y(S);
  for (int t = 0; t < tokens; t++)
    for (int h = 0; h < heads; h++) {
      const size_t o = t * C + size_t(h) * S;
      for (int i = 0; i < S; i++) {
        double acc = 0;
        for (int j = 0; j < S; j++) {
          double& s = state[(size_t(h) * S + i) * S + j];
          const double kv = double(k[o + j]) * v[o + i];
          acc += r[o + j] * (u[size_t(h) * S + j] * kv + s);
          s = s * std::exp(-std::exp(double(w[o + j]))) + kv;
        }
        y[i] = acc;
      }
      group_norm(out, o, y, lw, lb, size_t(h) * S, eps);
    }
  return out;
}

// RWKV-7 WKV (vf, vm empty: layer 0).
inline std::vector<double> wkv7(std::vector<double>& state, const std::vector<float>& r, const std::vector<float>& w,
                                const std::vector<float>& k, const std::vector<float>& v, const std::vector<float>& a,
                                const std::vector<float>& vf, const std::vector<float>& vm, const std::vector<float>& kK,
                                const std::vector<float>& kA, const std::vector<float>& rK, const std::vector<float>& lw,
                                const std::vector<float>& lb, int tokens, int heads, int S, double eps) {
  const size_t C = size_t(heads) * S;
  std::vector<double> out(size_t(tokens) * C), y(S), kk(S), kp(S), av(S), vv(S);
  for (int t = 0; t < tokens; t++)
    for (int h = 0; h < heads; h++) {
      const size_t o = t * C + size_t(h) * S, c0 = size_t(h) * S;
      double norm = 0, bonus = 0;
      for (int j = 0; j < S; j++) {
        kk[j] = double(k[o + j]) * kK[c0 + j];
        norm += kk[j] * kk[j];
      }
      norm = std::fmax(std::sqrt(norm), 1e-12);
      for (int j = 0; j < S; j++) {
        kk[j] /= norm;
        av[j] = sigmoid(a[o + j]);
        kp[j] = k[o + j] * (1 + (av[j] - 1) * kA[c0 + j]);
        bonus += r[o + j] * kp[j] * rK[c0 + j];
        vv[j] = vf.empty() ? v[o + j] : v[o + j] + (double(vf[o + j]) - v[o + j]) * sigmoid(vm[o + j]);
      }
      for (int i = 0; i < S; i++) {
        double* row = &state[(c0 + i) * S];
        double sa = 0;
        for (int j = 0; j < S; j++) sa -= kk[j] * row[j];
        double acc = 0;
        for (int j = 0; j < S; j++) {
          row[j] = row[j] * std::exp(-0.606531 * sigmoid(w[o + j])) + kp[j] * vv[i] + sa * kk[j] * av[j];
          acc += row[j] * r[o + j];
        }
        y[i] = acc;
      }
      group_norm(out, o, y, lw, lb, c0, eps);
      for (int i = 0; i < S; i++) out[o + i] += bonus * vv[i];
    }
  return out;
}

}  // namespace rwkv_ref
