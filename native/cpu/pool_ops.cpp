/*
 * pool_ops.cpp: 2-D max pooling of libtransfuse_cpu, NHWC (transfuse.h, tf_cpu_max_pool2d): DETR's ResNet
 * stem pools the 7x7 convolution's 64-channel map with a 3x3 window, stride 2, padding 1.
 *
 * Plain loops: per output pixel, the running max of a channel row is updated tap by tap over the
 * contiguous channels (the compiler vectorises the inner loop). The pool reads about 2.25 inputs per
 * output at ResNet's geometry and costs well under 1% of the backbone, so there is no per-ISA kernel.
 * Output pixels are split over the threads in contiguous ranges.
 */
#include <cmath>

#include "cpu_internal.h"
#include "parallel.h"

#define TF_API extern "C" __attribute__((visibility("default")))

TF_API int tf_cpu_max_pool2d(float* out, const float* x, const int32_t* geom) {
    if (!out || !x || !geom) return -1;
    const long n = geom[TF_CONV2D_N], h = geom[TF_CONV2D_H], w = geom[TF_CONV2D_W], c = geom[TF_CONV2D_C_IN];
    const long kh = geom[TF_CONV2D_KH], kw = geom[TF_CONV2D_KW], sh = geom[TF_CONV2D_STRIDE_H], sw = geom[TF_CONV2D_STRIDE_W];
    const long ph = geom[TF_CONV2D_PAD_H], pw = geom[TF_CONV2D_PAD_W], dh = geom[TF_CONV2D_DIL_H], dw = geom[TF_CONV2D_DIL_W];
    /* (PyTorch's rule: padding at most half the kernel, so that every window holds a pixel) */
    if (n < 1 || h < 1 || w < 1 || c < 1 || geom[TF_CONV2D_C_OUT] != c || kh < 1 || kw < 1 || sh < 1 || sw < 1 || dh < 1 ||
        dw < 1 || ph < 0 || pw < 0 || 2 * ph > kh || 2 * pw > kw)
        return -1;
    const long eh = h + 2 * ph - dh * (kh - 1) - 1, ew = w + 2 * pw - dw * (kw - 1) - 1;
    if (eh < 0 || ew < 0) return -1;
    const long oh = eh / sh + 1, ow = ew / sw + 1, pixels = n * oh * ow;
    tf_parallel_ranges(pixels, pixels * c * kh * kw, [&](long p0, long p1) {
        for (long p = p0; p < p1; p++) {
            const long b = p / (oh * ow), oy = p / ow % oh, ox = p % ow;
            float* o = out + p * c;
            for (long ch = 0; ch < c; ch++) o[ch] = -INFINITY;
            bool nan = false;
            for (long ky = 0; ky < kh; ky++) {
                const long iy = oy * sh - ph + ky * dh;
                if (iy < 0 || iy >= h) continue;
                for (long kx = 0; kx < kw; kx++) {
                    const long ix = ox * sw - pw + kx * dw;
                    if (ix < 0 || ix >= w) continue;
                    const float* in = x + ((b * h + iy) * w + ix) * c;
#pragma omp simd
                    for (long ch = 0; ch < c; ch++) o[ch] = in[ch] > o[ch] ? in[ch] : o[ch];
                    for (long ch = 0; ch < c; ch++) nan |= in[ch] != in[ch];
                }
            }
            if (nan) { /* rare: redo the pixel, carrying NaN through as torch.max does */
                for (long ch = 0; ch < c; ch++) {
                    for (long ky = 0; ky < kh; ky++) {
                        const long iy = oy * sh - ph + ky * dh;
                        if (iy < 0 || iy >= h) continue;
                        for (long kx = 0; kx < kw; kx++) {
                            const long ix = ox * sw - pw + kx * dw;
                            if (ix >= 0 && ix < w && std::isnan(x[((b * h + iy) * w + ix) * c + ch])) o[ch] = NAN;
                        }
                    }
                }
            }
        }
    });
    return 0;
}
