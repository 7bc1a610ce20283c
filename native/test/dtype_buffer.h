// dtype_buffer.h: host buffers of one kernel dtype for the emulated kernel tests.
#pragma once
#include "tf_test.h"
#include "transfuse.h"

#include <cstdint>
#include <cstring>
#include <vector>

// A device-like buffer of one dtype (TF_DTYPE_*): set() rounds to the type, get() widens exactly.
// On the emulator "device memory" is host memory, so kernels get data() directly.
struct DBuf {
  int dtype;
  size_t n;
  std::vector<uint8_t> bytes;  // operator new storage: 16-byte aligned
  DBuf(int dt, size_t count) : dtype(dt), n(count), bytes(count * esize(dt) + 16, 0) {}
  static size_t esize(int dt) { return dt == TF_DTYPE_F32 ? 4 : 2; }
  void* data() { return bytes.data(); }
  float get(size_t i) const {
    if (dtype == TF_DTYPE_F32) { float f; std::memcpy(&f, &bytes[i * 4], 4); return f; }
    uint16_t h; std::memcpy(&h, &bytes[i * 2], 2);
    return dtype == TF_DTYPE_F16 ? tf_test::f16_to_f32(h) : tf_test::bf16_to_f32(h);
  }
  void set(size_t i, float v) {
    if (dtype == TF_DTYPE_F32) { std::memcpy(&bytes[i * 4], &v, 4); return; }
    const uint16_t h = dtype == TF_DTYPE_F16 ? tf_test::f32_to_f16(v) : tf_test::f32_to_bf16(v);
    std::memcpy(&bytes[i * 2], &h, 2);
  }
  std::vector<float> values() const { std::vector<float> v(n); for (size_t i = 0; i < n; ++i) v[i] = get(i); return v; }
};
// Fills with random values (rounded to the dtype) and returns them widened.
inline void fill(DBuf& b, uint64_t seed, float lo, float hi) {
  tf_test::Rng r(seed);
  for (size_t i = 0; i < b.n; ++i) b.set(i, r.uniform(lo, hi));
}
// Unit roundoff of each type: fp32 2^-24, fp16 2^-11, bf16 2^-8 (a correctly rounded store is off
// by at most this relative amount).
inline double unit_roundoff(int dt) { return dt == TF_DTYPE_F32 ? 0x1p-24 : dt == TF_DTYPE_F16 ? 0x1p-11 : 0x1p-8; }
inline const char* dtype_name(int dt) { return dt == TF_DTYPE_F32 ? "f32" : dt == TF_DTYPE_F16 ? "f16" : "bf16"; }
constexpr int kDtypes[] = {TF_DTYPE_F32, TF_DTYPE_F16, TF_DTYPE_BF16};

// Bits of x rounded to a 16-bit kernel dtype (TF_DTYPE_F16 or TF_DTYPE_BF16), and back.
inline uint16_t to_bits(int dt, float x) { return dt == TF_DTYPE_F16 ? tf_test::f32_to_f16(x) : tf_test::f32_to_bf16(x); }
inline float from_bits(int dt, uint16_t b) { return dt == TF_DTYPE_F16 ? tf_test::f16_to_f32(b) : tf_test::bf16_to_f32(b); }
