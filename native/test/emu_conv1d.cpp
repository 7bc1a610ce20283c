// emu_conv1d.cpp: causal depthwise conv1d (prefill, with the conv state it hands to decode) and its
// decode step, on the emulator, against a double-precision reference written here.
//
// Tolerances: at most 4 products plus a bias in fp32 (error ~ 5 * 2^-24 of sum |terms|), then SiLU
// (fp32 expf, a few ulp) and one rounding to the dtype (u: fp32 2^-24, fp16 2^-11, bf16 2^-8). So
// |err| <= 2u |ref| + 1e-6 * sum|terms| + (fp16: 2^-24 for subnormal outputs). The conv state is a
// copy of inputs: exact.
#include "tf_test.h"
#include "transfuse.h"
#include "dtype_buffer.h"

#include <cmath>
#include <cstring>
#include <vector>


namespace {

double silu_ref(double x) { return x / (1 + std::exp(-x)); }

struct ConvRef {
  std::vector<double> y, mag;
};

// Reference over a full row history: hist holds W-1 earlier inputs (oldest first) then the row.
void conv_row(const std::vector<double>& hist, int W, const std::vector<double>& w, double bias, bool silu, int L,
              double* y, double* mag) {
  for (int l = 0; l < L; ++l) {
    double acc = bias, m = std::fabs(bias);
    for (int k = 0; k < W; ++k) {
      const double t = w[k] * hist[l + k];  // hist index l + k = position l - (W-1) + k
      acc += t;
      m += std::fabs(t);
    }
    if (silu) { acc = silu_ref(acc); m *= 1.1; }  // silu' <= 1.1: an error in acc grows at most 1.1x
    y[l] = acc;
    mag[l] = m;
  }
}

void check_close(const std::string& what, const std::vector<float>& got, const std::vector<double>& ref,
                 const std::vector<double>& mag, int dt) {
  const double u = 0x1p-24 * (dt == TF_DTYPE_F32) + 0x1p-11 * (dt == TF_DTYPE_F16) + 0x1p-8 * (dt == TF_DTYPE_BF16);
  const double sub = dt == TF_DTYPE_F16 ? 0x1p-24 : 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double tol = 2 * u * std::fabs(ref[i]) + 1e-6 * mag[i] + sub + 1e-30;
    if (!(std::fabs(got[i] - ref[i]) <= tol)) {
      char buf[300];
      std::snprintf(buf, sizeof buf, "%s: [%zu] got %.9g want %.9g (tol %.3g)", what.c_str(), i, double(got[i]), ref[i], tol);
      tf_test::fail(__FILE__, __LINE__, buf);
      return;
    }
  }
}

}  // namespace

TF_TEST(conv1d_prefill_widths_lengths_flags_dtypes) {
  uint64_t seed = 31;
  for (int dt : kDtypes)
    for (int W : {1, 2, 3, 4})
      for (int L : {1, 2, 7, 129, 300})
        for (int flags = 0; flags < 4; ++flags) {
          const bool has_bias = flags & 1, silu = flags & 2;
          const int batch = 2, dim = 3;
          DBuf x(dt, size_t(batch) * dim * L), w(dt, size_t(dim) * W), b(dt, dim), out(dt, x.n);
          DBuf st(dt, size_t(batch) * dim * (W > 1 ? W - 1 : 1));
          fill(x, seed++, -2.f, 2.f);
          fill(w, seed++, -1.f, 1.f);
          fill(b, seed++, -0.5f, 0.5f);
          fill(out, seed++, 40.f, 41.f);
          fill(st, seed++, 40.f, 41.f);
          std::vector<double> y(x.n), mag(x.n), st_ref(st.n);
          for (int bb = 0; bb < batch; ++bb)
            for (int d = 0; d < dim; ++d) {
              const size_t row = (size_t(bb) * dim + d) * L;
              std::vector<double> hist(W - 1, 0.0), wd(W);
              for (int l = 0; l < L; ++l) hist.push_back(x.get(row + l));
              for (int k = 0; k < W; ++k) wd[k] = w.get(size_t(d) * W + k);
              conv_row(hist, W, wd, has_bias ? b.get(d) : 0.0, silu, L, &y[row], &mag[row]);
              for (int k = 0; k < W - 1; ++k) st_ref[(size_t(bb) * dim + d) * (W - 1) + k] = hist[L + k];  // last W-1
            }
          char what[160];
          std::snprintf(what, sizeof what, "conv1d %s width=%d seqlen=%d bias=%d silu=%d", dtype_name(dt), W, L, has_bias, silu);
          const int err = tf_causal_conv1d(out.data(), st.data(), x.data(), w.data(), has_bias ? b.data() : nullptr, batch,
                                           dim, L, W, silu, dt, nullptr);
          if (err) { tf_test::fail(__FILE__, __LINE__, std::string(what) + " launch error"); continue; }
          check_close(what, out.values(), y, mag, dt);
          if (W > 1) {
            const std::vector<float> sg = st.values();
            expect_close(std::string(what) + " conv_state", sg.data(), st_ref.data(), size_t(batch) * dim * (W - 1), 0.0, 0.0);
          }
        }
}

