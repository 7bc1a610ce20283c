// norm_elementwise_io.cuh: dtype conversion, vectorised loads/stores and warp/block sums shared by
// the elementwise and scan kernel families (norm, embedding, rope, glu, selective_scan, conv1d).
//
// What it holds
//   - to_f32 / from_f32<T>: fp32 <-> T for T in {float, __half, __nv_bfloat16}; round to nearest
//     even on the way down (the intrinsics, bit-exact between the GPU and the emulator).
//   - load_vec<V> / store_vec<V>: V consecutive elements of T as 16-byte accesses when V * sizeof(T)
//     is a multiple of 16, one 8- or 4-byte access when it is that size (the caller guarantees the
//     alignment), element by element otherwise.
//     Every kernel computes in fp32 registers: loads widen, stores round once.
//   - warp_sum / block_sum: butterfly shuffles, then one value per warp through shared memory.
//   - dtype codes (TF_DTYPE_*, as in transfuse.h) and the dispatch helper that turns one into T.
// Why one header: every family needs exactly these few lines; keeping one copy keeps the rounding
// rules identical across kernels.
#pragma once
#include "tf_device.cuh"
#include <stdint.h>

namespace tf_ew {

enum DType : int { kF32 = 0, kF16 = 1, kBF16 = 2 };

__device__ __forceinline__ float to_f32(float x) { return x; }
__device__ __forceinline__ float to_f32(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_f32(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T> __device__ __forceinline__ T from_f32(float x);
template <> __device__ __forceinline__ float from_f32<float>(float x) { return x; }
template <> __device__ __forceinline__ __half from_f32<__half>(float x) { return __float2half(x); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float x) { return __float2bfloat16(x); }

// x rounded to T and back: the value a T tensor would hold.
template <typename T> __device__ __forceinline__ float round_to(float x) { return to_f32(from_f32<T>(x)); }

// Raw storage of V elements of T with the natural access width (16, 8, 4 bytes) when one exists.
template <int BYTES> struct RawVec { unsigned char b[BYTES]; };
template <> struct RawVec<16> { uint4 b; };
template <> struct RawVec<8> { uint2 b; };
template <> struct RawVec<4> { uint32_t b; };

template <int V, typename T>
__device__ __forceinline__ void load_vec(const T* __restrict__ p, float (&out)[V]) {
  constexpr int kBytes = V * int(sizeof(T));
  if constexpr (kBytes % 16 == 0 || kBytes == 8 || kBytes == 4) {
    // One access per 16 bytes (or one 8- / 4-byte access): 8 fp32 values of x are two float4 loads.
    constexpr int kAccess = kBytes % 16 == 0 ? 16 : kBytes, kN = kBytes / kAccess;
    RawVec<kAccess> r[kN];
#pragma unroll
    for (int j = 0; j < kN; ++j) r[j].b = reinterpret_cast<const decltype(r[0].b)*>(p)[j];
    const T* e = reinterpret_cast<const T*>(r);
#pragma unroll
    for (int i = 0; i < V; ++i) out[i] = to_f32(e[i]);
  } else {
#pragma unroll
    for (int i = 0; i < V; ++i) out[i] = to_f32(p[i]);
  }
}

template <int V, typename T>
__device__ __forceinline__ void store_vec(T* __restrict__ p, const float (&in)[V]) {
  constexpr int kBytes = V * int(sizeof(T));
  if constexpr (kBytes % 16 == 0 || kBytes == 8 || kBytes == 4) {
    constexpr int kAccess = kBytes % 16 == 0 ? 16 : kBytes, kN = kBytes / kAccess;
    RawVec<kAccess> r[kN];
    T* e = reinterpret_cast<T*>(r);
#pragma unroll
    for (int i = 0; i < V; ++i) e[i] = from_f32<T>(in[i]);
#pragma unroll
    for (int j = 0; j < kN; ++j) reinterpret_cast<decltype(r[0].b)*>(p)[j] = r[j].b;
  } else {
#pragma unroll
    for (int i = 0; i < V; ++i) p[i] = from_f32<T>(in[i]);
  }
}

// Elements per 16-byte access.
template <typename T> constexpr int vec16() { return 16 / int(sizeof(T)); }

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the total.
// `scratch` is 32 floats of shared memory; the leading barrier makes back-to-back calls safe.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // the previous call's readers are done with scratch
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float t = lane < nwarps ? scratch[lane] : 0.f;
  return warp_sum(t);
}

// True when p is aligned to `bytes` (for choosing the vectorised path).
__device__ __host__ __forceinline__ bool aligned(const void* p, int bytes) {
  return (reinterpret_cast<uintptr_t>(p) & uintptr_t(bytes - 1)) == 0;
}

// Error code returned by the launchers for invalid arguments (cudaErrorInvalidValue's value).
constexpr int kErrInvalidArgument = 1;

// Calls f(T{}) with T the element type of a dtype code; returns f's result, or
// kErrInvalidArgument for an unknown code.
template <typename F>
__host__ inline int dispatch_dtype(int dtype, F&& f) {
  switch (dtype) {
    case kF32: return f(float{});
    case kF16: return f(__half{});
    case kBF16: return f(__nv_bfloat16{});
    default: return kErrInvalidArgument;
  }
}

}  // namespace tf_ew
