// emu_ssd_scan.cpp: the Mamba-2 kernels (tf_ssd_scan: chunked prefill; tf_ssd_state_update: decode;
// tf_gated_rmsnorm) on the emulator, against double-precision references written here with plain loops:
// the SSD scan as the sequential recurrence of its definition (transfuse.h), not in chunks.
//
// Shapes: sequence lengths 1, 7, 32 (one whole chunk), 33 and 100 (chunks carried), head_dim 16 (one
// channel block) and 20 (a partial second block), groups 1 and 2, dstate 5, 16 and 128 (the limit), every
// dtype, with and without D / dt_bias, from a zero ("fresh") or a given state.
//
// Tolerances. Inputs are rounded to the dtype first and the reference runs in double from those values,
// so the dtype enters only through the output rounding (2u |ref|, u the unit roundoff); the state is fp32
// whatever the dtype. The kernel's fp32 error is relative to the magnitudes summed, not to the (possibly
// cancelling) result: mag is the same recurrence on absolute values (|a S| + |dt x B|, |S C|, |D x|). The
// chunked form sums up to 32 decayed products per output where the recurrence sums one: 3e-5 * mag
// (about 250 fp32 ulp of the largest contributing term; measured worst err/tol 0.53, f32, seqlen 33); a
// wrong mask, decay, group or a missing barrier moves outputs by O(mag).
#include "tf_test.h"
#include "transfuse.h"
#include "dtype_buffer.h"

#include <cmath>
#include <cstring>
#include <vector>

namespace {

double softplus_ref(double x) { return x > 20 ? x : std::log1p(std::exp(x)); }

struct SsdCase {
  int dtype, seqlen, heads, head_dim, groups, dstate;
  bool optional, fresh;
};

std::string describe(const char* kind, const SsdCase& c) {
  char b[200];
  std::snprintf(b, sizeof b, "%s %s seqlen=%d heads=%d P=%d groups=%d N=%d D+bias=%d fresh=%d", kind, dtype_name(c.dtype),
                c.seqlen, c.heads, c.head_dim, c.groups, c.dstate, c.optional, c.fresh);
  return b;
}

void expect_within(const std::string& what, const std::vector<float>& got, const std::vector<double>& ref,
                   const std::vector<double>& mag, double rtol, double amag) {
  size_t bad = 0, worst = 0;
  double worst_ratio = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double tol = rtol * std::fabs(ref[i]) + amag * mag[i] + 1e-30;
    const double err = std::fabs(double(got[i]) - ref[i]);
    const double ratio = std::isnan(err) ? INFINITY : err / tol;
    if (!(err <= tol)) ++bad;
    if (ratio > worst_ratio) { worst_ratio = ratio; worst = i; }
  }
  if (bad == 0) return;
  char buf[400];
  std::snprintf(buf, sizeof buf, "%s: %zu of %zu off; worst [%zu] got %.9g want %.9g (err/tol %.3g)", what.c_str(), bad,
                ref.size(), worst, double(got[worst]), ref[worst], worst_ratio);
  tf_test::fail(__FILE__, __LINE__, buf);
}

struct Inputs {
  DBuf x, dt, B, C;
  std::vector<float> A, D, bias, init;
  Inputs(const SsdCase& c, uint64_t seed)
      : x(c.dtype, size_t(c.seqlen) * c.heads * c.head_dim), dt(c.dtype, size_t(c.seqlen) * c.heads),
        B(c.dtype, size_t(c.seqlen) * c.groups * c.dstate), C(c.dtype, size_t(c.seqlen) * c.groups * c.dstate) {
    fill(x, seed, -2.f, 2.f);
    fill(dt, seed + 1, -4.f, 1.f);
    fill(B, seed + 2, -1.f, 1.f);
    fill(C, seed + 3, -1.f, 1.f);
    tf_test::Rng r(seed + 4);
    A.resize(c.heads);
    for (float& a : A) a = -std::exp(r.uniform(-1.f, 2.8f));
    D.resize(c.heads);
    for (float& d : D) d = r.uniform(-1.f, 1.f);
    bias.resize(c.heads);
    for (float& b : bias) b = r.uniform(-2.f, 0.5f);
    init.resize(size_t(c.heads) * c.head_dim * c.dstate);
    for (float& h : init) h = r.uniform(-1.f, 1.f);
  }
};