// Decode: start from a random state, run T steps, compare every output and the final state with the
// reference over the concatenated history. Every case runs twice: out in its own buffer, and out == x
// (in place, as transfuse.h allows).
TF_TEST(conv1d_update_steps_roll_state) {
  uint64_t seed = 700;
  for (int dt : kDtypes)
    for (int W : {1, 2, 3, 4})
      for (int flags = 0; flags < 8; ++flags) {
        const bool in_place = flags & 4;
        const bool has_bias = flags & 1, silu = flags & 2;
        const int batch = 2, dim = 5, T = 6, S = W > 1 ? W - 1 : 1;
        DBuf w(dt, size_t(dim) * W), b(dt, dim), st(dt, size_t(batch) * dim * S), xs(dt, size_t(batch) * dim * T);
        fill(w, seed++, -1.f, 1.f);
        fill(b, seed++, -0.5f, 0.5f);
        fill(st, seed++, -2.f, 2.f);
        fill(xs, seed++, -2.f, 2.f);  // [batch*dim][T]
        std::vector<double> y(xs.n), mag(xs.n), st_ref(st.n);
        for (int i = 0; i < batch * dim; ++i) {
          const int d = i % dim;
          std::vector<double> hist, wd(W);
          for (int k = 0; k < W - 1; ++k) hist.push_back(st.get(size_t(i) * S + k));
          for (int t = 0; t < T; ++t) hist.push_back(xs.get(size_t(i) * T + t));
          for (int k = 0; k < W; ++k) wd[k] = w.get(size_t(d) * W + k);
          conv_row(hist, W, wd, has_bias ? b.get(d) : 0.0, silu, T, &y[size_t(i) * T], &mag[size_t(i) * T]);
          for (int k = 0; k < W - 1; ++k) st_ref[size_t(i) * S + k] = hist[T + k];
        }
        char what[160];
        std::snprintf(what, sizeof what, "conv1d_update %s width=%d bias=%d silu=%d in_place=%d", dtype_name(dt), W, has_bias,
                      silu, in_place);
        std::vector<float> got(xs.n);
        bool ok = true;
        for (int t = 0; t < T && ok; ++t) {
          DBuf x(dt, size_t(batch) * dim), out(dt, x.n);
          for (size_t i = 0; i < x.n; ++i) x.set(i, xs.get(i * T + t));
          DBuf& y_buf = in_place ? x : out;
          const int err = tf_causal_conv1d_update(y_buf.data(), st.data(), x.data(), w.data(), has_bias ? b.data() : nullptr,
                                                  batch, dim, W, silu, dt, nullptr);
          if (err) { tf_test::fail(__FILE__, __LINE__, std::string(what) + " launch error"); ok = false; }
          for (size_t i = 0; i < x.n; ++i) got[i * T + t] = y_buf.get(i);
        }
        if (!ok) continue;
        check_close(what, got, y, mag, dt);
        if (W > 1) {
          const std::vector<float> sg = st.values();
          expect_close(std::string(what) + " state", sg.data(), st_ref.data(), st_ref.size(), 0.0, 0.0);
        }
      }
}

TF_TEST(conv1d_rejects_bad_arguments) {
  DBuf x(TF_DTYPE_F32, 16), w(TF_DTYPE_F32, 16), out(TF_DTYPE_F32, 16);
  EXPECT(tf_causal_conv1d(out.data(), nullptr, x.data(), w.data(), nullptr, 1, 1, 4, 5, 0, TF_DTYPE_F32, nullptr) != 0);
  EXPECT(tf_causal_conv1d_update(out.data(), nullptr, x.data(), w.data(), nullptr, 1, 1, 3, 0, TF_DTYPE_F32, nullptr) != 0);
}
