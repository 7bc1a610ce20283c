// emu_selftest_fp16: the emulator's __half / __nv_bfloat16 conversions are bit-exact
// round-to-nearest-even, checked against the CPU's F16C instruction (vcvtps2ph, IEEE binary16
// with round-to-nearest-even) and against the test framework's own double-based converters.
#include <immintrin.h>

#include <cstring>
#include <vector>

#include "tf_device.cuh"
#include "tf_test.h"

namespace {

__attribute__((target("f16c"))) uint16_t f16c_convert(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}

float from_bits(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

// Floats worth testing: all halves and the midpoints between neighbours (the ties), their
// neighbours one float ulp away, around the subnormal and overflow boundaries, plus random bits.
std::vector<float> interesting_floats() {
  std::vector<float> v;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float a = tf_test::f16_to_f32(uint16_t(h));
    if (std::isnan(a) || std::isinf(a)) continue;
    v.push_back(a);
    const float b = tf_test::f16_to_f32(uint16_t(h + 1));
    if (!std::isnan(b) && !std::isinf(b) && (h & 0x7FFF) != 0x7BFF) {
      const float mid = float((double(a) + double(b)) / 2);  // exact in float
      v.push_back(mid);
      v.push_back(std::nextafter(mid, 0.f));
      v.push_back(std::nextafter(mid, INFINITY));
      v.push_back(std::nextafter(mid, -INFINITY));
    }
  }
  for (float f : {65504.f, 65519.f, 65520.f, 65536.f, 1e10f, 0x1p-24f, 0x1p-25f, 0x1.8p-25f, 0x1p-26f, 1e-30f, 0.f, -0.f})
    { v.push_back(f); v.push_back(-f); }
  tf_test::Rng rng(5);
  for (int i = 0; i < 200000; ++i) {
    const float f = from_bits(uint32_t(rng.next()));
    if (!std::isnan(f)) v.push_back(f);
  }
  return v;
}

TF_TEST(float_to_half_matches_f16c_and_reference) {
  if (!__builtin_cpu_supports("f16c")) { std::printf("  (no F16C: reference only)\n"); }
  const bool f16c = __builtin_cpu_supports("f16c");
  int bad = 0;
  for (float f : interesting_floats()) {
    const uint16_t got = __half_as_ushort(__float2half(f));
    const uint16_t ref = tf_test::f32_to_f16(f);
    const uint16_t hw = f16c ? f16c_convert(f) : ref;
    if ((got != ref || got != hw) && bad++ < 5)
      std::fprintf(stderr, "  float %a: emu 0x%04x reference 0x%04x f16c 0x%04x\n", double(f), got, ref, hw);
  }
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(__half_as_ushort(__float2half(NAN)), 0x7FFF);  // CUDA's canonical NaN
}

TF_TEST(half_to_float_is_exact_for_all_halves) {
  int bad = 0;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float got = __half2float(__ushort_as_half(uint16_t(h)));
    const float ref = tf_test::f16_to_f32(uint16_t(h));
    if (!(got == ref || (std::isnan(got) && std::isnan(ref))) || std::signbit(got) != std::signbit(ref)) bad++;
  }
  EXPECT_EQ(bad, 0);
}

TF_TEST(float_to_bf16_round_to_nearest_even) {
  int bad = 0;
  tf_test::Rng rng(9);
  for (int i = 0; i < 400000; ++i) {
    uint32_t u = uint32_t(rng.next());
    if (i % 4 == 1) u = (u & 0xFFFF0000u) | 0x8000u;  // exact ties
    if (i % 4 == 2) u = (u & 0xFFFF0000u) | 0x7FFFu;  // just below a tie
    const float f = from_bits(u);
    if (std::isnan(f)) continue;
    // Independent reference: pick the nearer of the two bf16 neighbours in double, ties to even.
    const uint32_t down = u & 0xFFFF0000u;
    const double lo = from_bits(down);
    // Above the largest bf16 the next "neighbour" is 2^128 (which rounds to infinity).
    const double hi = (down & 0x7FFFFFFFu) == 0x7F7F0000u ? std::copysign(0x1p128, double(f)) : from_bits(down + 0x10000u);
    const double dl = std::fabs(double(f) - lo), dh = std::fabs(hi - double(f));
    uint16_t ref = uint16_t(down >> 16);
    if (dh < dl || (dh == dl && (ref & 1))) ref = uint16_t(ref + 1);
    const uint16_t got = __bfloat16_as_ushort(__float2bfloat16(f));
    if (got != ref && bad++ < 5) std::fprintf(stderr, "  bf16 of %a: got 0x%04x want 0x%04x\n", double(f), got, ref);
    if (got != tf_test::f32_to_bf16(f)) bad++;
  }
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(__bfloat16_as_ushort(__float2bfloat16(NAN)), 0x7FFF);
}

TF_TEST(pair_helpers_keep_cuda_layout) {
  const __half2 h = __floats2half2_rn(1.0f, -2.0f);
  uint32_t bits;
  std::memcpy(&bits, &h, 4);
  EXPECT_EQ(bits, 0xC0003C00u);  // x in the low half, y in the high half
  const float2 back = __half22float2(h);
  EXPECT(back.x == 1.0f && back.y == -2.0f);
  const __nv_bfloat162 b = __floats2bfloat162_rn(1.0f, 3.0f);
  std::memcpy(&bits, &b, 4);
  EXPECT_EQ(bits, 0x40403F80u);
  const float2 bb = __bfloat1622float2(b);
  EXPECT(bb.x == 1.0f && bb.y == 3.0f);
}

TF_TEST(half_arithmetic_rounds_once) {
  // 2049 is not a half; 2048 + 1 must round to even (2048), 2048 + 3 to 2052.
  EXPECT_EQ(float(__hadd(__float2half(2048.f), __float2half(1.f))), 2048.f);
  EXPECT_EQ(float(__hadd(__float2half(2048.f), __float2half(3.f))), 2052.f);
  EXPECT_EQ(float(__hmul(__float2half(3.f), __float2half(5.f))), 15.f);
}

}  // namespace
