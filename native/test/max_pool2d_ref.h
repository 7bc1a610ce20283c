// max_pool2d_ref.h: shapes and a plain reference for the max-pooling tests (cpu_max_pool2d.cpp,
// emu_max_pool2d.cpp): the window's maximum over the taps inside the image, written from PyTorch's
// MaxPool2d definition (padding taps are -inf, so they never win). Max pooling is exact: the tests
// compare bit for bit.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "transfuse.h"

struct PoolCase {
  int n, h, w, c, kh, kw, sh, sw, ph, pw, dh, dw;
  int oh() const { return (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1; }
  int ow() const { return (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1; }
  size_t x_size() const { return size_t(n) * h * w * c; }
  size_t out_size() const { return size_t(n) * oh() * ow() * c; }
  std::vector<int32_t> geom() const { return {n, h, w, c, c, kh, kw, sh, sw, ph, pw, dh, dw, 1}; }
};

// ResNet's stem (3x3 s2 p1) at odd and even sizes, channel counts around vector widths, 2x2 s2, a
// non-square kernel with dilation, and a batch of two.
inline std::vector<PoolCase> pool_cases() {
  return {{1, 32, 41, 64, 3, 3, 2, 2, 1, 1, 1, 1}, {1, 7, 8, 3, 3, 3, 2, 2, 1, 1, 1, 1},
          {2, 9, 6, 17, 3, 3, 2, 2, 1, 1, 1, 1},   {1, 8, 8, 16, 2, 2, 2, 2, 0, 0, 1, 1},
          {1, 10, 9, 5, 3, 2, 1, 2, 1, 1, 2, 1},   {1, 1, 1, 33, 3, 3, 2, 2, 1, 1, 1, 1}};
}

inline void max_pool2d_reference(const PoolCase& p, const std::vector<float>& x, std::vector<float>& out) {
  out.assign(p.out_size(), 0.f);
  for (int b = 0; b < p.n; ++b)
    for (int oy = 0; oy < p.oh(); ++oy)
      for (int ox = 0; ox < p.ow(); ++ox)
        for (int ch = 0; ch < p.c; ++ch) {
          float m = -INFINITY;
          for (int ky = 0; ky < p.kh; ++ky)
            for (int kx = 0; kx < p.kw; ++kx) {
              const int iy = oy * p.sh - p.ph + ky * p.dh, ix = ox * p.sw - p.pw + kx * p.dw;
              if (iy >= 0 && iy < p.h && ix >= 0 && ix < p.w) m = std::fmax(m, x[((size_t(b) * p.h + iy) * p.w + ix) * p.c + ch]);
            }
          out[((size_t(b) * p.oh() + oy) * p.ow() + ox) * p.c + ch] = m;
        }
}

// Geometries both implementations refuse: channels in != out, padding over half the kernel, stride 0,
// a kernel larger than the padded image.
inline std::vector<std::vector<int32_t>> bad_pool_geometries() {
  return {{1, 4, 4, 3, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1},
          {1, 4, 4, 3, 3, 3, 3, 2, 2, 2, 1, 1, 1, 1},
          {1, 4, 4, 3, 3, 3, 3, 0, 2, 1, 1, 1, 1, 1},
          {1, 2, 2, 3, 3, 5, 5, 1, 1, 0, 0, 1, 1, 1}};
}
