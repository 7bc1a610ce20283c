/*
 * ssm_ops.cpp: the Mamba-1 ops of libtransfuse_cpu (transfuse.h, section 1): the causal depthwise
 * conv1d and the selective scan, each carrying its per-sequence state between calls so that one
 * entry point serves prefill (many tokens) and decode (tokens = 1).
 *
 * Same recurrences as the CUDA kernels (native/kernels/conv1d.cuh, selective_scan.cuh), but
 * token-major ([tokens][dim], the layout the model graph's matmuls produce) instead of the CUDA
 * kernels' channel-major [dim][seqlen], and with the conv state as an input as well as an output
 * (so a prompt fed in pieces continues where the last piece stopped).
 *
 * Work split: OpenMP over blocks of kBlock channels. Within a block the tokens are walked in order
 * (the recurrence is sequential in time) and, per token, the block's channels: the block's states
 * (kBlock x dstate floats, 1 KiB at dstate 16) stay in L1 while B and C rows are shared by every
 * channel. Small calls stay on the calling thread.
 *
 * Vectorisation: the cost is one exp per (token, channel, state) in the scan and one per output in
 * the conv's SiLU; libm's expf is a scalar call (~8 ns), so the inner loops use exp_poly below, which
 * the compiler vectorises (over the block's channels). The two block functions are compiled for
 * AVX-512, AVX2 and baseline x86-64; each call uses the instruction set the rest of the library uses
 * (tf_cpu_get_isa), so TRANSFUSE_CPU_ISA and tf_cpu_set_isa apply here too and tests cover all three.
 * Softplus of delta and the SiLU gate on z (once per token and channel) are vectorised over channels.
 */
#include <math.h>
#include <omp.h>

#include "transfuse.h"

#define TF_API extern "C" __attribute__((visibility("default")))

