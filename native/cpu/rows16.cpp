/*
 * rows16.cpp: matmul of TF_Q8_0_R16 / TF_Q4_0_R16 weights (Q8_0 / Q4_0 in groups of 16 rows, layouts in
 * transfuse.h) with AVX-512 VNNI, compiled with -mavx512f/bw/vnni. ops.cpp calls it when the VNNI table is in
 * use; other instruction sets take the plain loop in ops.cpp, which gives the same bits.
 *
 * Why this layout: in the Q8_0 vector path (matmul.inc) a vpdpbusd covers two blocks of one row and
 * each pair of blocks then needs its own int->float conversion, scale and FMA: 4 vector instructions
 * per 64 multiply-adds, so a batch of decoding sequences (compute-bound from about 4 tokens on) is
 * limited by those. Here lane j of a vector is row j of a 16-row group: the 8 vpdpbusd of a block
 * (each taking 4 bytes of x broadcast to all lanes) sum 16 rows' whole block dot products, one per
 * lane, and the conversion, scale and FMA happen once per 16 x 32 multiply-adds: 11 instructions per
 * 512. Q4_0 keeps its nibbles packed (half the bytes): each 64-byte vector holds elements 4k..4k+3 of
 * the 16 rows in its low nibbles and 16+4k..16+4k+3 in its high ones, unpacked by an and / shift once
 * per group and block for all tokens of the tile. The output of a tile is 16 rows of one token, stored
 * as they are (no horizontal sums).
 *
 * Numerics (transfuse.h, tf_cpu_matmul): x is quantised per block of 32 (d = max|x| / 127,
 * q = round-to-nearest-even(x * (127 / max|x|))); vpdpbusd multiplies the unsigned weight bytes
 * (q_w + 128 for Q8_0, the nibble q_w + 8 for Q4_0) by the signed q_x, so each lane starts at
 * -128 * sum(q_x) (or -8 *) and ends at the exact integer sum(q_w * q_x); acc = fma(float(sum),
 * d_w * d_x, acc) block after block. Every token count and tile shape runs the same per-row sequence,
 * so a row's result does not depend on the batch.
 *
 * Tiling: R groups (16 rows each) x N tokens of accumulators in registers (2 x 6: 12 f32 + 12 int32
 * vectors); threads split the row groups; the quantised x (40 bytes per block) stays in L1/L2, the
 * weights of a group pair (1 KiB per block for Q8_0) stream once per token tile.
 */
#include <immintrin.h>
#include <stdlib.h>

#include "cpu_internal.h"
#include "parallel.h"

namespace {

/* One token's quantised block of x. */
struct XBlock {
    int8_t q[32];
    float d;
    int32_t corr; /* -128 (Q8_0) or -8 (Q4_0) times sum(q): cancels the unsigned weight bytes' offset */
};

enum { RG = 2, NT = 6 }; /* row groups x tokens per register tile */

template <int T>
void quantize_row(const float* x, int nb, XBlock* out) {
    for (int b = 0; b < nb; b++) {
        const __m512 a0 = _mm512_loadu_ps(x + 32 * b), a1 = _mm512_loadu_ps(x + 32 * b + 16);
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a0), _mm512_abs_ps(a1)));
        const __m512 id = _mm512_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
        const __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(a0, id)); /* MXCSR default: nearest even */
        const __m512i i1 = _mm512_cvtps_epi32(_mm512_mul_ps(a1, id));
        _mm_storeu_si128((__m128i*)out[b].q, _mm512_cvtepi32_epi8(i0));
        _mm_storeu_si128((__m128i*)(out[b].q + 16), _mm512_cvtepi32_epi8(i1));
        out[b].d = amax / 127.0f;
        out[b].corr = (T == TF_Q8_0_R16 ? -128 : -8) * _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
    }
}

/* x's 4 bytes k (elements 4k..4k+3) of a block, in every lane. */
__attribute__((always_inline)) inline __m512i xdword(const XBlock& x, int k) {
    int32_t q4;
    __builtin_memcpy(&q4, x.q + 4 * k, 4);
    return _mm512_set1_epi32(q4);
}

/* out rows of groups g0 .. g0 + R - 1, tokens t0 .. t0 + N - 1 (xq: nb blocks per token). With PF, this is tile
 * `tile_at` of `tiles` sharing the prefetch of the pf_bytes at pf (the next row groups' weights): block b
 * prefetches part tile_at * nb + b of tiles * nb. */
