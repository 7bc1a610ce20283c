// tf_test.h: the mini test framework of the native tests (one test file = one executable).
//
//   TF_TEST(softmax_rows) { ...; CHECK(x); EXPECT_EQ(a, b); expect_close("shape ...", got, ref, n, atol, rtol); }
//
// CHECK stops the current test on failure, EXPECT records it and goes on. main() (defined here
// unless TF_TEST_NO_MAIN) runs every registered test, or those whose name contains argv[1], and
// prints "N passed, N failed"; the exit status is nonzero when any test failed.
// Also: deterministic random fills (seeded; same numbers on every machine) and host
// fp16 / bf16 <-> float conversions (round to nearest even), independent of the emulator's.
#pragma once
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

namespace tf_test {

struct TestCase { const char* name; void (*fn)(); };
inline std::vector<TestCase>& registry() { static std::vector<TestCase> r; return r; }
inline bool register_test(const char* name, void (*fn)()) { registry().push_back({name, fn}); return true; }
inline int& current_failures() { static int n = 0; return n; }

inline void fail(const char* file, int line, const std::string& what) {
  std::fprintf(stderr, "  FAIL %s:%d: %s\n", file, line, what.c_str());
  ++current_failures();
}

template <typename T> std::string show(const T& v) {
  if constexpr (std::is_floating_point_v<T>) { char b[64]; std::snprintf(b, sizeof b, "%.9g", double(v)); return b; }
  else if constexpr (std::is_integral_v<T>) return std::to_string(v);
  else if constexpr (std::is_convertible_v<T, std::string>) return std::string(v);
  else return "?";
}

// ---- deterministic random numbers (splitmix64) ----
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull) {}
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return double(next() >> 11) * 0x1p-53; }                 // [0, 1)
  float uniform(float lo, float hi) { return float(lo + (hi - lo) * uniform()); }
  float normal() {                                                             // Box-Muller
    double u1 = uniform(), u2 = uniform();
    return float(std::sqrt(-2.0 * std::log(u1 + 1e-300)) * std::cos(6.283185307179586 * u2));
  }
  uint32_t below(uint32_t n) { return uint32_t(next() % n); }
};
inline void fill_uniform(float* p, size_t n, uint64_t seed, float lo = -1.f, float hi = 1.f) {
  Rng r(seed); for (size_t i = 0; i < n; ++i) p[i] = r.uniform(lo, hi);
}
inline void fill_normal(float* p, size_t n, uint64_t seed, float scale = 1.f) {
  Rng r(seed); for (size_t i = 0; i < n; ++i) p[i] = scale * r.normal();
}
inline std::vector<float> random_uniform(size_t n, uint64_t seed, float lo = -1.f, float hi = 1.f) {
  std::vector<float> v(n); fill_uniform(v.data(), n, seed, lo, hi); return v;
}

// ---- fp16 / bf16 on the host (round to nearest even, exact via double) ----
inline uint16_t f32_to_f16(float f) {
  if (std::isnan(f)) return 0x7FFF;
  const uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  const double a = std::fabs(double(f));
  if (a >= 65520.0) return sign | 0x7C00;
  if (a < 0x1p-14) return sign | uint16_t(std::nearbyint(a * 0x1p24));   // subnormal step 2^-24
  int e; std::frexp(a, &e);
  const uint32_t m = uint32_t(std::nearbyint(std::ldexp(a, 11 - e)));    // 11 significant bits
  return sign | uint16_t(((e - 1 + 15) << 10) + (m - 1024));
}
inline float f16_to_f32(uint16_t h) {
  const int exp = (h >> 10) & 31, man = h & 1023;
  double v;
  if (exp == 31) v = man ? NAN : INFINITY;
  else if (exp == 0) v = std::ldexp(double(man), -24);
  else v = std::ldexp(double(1024 + man), exp - 25);
  return float((h & 0x8000) ? -v : v);
}
inline uint16_t f32_to_bf16(float f) {
  if (std::isnan(f)) return 0x7FFF;
  uint32_t u; std::memcpy(&u, &f, 4);
  const uint32_t lower = u & 0xFFFF, upper = u >> 16;
  if (lower > 0x8000 || (lower == 0x8000 && (upper & 1))) return uint16_t(upper + 1);
  return uint16_t(upper);
}
inline float bf16_to_f32(uint16_t b) { uint32_t u = uint32_t(b) << 16; float f; std::memcpy(&f, &u, 4); return f; }
// Round a float to the nearest fp16 / bf16 value (as a float): for building references.
inline float round_f16(float f) { return f16_to_f32(f32_to_f16(f)); }
inline float round_bf16(float f) { return bf16_to_f32(f32_to_bf16(f)); }

