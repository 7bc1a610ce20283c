/*
 * amx_f32.cpp: F32 matmul on AMX bf16 tiles with three-part splitting ("bf16x3"), for TF_F32_AMX
 * weights (layout in cpu_internal.h; packed once at load by tf_cpu_pack_f32_amx). Compiled with
 * -mamx-tile -mamx-bf16 -mavx512bf16 -mavx512f/bw; ops.cpp calls it only when tf_amx_features() has
 * TF_AMX_BF16.
 *
 * Why: a tdpbf16ps does 16 x 16 x 32 multiply-adds; one core then does several times the FP32 FMA
 * rate of AVX-512, enough to pay for six bf16 products per f32 product. Each f32 is split exactly
 * into h + m + l (bf16, cpu_internal.h), and x . w is taken as
 *     m.m + m.h + l.h + h.h + h.m + h.l    (an order in which one operand changes per step),
 * leaving out m.l, l.m and l.l, which together are below 2^-24 |x w|. The tile unit multiplies bf16
 * exactly and accumulates in f32 (round to nearest even; denormal inputs and results are zero), so
 * the result is an f32-accurate dot product, though not the bit pattern of a plain f32 loop:
 * measured on all-MiniLM-L6-v2's shapes, the largest error is about 1.5 units of f32 rounding of
 * sum |x w|, within the bound the tests hold every matmul to.
 *
 * Tiling: C = 2 x 2 tiles of 16 x 16 f32 (32 tokens x 32 columns, tmm0-3), A = x tiles of 16 tokens
 * x 32 k (tmm4-5, one per row block), B = weight tiles (tmm6-7, one per column block). Per 32 k:
 * 24 tdpbf16ps and 14 tile loads. Columns are split over the threads in pairs of 16. Each thread
 * walks x in chunks of about 1 MiB once split, splitting each chunk itself into the tile order (tokens
 * padded with zero rows to 16, k to 32) right before using it, so that it stays in the thread's L2:
 * with all of x split up front and shared, the split copy (1.5x the size of x) went out to L3 and
 * back; splitting per thread does the cheap split twice but measured 1.07-1.12x faster on
 * all-MiniLM-L6-v2's layer matmuls (transfuse_cpu_bench, 2 threads). Per column pair, the
 * chunk's tokens go 32 at a time, so that the pair's weight tiles are reused from L1/L2.
 */
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"
#include "parallel.h"

namespace {

/* Row r of x (zeros past `tokens`) into row i of a split chunk: the three parts of every k tile of
 * row block i / 16, 32 values per tile row, each part stored as 32 bf16. vcvtne2ps2bf16 rounds to
 * nearest even like tf_bf16_rne (it also flushes denormals, which the tile unit would read as zero). */
static void split_row(uint16_t* xp, const float* x, int tokens, int in_dim, int kt, long r, int i) {
    const int rb = i / 16;
    uint16_t* dst = xp + (i % 16) * 32;
    for (int kb = 0; kb < kt; kb++) {
        __m512 v[2];
        for (int half = 0; half < 2; half++) {
            const int k0 = kb * 32 + half * 16;
            const int n = r >= tokens ? 0 : in_dim - k0 >= 16 ? 16 : in_dim - k0 > 0 ? in_dim - k0 : 0;
            v[half] = _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), x + r * in_dim + k0);
        }
        for (int p = 0; p < 3; p++) {
            const __m512bh b = _mm512_cvtne2ps_pbh(v[1], v[0]); /* v[0] in the low half */
            _mm512_storeu_si512(dst + tf_amx_f32_tile(rb, p, kb, kt), (__m512i)b);
            const __m512i wide = (__m512i)b;
            v[0] = _mm512_sub_ps(v[0], _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(wide)), 16)));
            v[1] = _mm512_sub_ps(v[1], _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(wide, 1)), 16)));
        }
    }
}

/* Writes C tile `tile` (16 x 16 f32) to rows [r0, r0 + 16) x columns [c0, c0 + 16) of out, the
 * part inside tokens x out_dim. */
#define STORE_C(tile, r0, c0)                                                                   \
    do {                                                                                        \
        if ((r0) + 16 <= tokens && (c0) + 16 <= out_dim) {                                      \
            _tile_stored(tile, out + (long)(r0) * out_dim + (c0), (long)out_dim * 4);           \
        } else if ((r0) < tokens && (c0) < out_dim) {                                           \
            alignas(64) float tmp[16 * 16];                                                     \
            _tile_stored(tile, tmp, 64);                                                        \
            const int nr = tokens - (r0) < 16 ? tokens - (r0) : 16;                             \
            const int nc = out_dim - (c0) < 16 ? out_dim - (c0) : 16;                           \
            for (int i = 0; i < nr; i++)                                                        \
                memcpy(out + (long)((r0) + i) * out_dim + (c0), tmp + i * 16, (size_t)nc * 4); \
        }                                                                                       \
    } while (0)

/* Rows [r0, r0 + 16 R) (R = 1 or 2 row blocks) x the columns of pair cp; the rows' split x starts at
 * row block `rb` of the chunk xp. */
