// tf_emu_fp16.h: host implementation of CUDA's __half and __nv_bfloat16 for the emulated build.
//
// Why our own: the emulated build must not include CUDA headers, and the conversions must be
// bit-exact with the GPU (round-to-nearest-even; NaN becomes the canonical 0x7FFF as in CUDA),
// otherwise emulated results would drift from device results in the last bit.
// Storage layout matches CUDA: 2 bytes per scalar, pairs are {x (low half), y (high half)},
// so kernels may type-pun __half2 <-> uint32_t as they do on the GPU.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "tf_emu_vector_types.h"

namespace tf_emu {

inline uint32_t float_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float bits_float(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

// float -> binary16, round to nearest even. Works on the bit pattern:
//  - normal results: add the rounding bias below bit 13 (0xFFF, +1 if the kept lsb is odd, which
//    turns exact ties into round-to-even), then rebias the exponent from 127 to 15;
//  - subnormal results (|f| < 2^-14): adding 0.5f aligns f to a float whose ulp is 2^-24, the
//    binary16 subnormal step, so the FPU's own round-to-nearest-even does the rounding.
inline uint16_t float_to_half_bits(float f) {
  uint32_t x = float_bits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  x &= 0x7FFFFFFFu;
  if (x > 0x7F800000u) return 0x7FFF;                    // NaN: canonical, like CUDA
  if (x >= 0x477FF000u) return sign | 0x7C00u;           // >= 65520 rounds to infinity
  if (x < 0x38800000u) {                                 // below 2^-14: subnormal or zero
    const float aligned = bits_float(x) + 0.5f;
    return sign | static_cast<uint16_t>(float_bits(aligned) - float_bits(0.5f));
  }
  const uint32_t odd = (x >> 13) & 1u;
  x += 0x0FFFu + odd;
  x -= (127u - 15u) << 23;
  return sign | static_cast<uint16_t>(x >> 13);
}

// double -> binary16, round to nearest even (one rounding; used by the half arithmetic helpers
// whose exact double result must be rounded once, as the hardware does).
inline uint16_t double_to_half_bits(double d) {
  if (std::isnan(d)) return 0x7FFF;
  const uint16_t sign = std::signbit(d) ? 0x8000 : 0;
  const double a = std::fabs(d);
  if (a >= 65520.0) return sign | 0x7C00u;
  if (a < 0x1p-14) return sign | static_cast<uint16_t>(std::nearbyint(a * 0x1p24));
  int e;
  std::frexp(a, &e);                                      // a = f * 2^e, f in [0.5, 1)
  const int E = e - 1;                                    // a = m * 2^E, m in [1, 2)
  const uint32_t m = static_cast<uint32_t>(std::nearbyint(std::ldexp(a, 10 - E)));  // [1024, 2048]
  return sign | static_cast<uint16_t>(((E + 15) << 10) + (m - 1024));              // 2048 carries
}

inline float half_bits_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu;
  if (exp == 0x1F) return bits_float(sign | 0x7F800000u | (man << 13));
  if (exp == 0) {                                         // subnormal: man * 2^-24, exact in float
    const float v = static_cast<float>(man) * 0x1p-24f;
    return sign ? -v : v;
  }
  return bits_float(sign | ((exp + 127u - 15u) << 23) | (man << 13));
}

// float -> bfloat16, round to nearest even: add 0x7FFF (+1 if the kept lsb is odd) below bit 16.
inline uint16_t float_to_bf16_bits(float f) {
  uint32_t x = float_bits(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FFF;
  x += 0x7FFFu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}
inline uint16_t double_to_bf16_bits(double d) {
  // Round once from double: bf16 has 8 significant bits; go through float only when exact.
  const float f = static_cast<float>(d);
  if (static_cast<double>(f) == d || std::isnan(d)) return float_to_bf16_bits(f);
  // f was rounded; nudge toward d so a tie in float is not a tie in bf16 (sticky bit).
  uint32_t x = float_bits(f);
  const bool rounded_up = std::fabs(static_cast<double>(f)) > std::fabs(d);
  if ((x & 0xFFFFu) == 0x8000u) x += rounded_up ? -1 : 1;
  return float_to_bf16_bits(bits_float(x));
}
inline float bf16_bits_to_float(uint16_t b) { return bits_float(static_cast<uint32_t>(b) << 16); }

}  // namespace tf_emu

struct __half {
  uint16_t __x;
  __half() = default;
  __half(float f) : __x(tf_emu::float_to_half_bits(f)) {}
  __half(double d) : __x(tf_emu::double_to_half_bits(d)) {}
  __half(int i) : __x(tf_emu::double_to_half_bits(i)) {}
  operator float() const { return tf_emu::half_bits_to_float(__x); }
};
struct __half2 {
  __half x, y;
  __half2() = default;
  __half2(__half a, __half b) : x(a), y(b) {}
};
struct __nv_bfloat16 {
  uint16_t __x;
  __nv_bfloat16() = default;
  __nv_bfloat16(float f) : __x(tf_emu::float_to_bf16_bits(f)) {}
  __nv_bfloat16(double d) : __x(tf_emu::double_to_bf16_bits(d)) {}
  __nv_bfloat16(int i) : __x(tf_emu::double_to_bf16_bits(i)) {}
  operator float() const { return tf_emu::bf16_bits_to_float(__x); }
};
struct __nv_bfloat162 {
  __nv_bfloat16 x, y;
  __nv_bfloat162() = default;
  __nv_bfloat162(__nv_bfloat16 a, __nv_bfloat16 b) : x(a), y(b) {}
};
static_assert(sizeof(__half) == 2 && sizeof(__half2) == 4, "CUDA layout");
static_assert(sizeof(__nv_bfloat16) == 2 && sizeof(__nv_bfloat162) == 4, "CUDA layout");
typedef __half half;
typedef __half2 half2;
typedef __nv_bfloat16 nv_bfloat16;
typedef __nv_bfloat162 nv_bfloat162;

inline __half __ushort_as_half(unsigned short u) { __half h; h.__x = u; return h; }
inline unsigned short __half_as_ushort(__half h) { return h.__x; }
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short u) { __nv_bfloat16 h; h.__x = u; return h; }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 h) { return h.__x; }

