// max_pool2d.cu: launcher for the NHWC max pooling (design in max_pool2d.cuh).
#include "max_pool2d.cuh"
#include "transfuse.h"

extern "C" int tf_max_pool2d(void* out, const void* x, const int32_t* geom, int dtype, void* stream) {
  using tf_max_pool::Geometry;
  if (!out || !x || !geom) return tf_ew::kErrInvalidArgument;
  Geometry g{};
  g.n = geom[TF_CONV2D_N]; g.h = geom[TF_CONV2D_H]; g.w = geom[TF_CONV2D_W]; g.c = geom[TF_CONV2D_C_IN];
  g.kh = geom[TF_CONV2D_KH]; g.kw = geom[TF_CONV2D_KW]; g.sh = geom[TF_CONV2D_STRIDE_H]; g.sw = geom[TF_CONV2D_STRIDE_W];
  g.ph = geom[TF_CONV2D_PAD_H]; g.pw = geom[TF_CONV2D_PAD_W]; g.dh = geom[TF_CONV2D_DIL_H]; g.dw = geom[TF_CONV2D_DIL_W];
  // The same rules as tf_cpu_max_pool2d: a window always holds a pixel (padding at most half the kernel).
  if (g.n < 1 || g.h < 1 || g.w < 1 || g.c < 1 || geom[TF_CONV2D_C_OUT] != g.c || g.kh < 1 || g.kw < 1 || g.sh < 1 ||
      g.sw < 1 || g.dh < 1 || g.dw < 1 || g.ph < 0 || g.pw < 0 || 2 * g.ph > g.kh || 2 * g.pw > g.kw)
    return tf_ew::kErrInvalidArgument;
  const long long eh = (long long)g.h + 2LL * g.ph - (long long)g.dh * (g.kh - 1) - 1;
  const long long ew = (long long)g.w + 2LL * g.pw - (long long)g.dw * (g.kw - 1) - 1;
  if (eh < 0 || ew < 0) return tf_ew::kErrInvalidArgument;
  g.oh = int(eh / g.sh + 1);
  g.ow = int(ew / g.sw + 1);
  g.outputs = (long long)g.n * g.oh * g.ow * g.c;
  const long long blocks = (g.outputs + tf_max_pool::kThreads - 1) / tf_max_pool::kThreads;
  if (blocks > 0x7fffffffLL) return tf_ew::kErrInvalidArgument;
  return tf_ew::dispatch_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    return TF_LAUNCH((tf_max_pool::max_pool2d_kernel<T>), dim3(unsigned(blocks)), tf_max_pool::kThreads, 0, stream,
                     static_cast<T*>(out), static_cast<const T*>(x), g);
  });
}
