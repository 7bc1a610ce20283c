// emu_selective_scan.cpp: the Mamba-1 selective scan (prefill) and its single-token state update,
// on the emulator, against a double-precision reference written here with plain loops.
//
// Shapes cover sequence lengths that are not multiples of the 512-position chunk or of the 4-wide
// vector (1, 7, 129, 300, 512, 1030: 1030 crosses two chunk boundaries, so the carried state is
// tested), dstate 1, 5 and 16, n_groups 1 and 2, every dtype, and every flag (D, z, delta_bias,
// softplus, initial state, final state).
//
// Tolerances. Inputs are rounded to the dtype first and the reference runs in double from those
// values, so the dtype enters only through the output rounding; the state is fp32 in the kernel
// whatever the dtype, so its tolerance does not depend on the dtype.
//  - The kernel's state error comes from fp32 arithmetic: exp2f (a few ulp), softplus, and ~4 roundings
//    per step, each relative to the terms being added. Errors do not grow along the sequence because
//    every step multiplies the old state (and its error) by a = exp(dt A) <= 1. We bound it by
//    2e-5 * hmag, where hmag is the same recurrence run on absolute values (|a h| + |dt B u|): ~100
//    fp32 ulp of the largest contributing term, comfortably above the few-ulp drift, and 1e-3 of what a
//    wrong recurrence would change.
//  - y = sum_n h C + D u (times silu(z)): fp32 error 2e-5 * ymag (ymag = sum_n |h C| hmag-weighted +
//    |D u|), plus the final rounding to the dtype: 2u |y| with u = 2^-24 (fp32), 2^-11 (fp16), 2^-8
//    (bf16), i.e. one unit roundoff and a factor 2 for the double-rounded reference of a value that is
//    itself a rounding of an fp32 result. fp16 outputs below 2^-14 are subnormal, with an absolute
//    spacing of 2^-24, so fp16 outputs also get an absolute 2^-24 (one subnormal step).
#include "tf_test.h"
#include "transfuse.h"
#include "dtype_buffer.h"

#include <cmath>
#include <cstring>
#include <vector>