inline __half __float2half(float f) { return __ushort_as_half(tf_emu::float_to_half_bits(f)); }
inline __half __float2half_rn(float f) { return __float2half(f); }
inline float __half2float(__half h) { return tf_emu::half_bits_to_float(h.__x); }
inline __nv_bfloat16 __float2bfloat16(float f) { return __ushort_as_bfloat16(tf_emu::float_to_bf16_bits(f)); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __float2bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 b) { return tf_emu::bf16_bits_to_float(b.__x); }

inline __half2 __floats2half2_rn(float a, float b) { return __half2(__float2half(a), __float2half(b)); }
inline __half2 __float2half2_rn(float a) { return __floats2half2_rn(a, a); }
inline __half2 __halves2half2(__half a, __half b) { return __half2(a, b); }
inline __nv_bfloat162 __floats2bfloat162_rn(float a, float b) {
  return __nv_bfloat162(__float2bfloat16(a), __float2bfloat16(b));
}
inline __nv_bfloat162 __float2bfloat162_rn(float a) { return __floats2bfloat162_rn(a, a); }
inline __nv_bfloat162 __halves2bfloat162(__nv_bfloat16 a, __nv_bfloat16 b) { return __nv_bfloat162(a, b); }
inline float2 __half22float2(__half2 h) { return float2{__half2float(h.x), __half2float(h.y)}; }
inline float2 __bfloat1622float2(__nv_bfloat162 h) { return float2{__bfloat162float(h.x), __bfloat162float(h.y)}; }
inline __half2 __float22half2_rn(float2 f) { return __floats2half2_rn(f.x, f.y); }
inline __nv_bfloat162 __float22bfloat162_rn(float2 f) { return __floats2bfloat162_rn(f.x, f.y); }
inline __half __low2half(__half2 h) { return h.x; }
inline __half __high2half(__half2 h) { return h.y; }
inline float __low2float(__half2 h) { return __half2float(h.x); }
inline float __high2float(__half2 h) { return __half2float(h.y); }
inline float __low2float(__nv_bfloat162 h) { return __bfloat162float(h.x); }
inline float __high2float(__nv_bfloat162 h) { return __bfloat162float(h.y); }

// Half arithmetic: exact in double, then one rounding (as the hardware rounds once).
inline __half __hadd(__half a, __half b) { return __ushort_as_half(tf_emu::double_to_half_bits(double(float(a)) + double(float(b)))); }
inline __half __hsub(__half a, __half b) { return __ushort_as_half(tf_emu::double_to_half_bits(double(float(a)) - double(float(b)))); }
inline __half __hmul(__half a, __half b) { return __ushort_as_half(tf_emu::double_to_half_bits(double(float(a)) * double(float(b)))); }
inline __half __hfma(__half a, __half b, __half c) {
  return __ushort_as_half(tf_emu::double_to_half_bits(double(float(a)) * double(float(b)) + double(float(c))));
}
inline __nv_bfloat16 __hadd(__nv_bfloat16 a, __nv_bfloat16 b) { return __ushort_as_bfloat16(tf_emu::double_to_bf16_bits(double(float(a)) + double(float(b)))); }
inline __nv_bfloat16 __hmul(__nv_bfloat16 a, __nv_bfloat16 b) { return __ushort_as_bfloat16(tf_emu::double_to_bf16_bits(double(float(a)) * double(float(b)))); }
inline __half2 __hadd2(__half2 a, __half2 b) { return __half2(__hadd(a.x, b.x), __hadd(a.y, b.y)); }
inline __half2 __hmul2(__half2 a, __half2 b) { return __half2(__hmul(a.x, b.x), __hmul(a.y, b.y)); }
