// tf_device.cuh (emulated twin): the portable CUDA dialect for the host build of native/kernels.
//
// native/cuda/tf_device.cuh is the real one (CUDA headers + inline PTX); this file provides the
// same names on the host so the kernel source compiles unchanged with g++ and runs on the
// emulator runtime (see tf_emu_runtime.h and README.md). No CUDA header is included here.
// Built-ins that synchronise take a defaulted std::source_location, so the emulator's errors
// (divergent barrier, mismatched masks, deadlock) name the kernel's source line.
#pragma once
#ifndef TF_EMU
#define TF_EMU 1
#endif
#ifndef __CUDA_EMU__
#define __CUDA_EMU__ 1
#endif

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "tf_emu_fp16.h"
#include "tf_emu_runtime.h"
#include "tf_emu_vector_types.h"

// ---- keywords ---------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __constant__ static const
// Static shared memory: one copy per OS thread, shared by the fibers of the block running there.
#ifdef __shared__
#undef __shared__
#endif
#define __shared__ static thread_local
// (__restrict__ is already a g++ keyword; __noinline__ is left alone: libstdc++ uses that name.)

// Dynamic shared memory: `TF_DYNAMIC_SHARED(float, smem);` declares `float* smem`.
#define TF_DYNAMIC_SHARED(T, name) T* name = reinterpret_cast<T*>(::tf_emu::dynamic_shared())

// ---- indices ----------------------------------------------------------------------------------
#define threadIdx (::tf_emu::current_index()->thread_idx)
#define blockIdx (::tf_emu::current_index()->block_idx)
#define blockDim (::tf_emu::current_index()->block_dim)
#define gridDim (::tf_emu::current_index()->grid_dim)
constexpr int warpSize = 32;

// ---- synchronisation --------------------------------------------------------------------------
inline void __syncthreads(const std::source_location& loc = std::source_location::current()) {
  ::tf_emu::block_barrier(loc);
}
inline void __syncwarp(unsigned mask = 0xffffffffu,
                       const std::source_location& loc = std::source_location::current()) {
  ::tf_emu::LaneIn in;
  ::tf_emu::LaneOut out;
  ::tf_emu::warp_collective(::tf_emu::WarpOp::SyncWarp, mask, in, out, loc);
}
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_signal_fence(std::memory_order_seq_cst); }

// ---- warp shuffles and votes ------------------------------------------------------------------
namespace tf_emu {
template <typename T>
inline T shuffle(WarpOp op, unsigned mask, T var, int arg, int width, const Loc& loc) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "shuffle of a 1..8 byte value");
  LaneIn in;
  std::memcpy(&in.value, &var, sizeof(T));
  in.arg = arg;
  in.width = width;
  LaneOut out;
  warp_collective(op, mask, in, out, loc);
  T r;
  std::memcpy(&r, &out.value, sizeof(T));
  return r;
}
}  // namespace tf_emu

template <typename T>
inline T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize,
                     const std::source_location& loc = std::source_location::current()) {
  return ::tf_emu::shuffle(::tf_emu::WarpOp::Shfl, mask, var, src_lane, width, loc);
}
template <typename T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                        const std::source_location& loc = std::source_location::current()) {
  return ::tf_emu::shuffle(::tf_emu::WarpOp::ShflUp, mask, var, static_cast<int>(delta), width, loc);
}
template <typename T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                          const std::source_location& loc = std::source_location::current()) {
  return ::tf_emu::shuffle(::tf_emu::WarpOp::ShflDown, mask, var, static_cast<int>(delta), width, loc);
}
template <typename T>
inline T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize,
                         const std::source_location& loc = std::source_location::current()) {
  return ::tf_emu::shuffle(::tf_emu::WarpOp::ShflXor, mask, var, lane_mask, width, loc);
}
inline unsigned __ballot_sync(unsigned mask, int pred,
                              const std::source_location& loc = std::source_location::current()) {
  return ::tf_emu::shuffle(::tf_emu::WarpOp::Ballot, mask, unsigned(pred != 0), 0, 32, loc);
}
inline int __any_sync(unsigned mask, int pred,
                      const std::source_location& loc = std::source_location::current()) {
  return static_cast<int>(::tf_emu::shuffle(::tf_emu::WarpOp::Any, mask, unsigned(pred != 0), 0, 32, loc));
}
inline int __all_sync(unsigned mask, int pred,
                      const std::source_location& loc = std::source_location::current()) {
  return static_cast<int>(::tf_emu::shuffle(::tf_emu::WarpOp::All, mask, unsigned(pred != 0), 0, 32, loc));
}

