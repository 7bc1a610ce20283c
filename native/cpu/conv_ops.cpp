/*
 * conv_ops.cpp: 2-D convolution of libtransfuse_cpu, NHWC (transfuse.h, tf_cpu_conv2d).
 *
 * groups == 1 (every convolution of a ResNet backbone) is a GEMM: out [pixels][c_out] = patches
 * [pixels][kh kw c_in] x weight [c_out][kh kw c_in]^T, where a patch row is the receptive field of one
 * output pixel, in the weight's (ky, kx, c) order. The weight is repacked once per call into the column
 * panels of tf_cpu_pack_f32 (a few MB at most, against GFLOPs of work) and multiplied by the existing
 * panel kernel of matmul.inc with the bias fused into its epilogue (ReLU follows per tile, in cache). The patch matrix (im2col) is
 * built one tile of output rows at a time (about 2 MB, so it is still in L2/L3 when the GEMM reads it)
 * rather than for the whole image (29 MB for a 3x3 conv of 256 channels at 56x56). A 1x1 conv with stride
 * 1 and no padding needs no im2col at all: x is already [pixels][c_in].
 * Why not a direct NHWC kernel for groups == 1: measured on a 2-core AMD EPYC Zen 5 (AVX-512) at ResNet-50's
 * 3x3 256->256, 56x56 (native/test/cpu_conv2d_ops.cpp's timing line), this path runs at up to ~190 GFLOP/s, the
 * rate of the panel GEMM alone on ready-made patches (~180 GFLOP/s): the tiled im2col costs no measurable time,
 * so a direct kernel built on the same register tile could only match it.
 *
 * groups > 1 (depthwise, grouped) is a direct loop over output pixels: per pixel, per tap, each output
 * channel's dot product over its group's input channels, contiguous in both x and the weight. Not
 * a backbone hot spot for the models we run (DETR-R50 has no grouped conv); kept simple and exact.
 */
#include <cstdlib>
#include <cstring>

#include "cpu_internal.h"
#include "parallel.h"

#define TF_API extern "C" __attribute__((visibility("default")))

namespace {

struct Geom {
    long n, h, w, cin, cout, kh, kw, sh, sw, ph, pw, dh, dw, groups, oh, ow, cig, cog;
};

/* Fills g from the caller's ints; false when they describe no valid convolution. */
bool read_geom(const int32_t* a, Geom* g) {
    if (!a) return false;
    g->n = a[TF_CONV2D_N]; g->h = a[TF_CONV2D_H]; g->w = a[TF_CONV2D_W];
    g->cin = a[TF_CONV2D_C_IN]; g->cout = a[TF_CONV2D_C_OUT]; g->kh = a[TF_CONV2D_KH]; g->kw = a[TF_CONV2D_KW];
    g->sh = a[TF_CONV2D_STRIDE_H]; g->sw = a[TF_CONV2D_STRIDE_W]; g->ph = a[TF_CONV2D_PAD_H]; g->pw = a[TF_CONV2D_PAD_W];
    g->dh = a[TF_CONV2D_DIL_H]; g->dw = a[TF_CONV2D_DIL_W]; g->groups = a[TF_CONV2D_GROUPS];
    if (g->n < 1 || g->h < 1 || g->w < 1 || g->cin < 1 || g->cout < 1 || g->kh < 1 || g->kw < 1 || g->sh < 1 ||
        g->sw < 1 || g->ph < 0 || g->pw < 0 || g->dh < 1 || g->dw < 1 || g->groups < 1 || g->cin % g->groups ||
        g->cout % g->groups)
        return false;
    const long eh = g->h + 2 * g->ph - g->dh * (g->kh - 1) - 1, ew = g->w + 2 * g->pw - g->dw * (g->kw - 1) - 1;
    if (eh < 0 || ew < 0) return false;
    g->oh = eh / g->sh + 1;
    g->ow = ew / g->sw + 1;
    g->cig = g->cin / g->groups;
    g->cog = g->cout / g->groups;
    return g->kh * g->kw * g->cig <= 0x7fffffffL && g->n * g->oh * g->ow <= 0x7fffffffL;
}

/* Patch rows [p0, p1) of the output pixels into dst [p1 - p0][kh kw cin], zeros where a tap is padding. */
void im2col_rows(float* dst, const float* x, const Geom& g, long p0, long p1) {
    const long k = g.kh * g.kw * g.cin;
    for (long p = p0; p < p1; p++) {
        const long b = p / (g.oh * g.ow), oy = p / g.ow % g.oh, ox = p % g.ow;
        float* row = dst + (p - p0) * k;
        for (long ky = 0; ky < g.kh; ky++) {
            const long iy = oy * g.sh - g.ph + ky * g.dh;
            for (long kx = 0; kx < g.kw; kx++) {
                const long ix = ox * g.sw - g.pw + kx * g.dw;
                float* d = row + (ky * g.kw + kx) * g.cin;
                if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) memset(d, 0, (size_t)g.cin * sizeof(float));
                else memcpy(d, x + ((b * g.h + iy) * g.w + ix) * g.cin, (size_t)g.cin * sizeof(float));
            }
        }
    }
}