// The recurrence over all tokens: y, ymag [seqlen][heads * P], state, smag [heads * P][N].
void reference(const SsdCase& c, const Inputs& in, std::vector<double>& y, std::vector<double>& ymag,
               std::vector<double>& s, std::vector<double>& smag) {
  const int H = c.heads, P = c.head_dim, N = c.dstate, G = c.groups;
  s.assign(size_t(H) * P * N, 0.0);
  for (size_t i = 0; i < s.size(); ++i) s[i] = c.fresh ? 0.0 : in.init[i];
  smag = s;
  for (double& v : smag) v = std::fabs(v);
  y.assign(size_t(c.seqlen) * H * P, 0.0);
  ymag = y;
  for (int t = 0; t < c.seqlen; ++t)
    for (int h = 0; h < H; ++h) {
      const int g = h / (H / G);
      const double d = softplus_ref(in.dt.get(size_t(t) * H + h) + (c.optional ? in.bias[h] : 0.0));
      const double a = std::exp(d * in.A[h]);
      for (int p = 0; p < P; ++p) {
        const size_t o = (size_t(t) * H + h) * P + p, row = (size_t(h) * P + p) * N;
        const double xv = in.x.get(o);
        double acc = 0, mag = 0;
        for (int n = 0; n < N; ++n) {
          const size_t bc = (size_t(t) * G + g) * N + n;
          const double inc = d * xv * in.B.get(bc);
          s[row + n] = a * s[row + n] + inc;
          smag[row + n] = a * smag[row + n] + std::fabs(inc);
          acc += s[row + n] * in.C.get(bc);
          mag += smag[row + n] * std::fabs(in.C.get(bc));
        }
        if (c.optional) { acc += in.D[h] * xv; mag += std::fabs(in.D[h] * xv); }
        y[o] = acc;
        ymag[o] = mag;
      }
    }
}

void run_scan(const SsdCase& c, uint64_t seed) {
  Inputs in(c, seed);
  DBuf out(c.dtype, size_t(c.seqlen) * c.heads * c.head_dim);
  fill(out, seed + 9, 100.f, 101.f);
  std::vector<float> state = in.init;
  if (c.fresh) std::fill(state.begin(), state.end(), -999.f);  // must not be read
  std::vector<double> y, ymag, s, smag;
  reference(c, in, y, ymag, s, smag);
  const int err = tf_ssd_scan(out.data(), state.data(), in.x.data(), in.dt.data(), in.A.data(), in.B.data(), in.C.data(),
                              c.optional ? in.D.data() : nullptr, c.optional ? in.bias.data() : nullptr, c.fresh,
                              c.seqlen, c.heads, c.head_dim, c.groups, c.dstate, c.dtype, nullptr);
  CHECK_EQ(err, 0);
  expect_within(describe("ssd_scan out", c), out.values(), y, ymag, 2 * unit_roundoff(c.dtype), 3e-5);
  expect_within(describe("ssd_scan state", c), state, s, smag, 0, 3e-5);
}

// Tokens one at a time through tf_ssd_state_update for 3 sequences at once (each its own inputs and
// state), against the same recurrence.
void run_steps(int dtype, int heads, int head_dim, int groups, int dstate, uint64_t seed) {
  const int batch = 3, steps = 5, HP = heads * head_dim, GN = groups * dstate;
  std::vector<Inputs> ins;
  std::vector<SsdCase> cases;
  std::vector<float> state;
  for (int b = 0; b < batch; ++b) {
    cases.push_back({dtype, steps, heads, head_dim, groups, dstate, b != 1, false});
    ins.emplace_back(cases.back(), seed + 100 * b);
    state.insert(state.end(), ins.back().init.begin(), ins.back().init.end());
  }
  // the kernel takes one D / dt_bias for the batch: use sequence 0's everywhere
  for (int b = 1; b < batch; ++b) { ins[b].D = ins[0].D; ins[b].bias = ins[0].bias; ins[b].A = ins[0].A; cases[b].optional = true; }
  std::vector<double> y[batch], ymag[batch], s[batch], smag[batch];
  for (int b = 0; b < batch; ++b) reference(cases[b], ins[b], y[b], ymag[b], s[b], smag[b]);
  for (int t = 0; t < steps; ++t) {
    DBuf x(dtype, size_t(batch) * HP), dt(dtype, size_t(batch) * heads), B(dtype, size_t(batch) * GN), C(dtype, size_t(batch) * GN),
        out(dtype, size_t(batch) * HP);
    for (int b = 0; b < batch; ++b) {
      for (int i = 0; i < HP; ++i) x.set(b * HP + i, ins[b].x.get(size_t(t) * HP + i));
      for (int i = 0; i < heads; ++i) dt.set(b * heads + i, ins[b].dt.get(size_t(t) * heads + i));
      for (int i = 0; i < GN; ++i) {
        B.set(b * GN + i, ins[b].B.get(size_t(t) * GN + i));
        C.set(b * GN + i, ins[b].C.get(size_t(t) * GN + i));
      }
    }
    CHECK_EQ(tf_ssd_state_update(out.data(), state.data(), x.data(), dt.data(), ins[0].A.data(), B.data(), C.data(),
                                 ins[0].D.data(), ins[0].bias.data(), batch, heads, head_dim, groups, dstate, dtype, nullptr),
             0);
    std::vector<double> want(size_t(batch) * HP), mag(size_t(batch) * HP);
    for (int b = 0; b < batch; ++b)
      for (int i = 0; i < HP; ++i) { want[b * HP + i] = y[b][size_t(t) * HP + i]; mag[b * HP + i] = ymag[b][size_t(t) * HP + i]; }
    char what[160];
    std::snprintf(what, sizeof what, "ssd_state_update %s step %d heads=%d P=%d groups=%d N=%d", dtype_name(dtype), t, heads,
                  head_dim, groups, dstate);
    expect_within(what, out.values(), want, mag, 2 * unit_roundoff(dtype), 3e-5);
  }
  std::vector<double> s_all, m_all;
  for (int b = 0; b < batch; ++b) { s_all.insert(s_all.end(), s[b].begin(), s[b].end()); m_all.insert(m_all.end(), smag[b].begin(), smag[b].end()); }
  expect_within("ssd_state_update final state " + std::string(dtype_name(dtype)), state, s_all, m_all, 0, 3e-5);
}

}  // namespace

