// conv2d_ref.h: a plain double-precision 2-D convolution (NHWC, weight [c_out][kh][kw][c_in/groups]),
// written from the definition (PyTorch's Conv2d with zero padding), and the shapes the CPU and emulated
// tests run it over. It also returns, per output, the sum of |terms| that bounds the fp32 rounding error.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "transfuse.h"

struct Conv2dCase {
  int n, h, w, cin, cout, kh, kw, sh, sw, ph, pw, dh, dw, groups;
  int oh() const { return (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1; }
  int ow() const { return (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1; }
  std::vector<int32_t> geom() const { return {n, h, w, cin, cout, kh, kw, sh, sw, ph, pw, dh, dw, groups}; }
  size_t x_size() const { return size_t(n) * h * w * cin; }
  size_t w_size() const { return size_t(cout) * kh * kw * (cin / groups); }
  size_t out_size() const { return size_t(n) * oh() * ow() * cout; }
};

// strides 1/2, padding 0/1/3, dilation 1/2, groups 1/2/depthwise, 1x1 and 7x7, odd sizes.
inline std::vector<Conv2dCase> conv2d_cases() {
  return {
      {1, 5, 7, 3, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1},      // 3x3 same, odd sizes
      {2, 9, 6, 5, 7, 3, 3, 2, 2, 1, 1, 1, 1, 1},      // stride 2, batch 2
      {1, 8, 8, 16, 24, 1, 1, 1, 1, 0, 0, 1, 1, 1},    // 1x1 (plain GEMM path)
      {1, 9, 9, 8, 12, 1, 1, 2, 2, 0, 0, 1, 1, 1},     // 1x1 stride 2 (ResNet downsample)
      {1, 17, 15, 3, 8, 7, 7, 2, 2, 3, 3, 1, 1, 1},    // ResNet stem: 7x7 stride 2 pad 3
      {1, 11, 10, 6, 5, 3, 3, 1, 1, 2, 2, 2, 2, 1},    // dilation 2
      {1, 7, 9, 4, 6, 3, 2, 1, 2, 0, 1, 2, 1, 1},      // rectangular kernel, mixed stride/pad/dilation
      {1, 6, 6, 8, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2},      // groups 2
      {2, 7, 5, 6, 6, 3, 3, 2, 1, 1, 1, 1, 1, 6},      // depthwise
      {1, 8, 7, 4, 8, 5, 5, 1, 1, 2, 2, 1, 1, 4},      // depthwise, multiplier 2
      {1, 4, 4, 2, 3, 4, 4, 1, 1, 0, 0, 1, 1, 1},      // kernel = image: one output pixel
      {1, 13, 13, 40, 70, 3, 3, 1, 1, 1, 1, 1, 1, 1},  // channels off every vector and tile width
  };
}

// ref[p][o] and mag[p][o] = |bias| + sum |x w| for the case (bias may be null; relu applied to ref).
inline void conv2d_reference(const Conv2dCase& c, const std::vector<double>& x, const std::vector<double>& w,
                             const double* bias, bool relu, std::vector<double>& ref, std::vector<double>& mag) {
  const int oh = c.oh(), ow = c.ow(), cig = c.cin / c.groups, cog = c.cout / c.groups;
  ref.assign(c.out_size(), 0.0);
  mag.assign(c.out_size(), 0.0);
  for (int b = 0; b < c.n; ++b)
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox)
        for (int o = 0; o < c.cout; ++o) {
          const int g = o / cog;
          double acc = bias ? bias[o] : 0.0, m = std::fabs(acc);
          for (int ky = 0; ky < c.kh; ++ky)
            for (int kx = 0; kx < c.kw; ++kx) {
              const int iy = oy * c.sh - c.ph + ky * c.dh, ix = ox * c.sw - c.pw + kx * c.dw;
              if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
              for (int i = 0; i < cig; ++i) {
                const double t = x[((size_t(b) * c.h + iy) * c.w + ix) * c.cin + g * cig + i] *
                                 w[((size_t(o) * c.kh + ky) * c.kw + kx) * cig + i];
                acc += t;
                m += std::fabs(t);
              }
            }
          const size_t at = ((size_t(b) * oh + oy) * ow + ox) * c.cout + o;
          ref[at] = relu && acc < 0 ? 0.0 : acc;
          mag[at] = m;
        }
}
