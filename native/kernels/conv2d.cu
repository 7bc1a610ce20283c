// conv2d.cu: launcher for the NHWC implicit-GEMM convolution (design in conv2d.cuh).
#include "conv2d.cuh"
#include "transfuse.h"

namespace {

// The geometry from the caller's ints, with the derived sizes; false when it is not a valid convolution
// (the same rules as tf_cpu_conv2d) or a size overflows the kernel's int indices.
bool read_geometry(const int32_t* a, tf_conv2d_igemm::Geometry* g) {
  if (!a) return false;
  g->n = a[TF_CONV2D_N]; g->h = a[TF_CONV2D_H]; g->w = a[TF_CONV2D_W]; g->cin = a[TF_CONV2D_C_IN];
  g->cout = a[TF_CONV2D_C_OUT]; g->kh = a[TF_CONV2D_KH]; g->kw = a[TF_CONV2D_KW]; g->sh = a[TF_CONV2D_STRIDE_H];
  g->sw = a[TF_CONV2D_STRIDE_W]; g->ph = a[TF_CONV2D_PAD_H]; g->pw = a[TF_CONV2D_PAD_W]; g->dh = a[TF_CONV2D_DIL_H];
  g->dw = a[TF_CONV2D_DIL_W]; g->groups = a[TF_CONV2D_GROUPS];
  if (g->n < 1 || g->h < 1 || g->w < 1 || g->cin < 1 || g->cout < 1 || g->kh < 1 || g->kw < 1 || g->sh < 1 ||
      g->sw < 1 || g->ph < 0 || g->pw < 0 || g->dh < 1 || g->dw < 1 || g->groups < 1 || g->cin % g->groups ||
      g->cout % g->groups)
    return false;
  const long eh = long(g->h) + 2L * g->ph - long(g->dh) * (g->kh - 1) - 1;
  const long ew = long(g->w) + 2L * g->pw - long(g->dw) * (g->kw - 1) - 1;
  if (eh < 0 || ew < 0) return false;
  const long oh = eh / g->sh + 1, ow = ew / g->sw + 1, k = long(g->kh) * g->kw * (g->cin / g->groups);
  const long pixels = long(g->n) * oh * ow;
  if (pixels > 0x7fffffffL || k > 0x7fffffffL || pixels / tf_conv2d_igemm::kTileM >= 0x7fffffffL) return false;
  g->oh = int(oh);
  g->ow = int(ow);
  g->cig = g->cin / g->groups;
  g->cog = g->cout / g->groups;
  g->k = int(k);
  g->pixels = int(pixels);
  return g->groups <= 65535 && (g->cog + tf_conv2d_igemm::kTileN - 1) / tf_conv2d_igemm::kTileN <= 65535;
}

}  // namespace

extern "C" int tf_conv2d(void* out, const void* x, const void* weight, const void* bias, int relu, const int32_t* geom,
                         int dtype, void* stream) {
  tf_conv2d_igemm::Geometry g{};
  if (!out || !x || !weight || !read_geometry(geom, &g)) return tf_ew::kErrInvalidArgument;
  return tf_ew::dispatch_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    tf_conv2d_igemm::Conv2dArgs<T> a{};
    a.out = static_cast<T*>(out);
    a.x = static_cast<const T*>(x);
    a.weight = static_cast<const T*>(weight);
    a.bias = static_cast<const T*>(bias);
    a.relu = relu;
    a.g = g;
    const dim3 grid((g.pixels + tf_conv2d_igemm::kTileM - 1) / tf_conv2d_igemm::kTileM,
                    (g.cog + tf_conv2d_igemm::kTileN - 1) / tf_conv2d_igemm::kTileN, g.groups);
    return TF_LAUNCH((tf_conv2d_igemm::conv2d_implicit_gemm_kernel<T>), grid, tf_conv2d_igemm::kThreads, 0, stream, a);
  });
}
