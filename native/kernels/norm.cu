// norm.cu: launchers for RMSNorm / LayerNorm with fused residual (design notes in norm.cuh).
#include "norm.cuh"
#include "transfuse.h"

namespace tf_norm {
namespace {

constexpr int kMaxDim = 49152;  // 192 KiB of fp32 row in shared memory

// Block size: about one 16-byte vector per thread, a multiple of 32, between 32 and 512.
int threads_for(int nvec) {
  int t = ((nvec + 31) / 32) * 32;
  return t < 32 ? 32 : (t > 512 ? 512 : t);
}

template <typename T, bool kLayerNorm>
int launch(void* out, void* residual, const void* x, const void* w, const void* b, int rows, int dim, float eps,
           void* stream) {
  // h is parked in shared memory as fp32: dim * 4 bytes must fit an SM's 227 KiB (sm_80/sm_90).
  if (rows < 0 || dim <= 0 || dim > kMaxDim || !out || !x || !w) return kErrInvalidArgument;
  if (rows == 0) return 0;
  constexpr int V = vec16<T>();
  const bool vec = dim % V == 0 && aligned(out, 16) && aligned(x, 16) && aligned(w, 16) &&
                   (!residual || aligned(residual, 16)) && (!b || aligned(b, 16));
  const size_t smem = size_t(dim) * sizeof(float);
  auto* o = static_cast<T*>(out);
  auto* r = static_cast<T*>(residual);
  auto* xi = static_cast<const T*>(x);
  auto* wi = static_cast<const T*>(w);
  auto* bi = static_cast<const T*>(b);
  if (vec)
    return TF_LAUNCH((norm_residual_kernel<T, V, kLayerNorm>), rows, threads_for(dim / V), smem, stream, o, r, xi,
                     wi, bi, dim, eps);
  return TF_LAUNCH((norm_residual_kernel<T, 1, kLayerNorm>), rows, threads_for(dim), smem, stream, o, r, xi, wi,
                   bi, dim, eps);
}

}  // namespace
}  // namespace tf_norm

extern "C" int tf_rmsnorm(void* out, void* residual, const void* x, const void* weight, int rows, int dim, float eps,
                          int dtype, void* stream) {
  return tf_ew::dispatch_dtype(dtype, [&](auto t) {
    return tf_norm::launch<decltype(t), false>(out, residual, x, weight, nullptr, rows, dim, eps, stream);
  });
}

extern "C" int tf_layernorm(void* out, void* residual, const void* x, const void* weight, const void* bias, int rows,
                            int dim, float eps, int dtype, void* stream) {
  return tf_ew::dispatch_dtype(dtype, [&](auto t) {
    return tf_norm::launch<decltype(t), true>(out, residual, x, weight, bias, rows, dim, eps, stream);
  });
}