namespace {

constexpr int kBlock = 16;               // channels per work item
constexpr long kParallelMinWork = 1 << 16;  // as TF_PARALLEL_MIN_WORK in cpu_internal.h

// The block functions are written once as always-inline bodies and instantiated per instruction
// set by thin wrappers with a target attribute (the body is compiled with the wrapper's flags).
#define TF_SSM_INLINE static inline __attribute__((always_inline))
#define TF_SSM_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c")))
#define TF_SSM_AVX2 __attribute__((target("avx2,fma,f16c")))

/* exp(x) in fp32 without a library call, so loops of it vectorise: x = k ln2 + r with |r| <= ln2/2,
 * e^r by the degree-6 minimax polynomial of Cephes' expf (relative error ~1e-7, as libm's), 2^k by
 * building the exponent bits. x is clamped to [-87.3, 88] so 2^k stays a normal float (exp(-87.3) ~
 * 1e-38: a state factor that small is zero for every purpose). */
TF_SSM_INLINE float exp_poly(float x) {
    x = x < -87.3f ? -87.3f : (x > 88.f ? 88.f : x);
    const float k = __builtin_rintf(x * 1.44269504088896341f);
    const float r = x - k * 0.693359375f + k * 2.12194440e-4f;  // ln2 split in two for exactness
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.f;
    union { int i; float f; } two_k;
    two_k.i = ((int)k + 127) << 23;
    return p * two_k.f;
}

/* softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e), e = exp(-|x|) in (0, 1]. log1p(e) = 2 atanh(s)
 * with s = e / (2 + e) in (0, 1/3], summed as 2 s (1 + s^2/3 + ... + s^12/13) (truncation < 1e-8
 * relative): accurate relative to the result even when e is tiny (very negative x, small dt), which
 * log(1 + e) in float would not be. Vectorises like exp_poly. Equals x for x > 20 in fp32, like the
 * CUDA kernel's cut-off. */
TF_SSM_INLINE float softplus_poly(float x) {
    const float e = exp_poly(-(x < 0.f ? -x : x));
    const float s = e / (2.f + e), s2 = s * s;
    float q = 1.f / 13;
    q = q * s2 + 1.f / 11;
    q = q * s2 + 1.f / 9;
    q = q * s2 + 1.f / 7;
    q = q * s2 + 1.f / 5;
    q = q * s2 + 1.f / 3;
    q = q * s2 + 1.f;
    return (x > 0.f ? x : 0.f) + 2.f * s * q;
}

TF_SSM_INLINE float silu_poly(float x) { return x / (1.f + exp_poly(-x)); }

/* Runs f(first_block, end_block) over n blocks: split over the threads when the work is large. */
template <class F>
void for_blocks(long n, long work, F f) {
    const int threads = tf_cpu_get_threads();
    if (threads <= 1 || n < 2 || work < kParallelMinWork) {
        f(0L, n);
        return;
    }
#pragma omp parallel num_threads(threads)
    {
        const long nt = omp_get_num_threads(), id = omp_get_thread_num();
        const long per = n / nt, extra = n % nt;
        const long a = id * per + (id < extra ? id : extra);
        f(a, a + per + (id < extra ? 1 : 0));
    }
}

/* Channels [d0, d1) of the conv. The window of the last width-1 inputs and the weights are kept
 * transposed ([k][channel]) so the loop over the block's channels vectorises. out may alias x:
 * x[t][d] is read before out[t][d] is written, and never read again. */
TF_SSM_INLINE void conv_block(float* out, float* state, const float* x, const float* weight, const float* bias, int tokens,
                int dim, int width, int use_silu, int d0, int d1) {
    const int h = width - 1, nd = d1 - d0;  // history length, channels in the block
    float win[TF_CPU_MAX_CONV_WIDTH][kBlock], w[TF_CPU_MAX_CONV_WIDTH][kBlock], b[kBlock];
    for (int j = 0; j < nd; j++) {
        for (int k = 0; k < h; k++) win[k][j] = state[(long)(d0 + j) * h + k];
        for (int k = 0; k < width; k++) w[k][j] = weight[(long)(d0 + j) * width + k];
        b[j] = bias ? bias[d0 + j] : 0.f;
    }
    for (long t = 0; t < tokens; t++) {
        const float* xt = x + t * dim + d0;
        float* ot = out + t * dim + d0;
        float acc[kBlock];
        for (int j = 0; j < nd; j++) acc[j] = b[j] + w[h][j] * xt[j];
        for (int k = 0; k < h; k++)
            for (int j = 0; j < nd; j++) acc[j] += w[k][j] * win[k][j];
        for (int k = 0; k + 1 < h; k++)
            for (int j = 0; j < nd; j++) win[k][j] = win[k + 1][j];
        if (h > 0)
            for (int j = 0; j < nd; j++) win[h - 1][j] = xt[j];
        if (use_silu) {
            for (int j = 0; j < nd; j++) ot[j] = silu_poly(acc[j]);
        } else {
            for (int j = 0; j < nd; j++) ot[j] = acc[j];
        }
    }
    for (int j = 0; j < nd; j++)
        for (int k = 0; k < h; k++) state[(long)(d0 + j) * h + k] = win[k][j];
}

/* Channels [d0, d1) of the scan. The block's states and A are copied transposed ([n][channel]) into
 * local arrays for the whole call, so every step is a loop over the block's channels (one AVX-512
 * vector at kBlock = 16) with no horizontal sums: per token, dt and the gate silu(z) per channel,
 * then for each state n: h = exp(dt A) h + dt u B[n], y += h C[n]. */
TF_SSM_INLINE void scan_block(float* out, float* state, const float* u, const float* delta, const float* A, const float* B,
                const float* C, const float* D, const float* z, const float* delta_bias, int tokens, int dim,
                int dstate, int delta_softplus, int d0, int d1) {
    const int nd = d1 - d0;
    float h[TF_CPU_MAX_DSTATE][kBlock], a[TF_CPU_MAX_DSTATE][kBlock];
    float bias[kBlock], skip[kBlock];
    for (int j = 0; j < kBlock; j++) {
        // lanes past the block's end compute on zeros and are never stored
        const bool in = j < nd;
        bias[j] = in && delta_bias ? delta_bias[d0 + j] : 0.f;
        skip[j] = in && D ? D[d0 + j] : 0.f;
        for (int n = 0; n < dstate; n++) {
            h[n][j] = in ? state[(long)(d0 + j) * dstate + n] : 0.f;
            a[n][j] = in ? A[(long)(d0 + j) * dstate + n] : 0.f;
        }
    }
    for (long t = 0; t < tokens; t++) {
        const float* Bt = B + t * dstate;
        const float* Ct = C + t * dstate;
        const long row = t * dim + d0;
        float dt[kBlock], dtu[kBlock], uv[kBlock], gate[kBlock], y[kBlock];
        for (int j = 0; j < kBlock; j++) {
            uv[j] = j < nd ? u[row + j] : 0.f;
            dt[j] = (j < nd ? delta[row + j] : 0.f) + bias[j];
            gate[j] = z && j < nd ? z[row + j] : 0.f;
        }
        if (delta_softplus)
            for (int j = 0; j < kBlock; j++) dt[j] = softplus_poly(dt[j]);
        for (int j = 0; j < kBlock; j++) {
            dtu[j] = dt[j] * uv[j];
            y[j] = skip[j] * uv[j];
            gate[j] = z ? silu_poly(gate[j]) : 1.f;
        }
        for (int n = 0; n < dstate; n++) {
            const float bn = Bt[n], cn = Ct[n];
            for (int j = 0; j < kBlock; j++) {
                h[n][j] = exp_poly(dt[j] * a[n][j]) * h[n][j] + dtu[j] * bn;
                y[j] += h[n][j] * cn;
            }
        }
        for (int j = 0; j < nd; j++) out[row + j] = y[j] * gate[j];
    }
    for (int j = 0; j < nd; j++)
        for (int n = 0; n < dstate; n++) state[(long)(d0 + j) * dstate + n] = h[n][j];
}

#define TF_SSM_VARIANT(attr, suffix)                                                                     \
    attr void conv_block_##suffix(float* out, float* state, const float* x, const float* weight,           \
                                  const float* bias, int tokens, int dim, int width, int use_silu, int d0, \
                                  int d1) {                                                                \
        conv_block(out, state, x, weight, bias, tokens, dim, width, use_silu, d0, d1);                     \
    }                                                                                                      \
    attr void scan_block_##suffix(float* out, float* state, const float* u, const float* delta,            \
                                  const float* A, const float* B, const float* C, const float* D,          \
                                  const float* z, const float* delta_bias, int tokens, int dim, int dstate, \
                                  int delta_softplus, int d0, int d1) {                                    \
        scan_block(out, state, u, delta, A, B, C, D, z, delta_bias, tokens, dim, dstate, delta_softplus,   \
                   d0, d1);                                                                                \
    }