namespace {

// Absolute spacing of the subnormal outputs: fp16 has subnormals below 2^-14 in the range of y.
double subnormal_step(int dt) { return dt == TF_DTYPE_F16 ? 0x1p-24 : 0.0; }

enum Flags { kD = 1, kZ = 2, kBias = 4, kSoftplus = 8, kInit = 16, kAllFlags = 31 };

double softplus_ref(double x) { return x > 20 ? x : std::log1p(std::exp(x)); }
double silu_ref(double x) { return x / (1 + std::exp(-x)); }

struct ScanCase {
  int dtype, batch, dim, seqlen, dstate, n_groups, flags;
};

std::string describe(const char* kind, const ScanCase& c) {
  char b[200];
  std::snprintf(b, sizeof b, "%s %s batch=%d dim=%d seqlen=%d dstate=%d groups=%d D=%d z=%d bias=%d softplus=%d init=%d",
                kind, dtype_name(c.dtype), c.batch, c.dim, c.seqlen, c.dstate, c.n_groups, !!(c.flags & kD),
                !!(c.flags & kZ), !!(c.flags & kBias), !!(c.flags & kSoftplus), !!(c.flags & kInit));
  return b;
}

// Checks |got - ref| <= rtol |ref| + amag * mag + atol elementwise; reports the worst offender.
void expect_within(const std::string& what, const std::vector<float>& got, const std::vector<double>& ref,
                   const std::vector<double>& mag, double rtol, double amag, double atol = 0) {
  size_t bad = 0, worst = 0;
  double worst_ratio = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double tol = rtol * std::fabs(ref[i]) + amag * mag[i] + atol + 1e-30;
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
  DBuf u, delta, B, C, z;
  std::vector<float> A, D, bias, init;
  Inputs(const ScanCase& c, int L, uint64_t seed)
      : u(c.dtype, size_t(c.batch) * c.dim * L), delta(c.dtype, size_t(c.batch) * c.dim * L),
        B(c.dtype, size_t(c.batch) * c.n_groups * c.dstate * L), C(c.dtype, size_t(c.batch) * c.n_groups * c.dstate * L),
        z(c.dtype, size_t(c.batch) * c.dim * L) {
    fill(u, seed, -2.f, 2.f);
    // With softplus: raw dt_proj outputs around 0 and a bias of -4..-1 (Mamba's dt init); without:
    // dt itself, small and positive.
    if (c.flags & kSoftplus) fill(delta, seed + 1, -1.f, 1.f);
    else fill(delta, seed + 1, 0.001f, 0.2f);
    fill(B, seed + 2, -1.f, 1.f);
    fill(C, seed + 3, -1.f, 1.f);
    fill(z, seed + 4, -3.f, 3.f);
    tf_test::Rng r(seed + 5);
    A.resize(size_t(c.dim) * c.dstate);
    for (float& a : A) a = -std::exp(r.uniform(-1.f, 2.8f));  // -exp(A_log), |A| in ~[0.37, 16]
    D.resize(c.dim);
    for (float& d : D) d = r.uniform(-1.f, 1.f);
    bias.resize(c.dim);
    for (float& b : bias) b = (c.flags & kSoftplus) ? r.uniform(-4.f, -1.f) : r.uniform(0.f, 0.05f);
    init.resize(size_t(c.batch) * c.dim * c.dstate);
    for (float& h : init) h = r.uniform(-1.f, 1.f);
  }
};

// The reference recurrence for positions [0, L) of one (b, d) row; h and hmag carry the state.
void ref_steps(const ScanCase& c, const Inputs& in, int L, int b, int d, std::vector<double>& h, std::vector<double>& hmag,
               std::vector<double>& y, std::vector<double>& ymag) {
  const int g = d / (c.dim / c.n_groups), N = c.dstate;
  const size_t row = (size_t(b) * c.dim + d) * L;
  for (int l = 0; l < L; ++l) {
    double dt = in.delta.get(row + l) + ((c.flags & kBias) ? in.bias[d] : 0.0);
    if (c.flags & kSoftplus) dt = softplus_ref(dt);
    const double uu = in.u.get(row + l);
    double acc = 0, mag = 0;
    for (int n = 0; n < N; ++n) {
      const size_t bc = ((size_t(b) * c.n_groups + g) * N + n) * L + l;
      const double a = std::exp(dt * in.A[size_t(d) * N + n]);
      const double bb = dt * in.B.get(bc) * uu;
      h[n] = a * h[n] + bb;
      hmag[n] = a * hmag[n] + std::fabs(bb);
      acc += h[n] * in.C.get(bc);
      mag += hmag[n] * std::fabs(in.C.get(bc));
    }
    if (c.flags & kD) { acc += in.D[d] * uu; mag += std::fabs(in.D[d] * uu); }
    if (c.flags & kZ) { const double s = silu_ref(in.z.get(row + l)); acc *= s; mag *= std::fabs(s); }
    y[row + l] = acc;
    ymag[row + l] = mag;
  }
}

void run_scan(const ScanCase& c, uint64_t seed) {
  const int L = c.seqlen, N = c.dstate;
  Inputs in(c, L, seed);
  DBuf out(c.dtype, size_t(c.batch) * c.dim * L);
  fill(out, seed + 9, 100.f, 101.f);
  std::vector<float> final_state(size_t(c.batch) * c.dim * N, -999.f);
  std::vector<double> y(out.n), ymag(out.n), h_ref(final_state.size()), hmag_ref(final_state.size());
  for (int b = 0; b < c.batch; ++b)
    for (int d = 0; d < c.dim; ++d) {
      const size_t srow = (size_t(b) * c.dim + d) * N;
      std::vector<double> h(N), hmag(N);
      for (int n = 0; n < N; ++n) { h[n] = (c.flags & kInit) ? in.init[srow + n] : 0.0; hmag[n] = std::fabs(h[n]); }
      ref_steps(c, in, L, b, d, h, hmag, y, ymag);
      for (int n = 0; n < N; ++n) { h_ref[srow + n] = h[n]; hmag_ref[srow + n] = hmag[n]; }
    }
  const int err = tf_selective_scan(out.data(), final_state.data(), in.u.data(), in.delta.data(), in.A.data(), in.B.data(),
                                    in.C.data(), (c.flags & kD) ? in.D.data() : nullptr, (c.flags & kZ) ? in.z.data() : nullptr,
                                    (c.flags & kBias) ? in.bias.data() : nullptr, (c.flags & kInit) ? in.init.data() : nullptr,
                                    c.batch, c.dim, L, N, c.n_groups, (c.flags & kSoftplus) ? 1 : 0, c.dtype, nullptr);
  const std::string what = describe("scan", c);
  if (err) { tf_test::fail(__FILE__, __LINE__, what + ": launch error " + std::to_string(err)); return; }
  expect_within(what + " out", out.values(), y, ymag, 2 * unit_roundoff(c.dtype), 2e-5, subnormal_step(c.dtype));
  expect_within(what + " final_state", final_state, h_ref, hmag_ref, 0.0, 2e-5);
}

void run_step(const ScanCase& c, int steps, uint64_t seed, bool in_place = false) {
  // `steps` decode tokens, each a launch of the state update; inputs are laid out [..][L = steps] for
  // the reference and gathered per step into the [batch][dim] / [batch][groups][dstate] step layout.
  // in_place: out is x itself (transfuse.h allows it).
  const int N = c.dstate, T = steps;
  Inputs in(c, T, seed);
  std::vector<float> state(size_t(c.batch) * c.dim * N);
  for (size_t i = 0; i < state.size(); ++i) state[i] = (c.flags & kInit) ? in.init[i] : 0.f;
  std::vector<double> y(size_t(c.batch) * c.dim * T), ymag(y.size()), h_ref(state.size()), hmag_ref(state.size());
  for (int b = 0; b < c.batch; ++b)
    for (int d = 0; d < c.dim; ++d) {
      const size_t srow = (size_t(b) * c.dim + d) * N;
      std::vector<double> h(N), hmag(N);
      for (int n = 0; n < N; ++n) { h[n] = state[srow + n]; hmag[n] = std::fabs(h[n]); }
      ref_steps(c, in, T, b, d, h, hmag, y, ymag);
      for (int n = 0; n < N; ++n) { h_ref[srow + n] = h[n]; hmag_ref[srow + n] = hmag[n]; }
    }
  std::vector<float> got(y.size());
  const std::string what = describe(in_place ? "state_update in place" : "state_update", c);
  for (int t = 0; t < T; ++t) {
    DBuf x(c.dtype, size_t(c.batch) * c.dim), dl(c.dtype, x.n), z(c.dtype, x.n), out(c.dtype, x.n);
    DBuf B(c.dtype, size_t(c.batch) * c.n_groups * N), C(c.dtype, B.n);
    for (size_t i = 0; i < x.n; ++i) {
      x.set(i, in.u.get(i * T + t));
      dl.set(i, in.delta.get(i * T + t));
      z.set(i, in.z.get(i * T + t));
    }
    for (size_t i = 0; i < B.n; ++i) { B.set(i, in.B.get(i * T + t)); C.set(i, in.C.get(i * T + t)); }
    DBuf& y_buf = in_place ? x : out;
    const int err = tf_selective_state_update(y_buf.data(), state.data(), x.data(), dl.data(), in.A.data(), B.data(), C.data(),
                                              (c.flags & kD) ? in.D.data() : nullptr, (c.flags & kZ) ? z.data() : nullptr,
                                              (c.flags & kBias) ? in.bias.data() : nullptr, c.batch, c.dim, N, c.n_groups,
                                              (c.flags & kSoftplus) ? 1 : 0, c.dtype, nullptr);
    if (err) { tf_test::fail(__FILE__, __LINE__, what + ": launch error " + std::to_string(err)); return; }
    for (size_t i = 0; i < x.n; ++i) got[i * T + t] = y_buf.get(i);
  }
  expect_within(what + " out", got, y, ymag, 2 * unit_roundoff(c.dtype), 2e-5, subnormal_step(c.dtype));
  expect_within(what + " state", state, h_ref, hmag_ref, 0.0, 2e-5);
}

struct Layout { int batch, dim, n_groups; };
const Layout kLayouts[] = {{2, 4, 1}, {1, 6, 2}};
const int kSeqlens[] = {1, 7, 129, 300, 512, 1030};
const int kDStates[] = {16, 1, 5};

}  // namespace

