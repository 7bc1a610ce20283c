// gated_norm.cu: launcher for the Mamba-2 gated RMSNorm (design in gated_norm.cuh).
#include "gated_norm.cuh"
#include "transfuse.h"

extern "C" int tf_gated_rmsnorm(void* out, const void* x, const void* z, const void* weight, int rows, int dim,
                                int group_size, float eps, int dtype, void* stream) {
  if (rows < 0 || dim <= 0 || group_size <= 0 || dim % group_size != 0 || !out || !x || !z || !weight)
    return tf_ew::kErrInvalidArgument;
  if (rows == 0) return 0;
  return tf_ew::dispatch_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    const dim3 grid(rows, dim / group_size);
    return TF_LAUNCH((tf_gnorm::gated_rmsnorm_kernel<T>), grid, tf_gnorm::kThreads, 0, stream, static_cast<T*>(out),
                     static_cast<const T*>(x), static_cast<const T*>(z), static_cast<const T*>(weight), dim, group_size, eps);
  });
}