template <int R>
static void block(float* out, const uint16_t* xp, int rb, const uint16_t* w, int kt, int tokens, int out_dim, int r0,
                  int cp) {
    const long part = (long)kt * 512, rstride = 3 * part; /* elements between parts / row or column blocks */
    const uint16_t* a = xp + tf_amx_f32_tile(rb, 0, 0, kt);
    const uint16_t* b = w + tf_amx_f32_tile(2 * cp, 0, 0, kt);
    _tile_zero(0);
    _tile_zero(1);
    if (R == 2) {
        _tile_zero(2);
        _tile_zero(3);
    }
#define LOAD_A(p)                                            \
    _tile_loadd(4, a + (p) * part, 64);                      \
    if (R == 2) _tile_loadd(5, a + (p) * part + rstride, 64);
#define LOAD_B(p)                       \
    _tile_loadd(6, b + (p) * part, 64); \
    _tile_loadd(7, b + (p) * part + rstride, 64);
    /* B tile 6 is released first, so that its next load can start while tile 7's products run */
#define PRODUCTS                                \
    _tile_dpbf16ps(0, 4, 6);                    \
    if (R == 2) _tile_dpbf16ps(2, 5, 6);        \
    _tile_dpbf16ps(1, 4, 7);                    \
    if (R == 2) _tile_dpbf16ps(3, 5, 7);
    for (int kb = 0; kb < kt; kb++, a += 512, b += 512) {
        /* one operand changes per step: 14 tile loads */
        LOAD_A(1) LOAD_B(1) PRODUCTS /* m.m */
        LOAD_B(0) PRODUCTS           /* m.h */
        LOAD_A(2) PRODUCTS           /* l.h */
        LOAD_A(0) PRODUCTS           /* h.h */
        LOAD_B(1) PRODUCTS           /* h.m */
        LOAD_B(2) PRODUCTS           /* h.l */
    }
#undef LOAD_A
#undef LOAD_B
#undef PRODUCTS
    const int c0 = cp * 32;
    STORE_C(0, r0, c0);
    STORE_C(1, r0, c0 + 16);
    if (R == 2) {
        STORE_C(2, r0 + 16, c0);
        STORE_C(3, r0 + 16, c0 + 16);
    }
}

/* Tokens per chunk of x: about 1 MiB split (6 bytes per value), which stays in L2 while the thread's
 * column pairs pass over it; a multiple of 32, at most the tokens rounded up to 16. */
static int chunk_rows(int tokens, int kt) {
    int chunk = (int)((1L << 20) / ((long)kt * 32 * 6)) / 32 * 32;
    if (chunk < 32) chunk = 32;
    const int rows = (tokens + 15) / 16 * 16;
    return chunk < rows ? chunk : rows;
}

/* Column pairs [cp0, cp1) for all tokens, x chunk by x chunk: the thread splits each chunk into its
 * own buffer xp (chunk_rows rows), then runs every pair over it; epi on each chunk x pair. */
static void pairs(float* out, const float* x, uint16_t* xp, const uint16_t* w, int in_dim, int tokens, int out_dim,
                  int cp0, int cp1, const tf_epilogue* epi) {
    const int kt = tf_amx_k_tiles(in_dim), rows = (tokens + 15) / 16 * 16, chunk = chunk_rows(tokens, kt);
    for (int t0 = 0; t0 < rows; t0 += chunk) {
        const int t1 = t0 + chunk < rows ? t0 + chunk : rows;
        for (int r = t0; r < t1; r++) split_row(xp, x, tokens, in_dim, kt, r, r - t0);
        for (int cp = cp0; cp < cp1; cp++) {
            int t = t0;
            for (; t + 32 <= t1; t += 32) block<2>(out, xp, (t - t0) / 16, w, kt, tokens, out_dim, t, cp);
            if (t < t1) block<1>(out, xp, (t - t0) / 16, w, kt, tokens, out_dim, t, cp);
            if (epi) {
                const int c1 = (cp + 1) * 32 < out_dim ? (cp + 1) * 32 : out_dim;
                epi->fn(out, out_dim, epi->bias, epi->act, t0, t1 < tokens ? t1 : tokens, cp * 32, c1);
            }
        }
    }
}

/* The calling thread's buffer for every thread's split chunk, grown when a larger call comes and never
 * shrunk (no allocation once warm). */
static thread_local uint16_t* g_xp = nullptr;
static thread_local long g_xp_cap = 0;

}  // namespace

int tf_amx_f32_matmul(float* out, const float* x, const void* w, int tokens, int in_dim, int out_dim, int threads,
                      const tf_epilogue* epi) {
    const int kt = tf_amx_k_tiles(in_dim), cps = tf_amx_col_pairs(out_dim);
    if (threads > cps) threads = cps;
    if ((long)tokens * in_dim * out_dim < TF_PARALLEL_MIN_WORK) threads = 1;
    const long per_thread = (long)chunk_rows(tokens, kt) / 16 * 3 * kt * 512; /* bf16 elements */
    const long need = per_thread * threads;
    if (need > g_xp_cap) {
        free(g_xp);
        g_xp = (uint16_t*)aligned_alloc(64, (size_t)need * 2);
        g_xp_cap = g_xp ? need : 0;
        if (!g_xp) return 0;
    }
    uint16_t* xp = g_xp;
    /* One chunk per thread, each with its own slice of xp (the worker id picks it): every chunk re-splits
     * x, so more chunks would repeat that work; a late worker's chunk is still taken by another thread. */
    auto chunk = [&](long cp0, long cp1, int id) {
        tf_tile_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.palette = 1;
        for (int i = 0; i < 8; i++) { /* every tile 16 rows x 64 bytes */
            cfg.rows[i] = 16;
            cfg.colsb[i] = 64;
        }
        _tile_loadconfig(&cfg);
        pairs(out, x, xp + id * per_thread, (const uint16_t*)w, in_dim, tokens, out_dim, (int)cp0, (int)cp1, epi);
        _tile_release();
    };
    tf_pool_run(threads, cps, threads, tf_chunk_trampoline<decltype(chunk)>, &chunk);
    return 1;
}