// Every dtype x sequence length x layout, with the flags rotating through all 32 combinations and
// dstate through 16 / 1 / 5.
TF_TEST(scan_shapes_dtypes_rotating_flags) {
  uint64_t seed = 1;
  int k = 0;
  for (int dt : kDtypes)
    for (int L : kSeqlens)
      for (const Layout& lay : kLayouts) {
        const int flags = (k * 11 + 5) % 32, dstate = kDStates[k % 3];
        ++k;
        run_scan({dt, lay.batch, lay.dim, L, dstate, lay.n_groups, flags}, seed += 10);
      }
}

// All 32 flag combinations on one shape that crosses a chunk boundary, per dtype.
TF_TEST(scan_every_flag_combination) {
  uint64_t seed = 5000;
  for (int dt : kDtypes)
    for (int flags = 0; flags <= kAllFlags; ++flags) run_scan({dt, 1, 2, 600, 4, 2, flags}, seed += 10);
}

TF_TEST(scan_mamba_like_dstate16_long) {
  uint64_t seed = 9000;
  for (int dt : kDtypes) run_scan({dt, 1, 2, 2100, 16, 1, kD | kZ | kBias | kSoftplus}, seed += 10);
}

// The largest supported dstate (256: two carry entries per thread) and a mid-size one.
TF_TEST(scan_large_dstate) {
  uint64_t seed = 9500;
  run_scan({TF_DTYPE_F32, 1, 4, 70, 256, 2, kD | kZ | kInit}, seed += 10);
  run_scan({TF_DTYPE_BF16, 2, 2, 520, 64, 1, kBias | kSoftplus | kInit}, seed += 10);
}