template <int T, int R, int N, bool PF>
__attribute__((always_inline)) inline void tile(float* out, const XBlock* xq, const uint8_t* w, int nb, int out_dim,
                                                long g0, int t0, const uint8_t* pf, long pf_bytes, int tile_at, int tiles) {
    constexpr long QB = tf_r16_qbytes(T);
    const long gbytes = tf_r16_group_bytes(T, nb);
    const uint8_t* grp[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) grp[r] = w + (g0 + r) * gbytes;
    const XBlock* xt = xq + (long)t0 * nb;
    __m512 acc[R][N];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int t = 0; t < N; t++) acc[r][t] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        if constexpr (PF) tf_prefetch_part_l2(pf, pf_bytes, (long)tile_at * nb + b, (long)tiles * nb);
        __m512i ai[R][N];
#pragma GCC unroll 8
        for (int t = 0; t < N; t++) {
            const __m512i c = _mm512_set1_epi32(xt[(long)t * nb + b].corr);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) ai[r][t] = c;
        }
        if constexpr (T == TF_Q8_0_R16) {
#pragma GCC unroll 8
            for (int k = 0; k < 8; k++) {
                __m512i wv[R];
#pragma GCC unroll 4
                for (int r = 0; r < R; r++) wv[r] = _mm512_loadu_si512(grp[r] + b * QB + 64 * k);
#pragma GCC unroll 8
                for (int t = 0; t < N; t++) {
                    const __m512i xv = xdword(xt[(long)t * nb + b], k);
#pragma GCC unroll 4
                    for (int r = 0; r < R; r++) ai[r][t] = _mm512_dpbusd_epi32(ai[r][t], wv[r], xv);
                }
            }
        } else {
            const __m512i lo4 = _mm512_set1_epi8(0x0F);
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                __m512i lo[R], hi[R];
#pragma GCC unroll 4
                for (int r = 0; r < R; r++) {
                    const __m512i v = _mm512_loadu_si512(grp[r] + b * QB + 64 * k);
                    lo[r] = _mm512_and_si512(v, lo4);
                    hi[r] = _mm512_and_si512(_mm512_srli_epi16(v, 4), lo4);
                }
#pragma GCC unroll 8
                for (int t = 0; t < N; t++) {
                    const __m512i xl = xdword(xt[(long)t * nb + b], k), xh = xdword(xt[(long)t * nb + b], 4 + k);
#pragma GCC unroll 4
                    for (int r = 0; r < R; r++)
                        ai[r][t] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(ai[r][t], lo[r], xl), hi[r], xh);
                }
            }
        }
        __m512 dw[R];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            dw[r] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(grp[r] + (long)nb * QB + 32L * b)));
#pragma GCC unroll 8
        for (int t = 0; t < N; t++) {
            const __m512 dx = _mm512_set1_ps(xt[(long)t * nb + b].d);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++)
                acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ai[r][t]), _mm512_mul_ps(dw[r], dx), acc[r][t]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        const long row0 = (g0 + r) * TF_R16;
        const int rows = out_dim - row0 < TF_R16 ? (int)(out_dim - row0) : TF_R16;
        const __mmask16 m = (__mmask16)((1u << rows) - 1);
#pragma GCC unroll 8
        for (int t = 0; t < N; t++) _mm512_mask_storeu_ps(out + (long)(t0 + t) * out_dim + row0, m, acc[r][t]);
    }
}

/* PF: the variant that prefetches (its own instantiation: the one without keeps the plain loop that one token runs) */
template <int T, int R, int N, bool PF>
void tile_fn(float* out, const XBlock* xq, const uint8_t* w, int nb, int out_dim, long g0, int t0, const uint8_t* pf,
             long pf_bytes, int tile_at, int tiles) {
    tile<T, R, N, PF>(out, xq, w, nb, out_dim, g0, t0, pf, pf_bytes, tile_at, tiles);
}

/* Tokens [t0, t1) of groups g0 .. g0 + R - 1; the tiles share the prefetch of pf_bytes at pf (nullptr: none; see
 * pairs). */
template <int T, int R>
void tokens(float* out, const XBlock* xq, const uint8_t* w, int nb, int out_dim, long g0, int t0, int t1,
            const uint8_t* pf, long pf_bytes) {
    typedef void (*fn)(float*, const XBlock*, const uint8_t*, int, int, long, int, const uint8_t*, long, int, int);
    static constexpr fn fns[NT] = {tile_fn<T, R, 1, false>, tile_fn<T, R, 2, false>, tile_fn<T, R, 3, false>,
                                   tile_fn<T, R, 4, false>, tile_fn<T, R, 5, false>, tile_fn<T, R, 6, false>};
    static constexpr fn fnp[NT] = {tile_fn<T, R, 1, true>, tile_fn<T, R, 2, true>, tile_fn<T, R, 3, true>,
                                   tile_fn<T, R, 4, true>, tile_fn<T, R, 5, true>, tile_fn<T, R, 6, true>};
    const int tiles = (t1 - t0 + NT - 1) / NT;
    for (int j = 0; t0 < t1; t0 += NT, j++) {
        const int n = t1 - t0 < NT ? t1 - t0 : NT;
        (pf ? fnp : fns)[n - 1](out, xq, w, nb, out_dim, g0, t0, pf, pf_bytes, j, tiles);
    }
}