// ---- comparisons ----
// Passes when |got - ref| <= atol + rtol * |ref| everywhere. On failure prints the worst element
// (index, values, error), how many elements failed, and `what` (say shape and flags in it).
template <typename G, typename R>
inline bool expect_close(const std::string& what, const G* got, const R* ref, size_t n, double atol, double rtol,
                         const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  size_t bad = 0, worst = 0;
  double worst_excess = -1;
  for (size_t i = 0; i < n; ++i) {
    const double g = double(got[i]), r = double(ref[i]);
    const double tol = atol + rtol * std::fabs(r);
    const double err = std::fabs(g - r);
    const bool ok = err <= tol || (std::isnan(g) && std::isnan(r)) || (std::isinf(r) && g == r);
    const double excess = ok ? err - tol : (std::isnan(err) ? INFINITY : err - tol);
    if (!ok) ++bad;
    if (!ok && (worst_excess < 0 || excess > worst_excess || bad == 1)) { worst_excess = excess; worst = i; }
  }
  if (bad == 0) return true;
  char buf[512];
  std::snprintf(buf, sizeof buf, "%s: %zu of %zu elements off; worst [%zu] got %.9g want %.9g (|err| %.3g, atol %.3g, rtol %.3g)",
                what.c_str(), bad, n, worst, double(got[worst]), double(ref[worst]),
                std::fabs(double(got[worst]) - double(ref[worst])), atol, rtol);
  fail(file, line, buf);
  return false;
}
template <typename G, typename R>
inline bool expect_close(const std::string& what, const std::vector<G>& got, const std::vector<R>& ref, double atol,
                         double rtol, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  if (got.size() != ref.size()) { fail(file, line, what + ": size mismatch"); return false; }
  return expect_close(what, got.data(), ref.data(), got.size(), atol, rtol, file, line);
}

}  // namespace tf_test

// The helpers are usable unqualified in test files.
using tf_test::expect_close;
using tf_test::fill_normal;
using tf_test::fill_uniform;
using tf_test::random_uniform;
using tf_test::f32_to_f16;
using tf_test::f16_to_f32;
using tf_test::f32_to_bf16;
using tf_test::bf16_to_f32;
using tf_test::round_f16;
using tf_test::round_bf16;

#define TF_TEST(name)                                                                     \
  static void tf_test_fn_##name();                                                        \
  static const bool tf_test_registered_##name = ::tf_test::register_test(#name, tf_test_fn_##name); \
  static void tf_test_fn_##name()

#define EXPECT(cond) do { if (!(cond)) ::tf_test::fail(__FILE__, __LINE__, "EXPECT(" #cond ")"); } while (0)
#define CHECK(cond) do { if (!(cond)) { ::tf_test::fail(__FILE__, __LINE__, "CHECK(" #cond ")"); return; } } while (0)
#define EXPECT_EQ(a, b) do { auto tf_a_ = (a); auto tf_b_ = (b); if (!(tf_a_ == tf_b_)) \
  ::tf_test::fail(__FILE__, __LINE__, std::string("EXPECT_EQ(" #a ", " #b "): ") + ::tf_test::show(tf_a_) + " vs " + ::tf_test::show(tf_b_)); } while (0)
#define CHECK_EQ(a, b) do { auto tf_a_ = (a); auto tf_b_ = (b); if (!(tf_a_ == tf_b_)) { \
  ::tf_test::fail(__FILE__, __LINE__, std::string("CHECK_EQ(" #a ", " #b "): ") + ::tf_test::show(tf_a_) + " vs " + ::tf_test::show(tf_b_)); return; } } while (0)

#ifndef TF_TEST_NO_MAIN
#ifdef TF_TEST_GPU
// The GPU build of these tests (TRANSFUSE_GPU_TESTS): managed memory and synchronous launches
// (gpu_test_memory.cu), so host pointers reach the kernels as on the emulator.
void tf_test_gpu_init();
#endif
int main(int argc, char** argv) {
#ifdef TF_TEST_GPU
  tf_test_gpu_init();
#endif
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int passed = 0, failed = 0;
  for (const auto& t : ::tf_test::registry()) {
    if (filter && !std::strstr(t.name, filter)) continue;
    ::tf_test::current_failures() = 0;
    const auto t0 = std::chrono::steady_clock::now();
    t.fn();
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const bool ok = ::tf_test::current_failures() == 0;
    std::printf("%s %s (%.1f ms)\n", ok ? "PASS" : "FAIL", t.name, ms);
    std::fflush(stdout);
    (ok ? passed : failed)++;
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 && passed > 0 ? 0 : 1;
}
#endif