TF_TEST(state_update_decode_steps) {
  uint64_t seed = 7000;
  int k = 0;
  for (int dt : kDtypes)
    for (int dstate : {16, 1, 40})  // 40: more states than lanes, the lane loop runs twice
      for (const Layout& lay : {Layout{2, 5, 1}, Layout{1, 12, 2}}) {
        const int flags = (k * 13 + 3) % 32;
        ++k;
        run_step({dt, lay.batch, lay.dim, 0, dstate, lay.n_groups, flags}, 5, seed += 10);
        run_step({dt, lay.batch, lay.dim, 0, dstate, lay.n_groups, flags ^ kAllFlags}, 3, seed += 10);
      }
}

// out == x (in place): every dtype, dstate below, at and above the warp width (one and two lane
// passes), with and without the D skip term (which uses x after the reduction that precedes the store).
TF_TEST(state_update_in_place) {
  uint64_t seed = 8000;
  for (int dt : kDtypes)
    for (int dstate : {1, 16, 40})
      for (int flags : {kD | kZ | kSoftplus | kInit, int(kBias), int(kAllFlags)})
        run_step({dt, 2, 12, 0, dstate, 2, flags}, 4, seed += 10, true);
}

TF_TEST(scan_zero_length_copies_initial_state) {
  const ScanCase c{TF_DTYPE_F32, 1, 2, 0, 3, 1, kInit};
  Inputs in(c, 1, 77);
  std::vector<float> fs(6, -1.f);
  CHECK_EQ(tf_selective_scan(nullptr, fs.data(), in.u.data(), in.delta.data(), in.A.data(), in.B.data(), in.C.data(), nullptr,
                             nullptr, nullptr, in.init.data(), 1, 2, 0, 3, 1, 0, TF_DTYPE_F32, nullptr), 0);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(fs[i], in.init[i]);
}

TF_TEST(scan_rejects_bad_arguments) {
  const ScanCase c{TF_DTYPE_F32, 1, 3, 4, 3, 1, 0};
  Inputs in(c, 4, 1);
  DBuf out(TF_DTYPE_F32, 12);
  // dim not divisible by n_groups
  EXPECT(tf_selective_scan(out.data(), nullptr, in.u.data(), in.delta.data(), in.A.data(), in.B.data(), in.C.data(), nullptr,
                           nullptr, nullptr, nullptr, 1, 3, 4, 3, 2, 0, TF_DTYPE_F32, nullptr) != 0);
  // dstate too large
  EXPECT(tf_selective_scan(out.data(), nullptr, in.u.data(), in.delta.data(), in.A.data(), in.B.data(), in.C.data(), nullptr,
                           nullptr, nullptr, nullptr, 1, 3, 4, 257, 1, 0, TF_DTYPE_F32, nullptr) != 0);
}
