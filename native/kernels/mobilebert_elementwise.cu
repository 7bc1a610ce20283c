// mobilebert_elementwise.cu: launchers for MobileBERT's NoNorm and ReLU (design in mobilebert_elementwise.cuh).
#include "mobilebert_elementwise.cuh"
#include "transfuse.h"

extern "C" int tf_no_norm(void* out, void* residual, const void* x, const void* weight, const void* bias, int rows, int dim,
                          int dtype, void* stream) {
  if (rows < 0 || dim <= 0 || !out || !x || !weight) return tf_ew::kErrInvalidArgument;
  if (rows == 0) return 0;
  return tf_ew::dispatch_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    const int xblocks = (dim + tf_nonorm::kThreads - 1) / tf_nonorm::kThreads;
    const dim3 grid(xblocks, rows < 65535 ? rows : 65535);
    return TF_LAUNCH((tf_nonorm::no_norm_kernel<T>), grid, tf_nonorm::kThreads, 0, stream, static_cast<T*>(out),
                     static_cast<T*>(residual), static_cast<const T*>(x), static_cast<const T*>(weight),
                     static_cast<const T*>(bias), rows, dim);
  });
}
