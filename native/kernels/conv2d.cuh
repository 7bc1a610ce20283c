// conv2d.cuh: 2-D convolution, NHWC, as an implicit GEMM (the fallback to cuDNN, and what the
// emulator tests).
//
// What it computes (transfuse.h, tf_conv2d): per group g, out[p][g cog + n] = act(bias + sum_k
// A[p][k] W[g cog + n][k]) with p an output pixel (n, oy, ox), k = (ky kw + kx) cig + c a tap and an
// input channel of the group, A[p][k] = x[n][oy sh - ph + ky dh][ox sw - pw + kx dw][g cig + c] (0 in the
// padding) and W the weight [c_out][kh][kw][cig] read as [c_out][K]. The patch matrix A is never stored:
// each block gathers its tile of A straight from x ("implicit" GEMM), so the input is read from DRAM
// about once per 64 output channels and the weight once per 64 pixels.
//
// Tiling: a block of 256 threads owns 64 pixels x 64 output channels of one group (grid x: pixel
// tiles, y: channel tiles, z: groups) and walks K in steps of 16. Per step it stages A [16][64] and
// W [16][64] in shared memory as fp32 (8 KB), each thread gathering 4 elements of each (consecutive
// threads take consecutive k, which are consecutive input channels in NHWC: coalesced reads); then every
// thread accumulates a 4x4 register tile (16 fp32 accumulators) from 4 + 4 shared values per k. The
// epilogue adds the bias, applies ReLU and rounds once to the dtype. Per thread, the 4 pixels it gathers
// are decoded once (no division by the image size inside the K loop).
// Bytes per FLOP: per K step a block moves (64 + 64) x 16 elements for 2 x 64 x 64 x 16 FLOPs: 1/64
// element per FLOP from L2/DRAM. Plain FMA on CUDA cores (no mma.sync): a correct, portable fallback for
// when cuDNN is absent, not a peak kernel; cuDNN's tensor-core convolutions are the fast path on a GPU.
#pragma once
#include "norm_elementwise_io.cuh"

namespace tf_conv2d_igemm {

using namespace tf_ew;

constexpr int kTileM = 64, kTileN = 64, kTileK = 16, kThreads = 256;

struct Geometry {
  int n, h, w, cin, cout, kh, kw, sh, sw, ph, pw, dh, dw, groups;
  int oh, ow, cig, cog, k;  // derived: output size, channels per group, GEMM depth
  int pixels;               // n * oh * ow
};

template <typename T>
struct Conv2dArgs {
  T* out;
  const T* x;
  const T* weight;  // [c_out][kh][kw][cig]
  const T* bias;    // [c_out] or null
  int relu;
  Geometry g;
};

template <typename T>
__global__ void __launch_bounds__(kThreads) conv2d_implicit_gemm_kernel(Conv2dArgs<T> p) {
  __shared__ float a_tile[kTileK][kTileM];
  __shared__ float w_tile[kTileK][kTileN];
  const Geometry& g = p.g;
  const int tid = threadIdx.x, grp = blockIdx.z;
  const int m0 = blockIdx.x * kTileM, n0 = blockIdx.y * kTileN;
  // This thread gathers k column (tid % 16) of rows tid / 16 + 16 i, i < 4, of both tiles.
  const int kk = tid % kTileK, row0 = tid / kTileK;
  int iy0[4], ix0[4];
  size_t img[4];  // offset of the pixel's image plus the group's first channel; SIZE_MAX: past the end
  for (int i = 0; i < 4; ++i) {
    const int m = m0 + row0 + 16 * i;
    if (m < g.pixels) {
      const int b = m / (g.oh * g.ow), oy = m / g.ow % g.oh, ox = m % g.ow;
      iy0[i] = oy * g.sh - g.ph;
      ix0[i] = ox * g.sw - g.pw;
      img[i] = size_t(b) * g.h * g.w * g.cin + size_t(grp) * g.cig;
    } else {
      iy0[i] = ix0[i] = 0;
      img[i] = ~size_t(0);
    }
  }
  float acc[4][4];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.f;
  const int ty = tid / 16, tx = tid % 16;  // this thread's 4x4 outputs: pixels ty + 16 i, channels tx + 16 j
  for (int k0 = 0; k0 < g.k; k0 += kTileK) {
    const int k = k0 + kk;
    int ky = 0, kx = 0, c = 0;
    if (k < g.k) {
      c = k % g.cig;
      const int tap = k / g.cig;
      ky = tap / g.kw;
      kx = tap % g.kw;
    }
    for (int i = 0; i < 4; ++i) {
      float v = 0.f;
      const int iy = iy0[i] + ky * g.dh, ix = ix0[i] + kx * g.dw;
      if (k < g.k && img[i] != ~size_t(0) && iy >= 0 && iy < g.h && ix >= 0 && ix < g.w)
        v = to_f32(p.x[img[i] + (size_t(iy) * g.w + ix) * g.cin + c]);
      a_tile[kk][row0 + 16 * i] = v;
      const int n = n0 + row0 + 16 * i;
      w_tile[kk][row0 + 16 * i] =
          k < g.k && n < g.cog ? to_f32(p.weight[size_t(grp * g.cog + n) * g.k + k]) : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int q = 0; q < kTileK; ++q) {
      float a[4], w[4];
      for (int i = 0; i < 4; ++i) a[i] = a_tile[q][ty + 16 * i];
      for (int j = 0; j < 4; ++j) w[j] = w_tile[q][tx + 16 * j];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], w[j], acc[i][j]);
    }
    __syncthreads();  // the next step overwrites the tiles
  }
  for (int i = 0; i < 4; ++i) {
    const int m = m0 + ty + 16 * i;
    if (m >= g.pixels) continue;
    for (int j = 0; j < 4; ++j) {
      const int n = n0 + tx + 16 * j;
      if (n >= g.cog) continue;
      const int o = grp * g.cog + n;
      float v = acc[i][j] + (p.bias ? to_f32(p.bias[o]) : 0.f);
      if (p.relu && v < 0.f) v = 0.f;
      p.out[size_t(m) * g.cout + o] = from_f32<T>(v);
    }
  }
}

}  // namespace tf_conv2d_igemm