// ---- atomics (blocks run on several OS threads, so these are real atomics) -------------------
template <typename T>
inline T __tf_emu_atomic_add(T* address, T val) {
  return std::atomic_ref<T>(*address).fetch_add(val, std::memory_order_relaxed);
}
inline float atomicAdd(float* a, float v) { return __tf_emu_atomic_add(a, v); }
inline int atomicAdd(int* a, int v) { return __tf_emu_atomic_add(a, v); }
inline unsigned atomicAdd(unsigned* a, unsigned v) { return __tf_emu_atomic_add(a, v); }
inline unsigned long long atomicAdd(unsigned long long* a, unsigned long long v) { return __tf_emu_atomic_add(a, v); }
inline int atomicSub(int* a, int v) { return __tf_emu_atomic_add(a, -v); }
inline int atomicMax(int* a, int v) {
  std::atomic_ref<int> r(*a);
  int old = r.load(std::memory_order_relaxed);
  while (old < v && !r.compare_exchange_weak(old, v, std::memory_order_relaxed)) {}
  return old;
}
inline int atomicMin(int* a, int v) {
  std::atomic_ref<int> r(*a);
  int old = r.load(std::memory_order_relaxed);
  while (old > v && !r.compare_exchange_weak(old, v, std::memory_order_relaxed)) {}
  return old;
}
inline unsigned atomicMax(unsigned* a, unsigned v) {
  std::atomic_ref<unsigned> r(*a);
  unsigned old = r.load(std::memory_order_relaxed);
  while (old < v && !r.compare_exchange_weak(old, v, std::memory_order_relaxed)) {}
  return old;
}
template <typename T>
inline T __tf_emu_atomic_cas(T* a, T compare, T val) {
  std::atomic_ref<T>(*a).compare_exchange_strong(compare, val, std::memory_order_relaxed);
  return compare;  // the old value, as CUDA returns
}
inline int atomicCAS(int* a, int c, int v) { return __tf_emu_atomic_cas(a, c, v); }
inline unsigned atomicCAS(unsigned* a, unsigned c, unsigned v) { return __tf_emu_atomic_cas(a, c, v); }
inline unsigned long long atomicCAS(unsigned long long* a, unsigned long long c, unsigned long long v) {
  return __tf_emu_atomic_cas(a, c, v);
}
inline int atomicExch(int* a, int v) { return std::atomic_ref<int>(*a).exchange(v); }
inline unsigned atomicExch(unsigned* a, unsigned v) { return std::atomic_ref<unsigned>(*a).exchange(v); }
inline float atomicExch(float* a, float v) { return std::atomic_ref<float>(*a).exchange(v); }

// ---- math and bit intrinsics ------------------------------------------------------------------
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __sinf(float x) { return std::sin(x); }
inline float __cosf(float x) { return std::cos(x); }
inline float __powf(float x, float y) { return std::pow(x, y); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __saturatef(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float exp10f(float x) { return std::pow(10.0f, x); }
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline unsigned __brev(unsigned x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0F0F0F0Fu) | ((x & 0x0F0F0F0Fu) << 4);
  return __builtin_bswap32(x);
}
template <typename T> inline T __ldg(const T* p) { return *p; }
// CUDA's min/max accept mixed integer and floating operands.
template <typename A, typename B>
inline std::common_type_t<A, B> min(A a, B b) { using C = std::common_type_t<A, B>; return C(b) < C(a) ? C(b) : C(a); }
template <typename A, typename B>
inline std::common_type_t<A, B> max(A a, B b) { using C = std::common_type_t<A, B>; return C(a) < C(b) ? C(b) : C(a); }

// ---- tensor-core and async-copy wrappers (warp collectives, PTX ISA fragment layouts) ---------
namespace tf {

inline void mma_m16n8k16_f16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], const float (&c)[4],
                             const std::source_location& loc = std::source_location::current()) {
  ::tf_emu::LaneIn in;
  std::memcpy(in.a, a, sizeof(in.a));
  std::memcpy(in.b, b, sizeof(in.b));
  std::memcpy(in.c, c, sizeof(in.c));
  ::tf_emu::LaneOut out;
  ::tf_emu::warp_collective(::tf_emu::WarpOp::MmaF16, 0xffffffffu, in, out, loc);
  std::memcpy(d, out.d, sizeof(out.d));
}
inline void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], const float (&c)[4],
                              const std::source_location& loc = std::source_location::current()) {
  ::tf_emu::LaneIn in;
  std::memcpy(in.a, a, sizeof(in.a));
  std::memcpy(in.b, b, sizeof(in.b));
  std::memcpy(in.c, c, sizeof(in.c));
  ::tf_emu::LaneOut out;
  ::tf_emu::warp_collective(::tf_emu::WarpOp::MmaBf16, 0xffffffffu, in, out, loc);
  std::memcpy(d, out.d, sizeof(out.d));
}