TF_TEST(ssd_scan_shapes) {
  uint64_t seed = 5100;
  for (int dtype : kDtypes)
    for (int seqlen : {1, 7, 32, 33, 100})
      for (bool fresh : {true, false}) {
        run_scan({dtype, seqlen, 4, 16, 2, 16, true, fresh}, seed++);
        run_scan({dtype, seqlen, 3, 20, 1, 5, !fresh, fresh}, seed++);
      }
}

TF_TEST(ssd_scan_state_128) {
  for (int dtype : kDtypes) run_scan({dtype, 70, 2, 64, 1, 128, true, false}, 5300 + dtype);
}

TF_TEST(ssd_state_update) {
  for (int dtype : kDtypes) {
    run_steps(dtype, 4, 16, 2, 16, 5400);
    run_steps(dtype, 2, 64, 1, 128, 5500);
  }
}

TF_TEST(ssd_invalid_arguments) {
  std::vector<float> buf(4096);
  float* p = buf.data();
  EXPECT(tf_ssd_scan(p, p, p, p, p, p, p, nullptr, nullptr, 1, 4, 4, 16, 3, 16, TF_DTYPE_F32, nullptr) != 0);   // groups
  EXPECT(tf_ssd_scan(p, p, p, p, p, p, p, nullptr, nullptr, 1, 4, 4, 16, 1, 129, TF_DTYPE_F32, nullptr) != 0);  // dstate
  EXPECT(tf_ssd_scan(p, nullptr, p, p, p, p, p, nullptr, nullptr, 1, 4, 4, 16, 1, 16, TF_DTYPE_F32, nullptr) != 0);
  EXPECT(tf_ssd_state_update(p, p, p, p, p, p, p, nullptr, nullptr, 1, 0, 16, 1, 16, TF_DTYPE_F32, nullptr) != 0);
  EXPECT(tf_gated_rmsnorm(p, p, p, p, 2, 48, 5, 1e-5f, TF_DTYPE_F32, nullptr) != 0);  // group size
}

// Groups of the whole row and of a quarter (1536 and 384: more columns than threads), out of place and in
// place over x.
TF_TEST(gated_rmsnorm) {
  uint64_t seed = 5600;
  for (int dtype : kDtypes)
    for (int dim : {64, 1536})
      for (int group : {dim, dim / 4}) {
        const int rows = 3;
        const size_t n = size_t(rows) * dim;
        DBuf x(dtype, n), z(dtype, n), w(dtype, dim), out(dtype, n);
        fill(x, seed++, -3.f, 3.f);
        fill(z, seed++, -4.f, 4.f);
        fill(w, seed++, 0.5f, 1.5f);
        std::vector<double> ref(n), mag(n);
        for (int r = 0; r < rows; ++r)
          for (int g0 = 0; g0 < dim; g0 += group) {
            double ss = 0;
            std::vector<double> v(group);
            for (int i = 0; i < group; ++i) {
              const double zz = z.get(size_t(r) * dim + g0 + i);
              v[i] = x.get(size_t(r) * dim + g0 + i) * zz / (1 + std::exp(-zz));
              ss += v[i] * v[i];
            }
            const double scale = 1 / std::sqrt(ss / group + 1e-5);
            for (int i = 0; i < group; ++i) {
              ref[size_t(r) * dim + g0 + i] = v[i] * scale * w.get(g0 + i);
              mag[size_t(r) * dim + g0 + i] = std::fabs(v[i] * scale * w.get(g0 + i));
            }
          }
        char what[120];
        std::snprintf(what, sizeof what, "gated_rmsnorm %s dim=%d group=%d", dtype_name(dtype), dim, group);
        CHECK_EQ(tf_gated_rmsnorm(out.data(), x.data(), z.data(), w.data(), rows, dim, group, 1e-5f, dtype, nullptr), 0);
        expect_within(what, out.values(), ref, mag, 2 * unit_roundoff(dtype), 1e-5);
        CHECK_EQ(tf_gated_rmsnorm(x.data(), x.data(), z.data(), w.data(), rows, dim, group, 1e-5f, dtype, nullptr), 0);
        expect_within(std::string(what) + " in place over x", x.values(), ref, mag, 2 * unit_roundoff(dtype), 1e-5);
      }
}