/* ReLU over rows [r0, r1) of out, right after the GEMM wrote them (still in cache). The matmul epilogue's
 * activations (TF_ACT_*) have no ReLU, and adding one would touch every ISA table for one op. */
void relu_rows(float* out, long cols, long r0, long r1) {
    tf_parallel_ranges(r1 - r0, (r1 - r0) * cols, [&](long a, long b) {
        for (float* v = out + (r0 + a) * cols; v < out + (r0 + b) * cols; v++) *v = *v > 0.0f ? *v : 0.0f;
    });
}

int conv_gemm(float* out, const float* x, const float* weight, const float* bias, int relu, const Geom& g) {
    const long k = g.kh * g.kw * g.cin, pixels = g.n * g.oh * g.ow;
    void* packed = malloc((size_t)tf_cpu_packed_f32_bytes((int)k, (int)g.cout));
    if (!packed) return -2;
    tf_cpu_pack_f32(packed, weight, (int)k, (int)g.cout);
    if (g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0) {
        tf_cpu_matmul_bias(out, x, packed, TF_F32_PANELS, (int)pixels, (int)k, (int)g.cout, bias, TF_ACT_IDENTITY);
        if (relu) relu_rows(out, g.cout, 0, pixels);
        free(packed);
        return 0;
    }
    /* ~2 MB of patches per tile, at least 64 rows (the GEMM's register tile wants many rows) */
    long tile = (2L << 20) / (k * (long)sizeof(float));
    if (tile < 64) tile = 64;
    if (tile > pixels) tile = pixels;
    float* patches = (float*)malloc((size_t)(tile * k) * sizeof(float));
    if (!patches) {
        free(packed);
        return -2;
    }
    for (long p0 = 0; p0 < pixels; p0 += tile) {
        const long p1 = p0 + tile < pixels ? p0 + tile : pixels;
        tf_parallel_ranges(p1 - p0, (p1 - p0) * k, [&](long a, long b) { im2col_rows(patches + a * k, x, g, p0 + a, p0 + b); });
        tf_cpu_matmul_bias(out + p0 * g.cout, patches, packed, TF_F32_PANELS, (int)(p1 - p0), (int)k, (int)g.cout, bias,
                           TF_ACT_IDENTITY);
        if (relu) relu_rows(out, g.cout, p0, p1);
    }
    free(patches);
    free(packed);
    return 0;
}

/* Grouped and depthwise: direct, one output pixel's c_out channels at a time. */
void conv_direct(float* out, const float* x, const float* weight, const float* bias, int relu, const Geom& g) {
    const long pixels = g.n * g.oh * g.ow, taps = g.kh * g.kw;
    tf_parallel_ranges(pixels, pixels * taps * g.cout * g.cig, [&](long p0, long p1) {
        for (long p = p0; p < p1; p++) {
            const long b = p / (g.oh * g.ow), oy = p / g.ow % g.oh, ox = p % g.ow;
            float* o = out + p * g.cout;
            for (long c = 0; c < g.cout; c++) o[c] = bias ? bias[c] : 0.0f;
            for (long ky = 0; ky < g.kh; ky++) {
                const long iy = oy * g.sh - g.ph + ky * g.dh;
                if (iy < 0 || iy >= g.h) continue;
                for (long kx = 0; kx < g.kw; kx++) {
                    const long ix = ox * g.sw - g.pw + kx * g.dw;
                    if (ix < 0 || ix >= g.w) continue;
                    const float* xp = x + ((b * g.h + iy) * g.w + ix) * g.cin;
                    const long tap = ky * g.kw + kx;
                    for (long c = 0; c < g.cout; c++) {
                        const float* xg = xp + c / g.cog * g.cig;
                        const float* wc = weight + (c * taps + tap) * g.cig;
                        float acc = 0.0f;
                        for (long i = 0; i < g.cig; i++) acc += xg[i] * wc[i];
                        o[c] += acc;
                    }
                }
            }
            if (relu)
                for (long c = 0; c < g.cout; c++) o[c] = o[c] > 0.0f ? o[c] : 0.0f;
        }
    });
}

}  // namespace

TF_API int tf_cpu_conv2d(float* out, const float* x, const float* weight, const float* bias, int relu,
                         const int32_t* geom) {
    Geom g;
    if (!read_geom(geom, &g) || !out || !x || !weight) return -1;
    if (g.groups == 1) return conv_gemm(out, x, weight, bias, relu, g);
    conv_direct(out, x, weight, bias, relu, g);
    return 0;
}