TF_SSM_VARIANT(TF_SSM_AVX512, avx512)
TF_SSM_VARIANT(TF_SSM_AVX2, avx2)
TF_SSM_VARIANT(, generic)

using conv_fn = void (*)(float*, float*, const float*, const float*, const float*, int, int, int, int, int, int);
using scan_fn = void (*)(float*, float*, const float*, const float*, const float*, const float*, const float*,
                         const float*, const float*, const float*, int, int, int, int, int, int);

/* The variants of the instruction set libtransfuse_cpu uses now (tf_cpu_set_isa, TRANSFUSE_CPU_ISA). */
conv_fn conv_variant() {
    switch (tf_cpu_get_isa()) {
        case TF_CPU_ISA_AVX512: return conv_block_avx512;
        case TF_CPU_ISA_AVX2: return conv_block_avx2;
        default: return conv_block_generic;
    }
}
scan_fn scan_variant() {
    switch (tf_cpu_get_isa()) {
        case TF_CPU_ISA_AVX512: return scan_block_avx512;
        case TF_CPU_ISA_AVX2: return scan_block_avx2;
        default: return scan_block_generic;
    }
}

}  // namespace

TF_API void tf_cpu_causal_conv1d(float* out, float* conv_state, const float* x, const float* weight, const float* bias,
                                 int tokens, int dim, int width, int silu) {
    const long blocks = (dim + kBlock - 1) / kBlock;
    const conv_fn conv_block = conv_variant();
    for_blocks(blocks, (long)tokens * dim * width * 2, [=](long a, long b) {
        for (long blk = a; blk < b; blk++) {
            const int d0 = (int)(blk * kBlock), d1 = d0 + kBlock < dim ? d0 + kBlock : dim;
            conv_block(out, conv_state, x, weight, bias, tokens, dim, width, silu, d0, d1);
        }
    });
}

TF_API void tf_cpu_selective_scan(float* out, float* state, const float* u, const float* delta, const float* A,
                                  const float* B, const float* C, const float* D, const float* z,
                                  const float* delta_bias, int tokens, int dim, int dstate, int delta_softplus) {
    const long blocks = (dim + kBlock - 1) / kBlock;
    const scan_fn scan_block = scan_variant();
    for_blocks(blocks, (long)tokens * dim * dstate * 8, [=](long a, long b) {
        for (long blk = a; blk < b; blk++) {
            const int d0 = (int)(blk * kBlock), d1 = d0 + kBlock < dim ? d0 + kBlock : dim;
            scan_block(out, state, u, delta, A, B, C, D, z, delta_bias, tokens, dim, dstate, delta_softplus, d0, d1);
        }
    });
}