/* Row-group pairs [p0, p1) (the last may be a single group), all tokens. */
template <int T>
void pairs(float* out, const XBlock* xq, const uint8_t* w, int tokens_n, int nb, int out_dim, long groups, long p0,
           long p1) {
    /* tokens per pass: about 256 KiB of quantised x, which then stays in L2 across the row groups */
    const long gbytes = tf_r16_group_bytes(T, nb);
    int tchunk = (int)((256L * 1024) / ((long)nb * (long)sizeof(XBlock)));
    tchunk = tchunk < NT ? NT : tchunk / NT * NT;
    for (int c0 = 0; c0 < tokens_n; c0 += tchunk) {
        const int c1 = c0 + tchunk < tokens_n ? c0 + tchunk : tokens_n;
        for (long p = p0; p < p1; p++) {
            const long g = p * RG;
            /* The first pass over a pair's weights reads them from DRAM (a model's weights do not stay in cache
             * from one step to the next), and the hardware prefetcher alone does not run far enough ahead to
             * overlap that with the tiles' arithmetic: 16 tokens from DRAM took 1.8x their in-cache time
             * (transfuse_cpu_bench q8 with TRANSFUSE_BENCH_COPIES=64). So while a pair is computed, the next
             * pair's weights are prefetched into L2, spread evenly over its tiles and blocks: 16 tokens
             * ~1.4x faster from DRAM. One token has almost no arithmetic to hide a prefetch behind; there it
             * was no faster (Q8_0) and is left to the hardware. */
            const long ga = g + RG;
            const long next = p + 1 < p1 && tokens_n >= 2 ? (ga + RG <= groups ? (long)RG : groups - ga) : 0;
            const uint8_t* pf = c0 == 0 && next > 0 ? w + ga * gbytes : nullptr;
            if (g + RG <= groups) tokens<T, RG>(out, xq, w, nb, out_dim, g, c0, c1, pf, next * gbytes);
            else tokens<T, 1>(out, xq, w, nb, out_dim, g, c0, c1, pf, next * gbytes);
        }
    }
}

/* The calling thread's quantised-x buffer: grown when a larger call comes, never shrunk. */
thread_local XBlock* g_xq = nullptr;
thread_local long g_xq_cap = 0;

template <int T>
void matmul(float* out, const float* x, const uint8_t* w, int tokens_n, int in_dim, int out_dim, int threads) {
    const int nb = in_dim / TF_QK;
    const long blocks = (long)tokens_n * nb;
    if (blocks > g_xq_cap) {
        free(g_xq);
        g_xq = (XBlock*)aligned_alloc(64, ((size_t)blocks * sizeof(XBlock) + 63) / 64 * 64);
        g_xq_cap = g_xq ? blocks : 0;
    }
    XBlock* xq = g_xq;
    if (!xq) return; /* out of memory: leaves out as it was (the Java side validated everything else) */
    const long groups = (out_dim + TF_R16 - 1) / TF_R16, npairs = (groups + RG - 1) / RG;
    if (threads <= 1 || npairs < 2 || (long)tokens_n * in_dim * out_dim < TF_PARALLEL_MIN_WORK) {
        for (int t = 0; t < tokens_n; t++) quantize_row<T>(x + (long)t * in_dim, nb, xq + (long)t * nb);
        pairs<T>(out, xq, w, tokens_n, nb, out_dim, groups, 0, npairs);
        return;
    }
    /* x first (few tokens: on the caller, TF_QUANTIZE_PARALLEL_MIN), then the row groups */
    tf_parallel_chunks(tf_quantize_threads(tokens_n, in_dim, threads), tokens_n, [&](long a, long b, int) {
        for (long t = a; t < b; t++) quantize_row<T>(x + t * in_dim, nb, xq + t * nb);
    });
    tf_parallel_chunks(threads, npairs,
                       [&](long a, long b, int) { pairs<T>(out, xq, w, tokens_n, nb, out_dim, groups, a, b); });
}

}  // namespace

void tf_r16_matmul_vnni(float* out, const float* x, const void* w, int w_type, int tokens_n, int in_dim, int out_dim,
                        int threads) {
    if (w_type == TF_Q8_0_R16) matmul<TF_Q8_0_R16>(out, x, (const uint8_t*)w, tokens_n, in_dim, out_dim, threads);
    else matmul<TF_Q4_0_R16>(out, x, (const uint8_t*)w, tokens_n, in_dim, out_dim, threads);
}