namespace detail {
template <int N>
inline void ldmatrix(::tf_emu::WarpOp op, uint32_t (&r)[N], const void* smem_row, const std::source_location& loc) {
  ::tf_emu::LaneIn in;
  in.ptr = smem_row;
  ::tf_emu::LaneOut out;
  ::tf_emu::warp_collective(op, 0xffffffffu, in, out, loc);
  for (int i = 0; i < N; ++i) r[i] = out.r[i];
}
}  // namespace detail

inline void ldmatrix_x1(uint32_t (&r)[1], const void* p, const std::source_location& loc = std::source_location::current()) {
  detail::ldmatrix(::tf_emu::WarpOp::Ldm1, r, p, loc);
}
inline void ldmatrix_x2(uint32_t (&r)[2], const void* p, const std::source_location& loc = std::source_location::current()) {
  detail::ldmatrix(::tf_emu::WarpOp::Ldm2, r, p, loc);
}
inline void ldmatrix_x4(uint32_t (&r)[4], const void* p, const std::source_location& loc = std::source_location::current()) {
  detail::ldmatrix(::tf_emu::WarpOp::Ldm4, r, p, loc);
}
inline void ldmatrix_x1_trans(uint32_t (&r)[1], const void* p, const std::source_location& loc = std::source_location::current()) {
  detail::ldmatrix(::tf_emu::WarpOp::Ldm1T, r, p, loc);
}
inline void ldmatrix_x2_trans(uint32_t (&r)[2], const void* p, const std::source_location& loc = std::source_location::current()) {
  detail::ldmatrix(::tf_emu::WarpOp::Ldm2T, r, p, loc);
}
inline void ldmatrix_x4_trans(uint32_t (&r)[4], const void* p, const std::source_location& loc = std::source_location::current()) {
  detail::ldmatrix(::tf_emu::WarpOp::Ldm4T, r, p, loc);
}

inline void cp_async_16(void* smem_dst, const void* gmem_src,
                        const std::source_location& loc = std::source_location::current()) {
  ::tf_emu::cp_async_issue(smem_dst, gmem_src, true, loc);
}
inline void cp_async_16_zfill(void* smem_dst, const void* gmem_src, bool valid,
                              const std::source_location& loc = std::source_location::current()) {
  ::tf_emu::cp_async_issue(smem_dst, gmem_src, valid, loc);
}
inline void cp_async_commit() { ::tf_emu::cp_async_commit(); }
template <int N>
inline void cp_async_wait() { ::tf_emu::cp_async_wait(N); }

}  // namespace tf

// ---- launch -----------------------------------------------------------------------------------
// Runs the whole grid before returning; returns 0 or a nonzero code (the error is printed).
// Template kernels go in parentheses: TF_LAUNCH((attention_kernel<64, __half>), grid, ...).
#define TF_LAUNCH(kernel, grid, block, smem_bytes, stream, ...)                                   \
  ((void)(stream), ::tf_emu::launch_kernel(#kernel, kernel, dim3(grid), dim3(block),              \
                                           static_cast<size_t>(smem_bytes), __FILE__, __LINE__,    \
                                           ##__VA_ARGS__))
#define TF_LAUNCH_KERNEL TF_LAUNCH
