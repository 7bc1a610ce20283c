// max_pool2d.cuh: 2-D max pooling, NHWC (transfuse.h, tf_max_pool2d): DETR's ResNet stem (3x3, stride 2,
// padding 1) after the 7x7 convolution.
//
// What it computes: out[n][oy][ox][c] = max over the kh x kw taps of x[n][oy sh - ph + ky dh][ox sw - pw + kx dw][c],
// taps in the padding left out (PyTorch pads with -inf).
//
// Work split: one thread per output element, consecutive threads on consecutive channels of one output
// pixel, so each tap's loads are coalesced (NHWC keeps a pixel's channels contiguous). Nothing is shared
// between threads: no shared memory, no barriers. Registers: the running max in fp32 and the indices.
// Bytes per FLOP: a pure bandwidth kernel (kh kw loads and one compare each per output; with 3x3 stride 2
// every input is read about 2.25 times, mostly from L2). It runs once per image on a 64-channel map, well
// under 1% of a ResNet-50 forward, so it is kept plain.
#pragma once
#include "norm_elementwise_io.cuh"

namespace tf_max_pool {

using namespace tf_ew;

constexpr int kThreads = 256;

struct Geometry {
  int n, h, w, c, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow;
  long long outputs;  // n * oh * ow * c
};

template <typename T>
__global__ void __launch_bounds__(kThreads) max_pool2d_kernel(T* __restrict__ out, const T* __restrict__ x, Geometry g) {
  const long long i = (long long)blockIdx.x * kThreads + threadIdx.x;
  if (i >= g.outputs) return;
  const int c = int(i % g.c);
  const long long p = i / g.c;  // output pixel (b, oy, ox)
  const int ox = int(p % g.ow), oy = int(p / g.ow % g.oh);
  const long long b = p / ((long long)g.ow * g.oh);
  float m = -INFINITY;
  bool nan = false;
  for (int ky = 0; ky < g.kh; ++ky) {
    const int iy = oy * g.sh - g.ph + ky * g.dh;
    if (iy < 0 || iy >= g.h) continue;
    for (int kx = 0; kx < g.kw; ++kx) {
      const int ix = ox * g.sw - g.pw + kx * g.dw;
      if (ix < 0 || ix >= g.w) continue;
      const float v = to_f32(x[((b * g.h + iy) * g.w + ix) * g.c + c]);
      nan |= v != v;
      m = v > m ? v : m;
    }
  }
  out[i] = from_f32<T>(nan ? NAN : m);
}

}  // namespace tf_max_pool
