/*
 * amx_q8.cpp: Q8_0 matmul for many tokens (prefill) with AMX int8 tiles (Sapphire Rapids and
 * later), compiled with -mamx-tile -mamx-int8 -mavx512f/bw. ops.cpp calls it for Q8_0 weights and
 * tokens >= 16 when tf_amx_features() has TF_AMX_INT8 (CPUID AMX-TILE + AMX-INT8, the OS granted
 * the tile state through arch_prctl) and TRANSFUSE_CPU_AMX is not 0; everything else stays on the ISA tables.
 *
 * Numerics are those of the integer path in matmul.inc: x quantised per block of 32
 * (d = max|x| / 127, q = round(x * 127 / max|x|)), exact int32 dot products per block, scaled by
 * d_w * d_x and summed in f32 (in a different order than the vector path, so results agree to
 * f32 rounding, not bit for bit).
 *
 * Tiling: C (tmm0, 16 x 16 int32) = A (tmm1: 16 weight rows x 32 int8 of one block, loaded straight
 * from the Q8_0 rows with the row stride) . B (tmm2: the same block of 16 tokens, 8 rows x 64 bytes
 * in the VNNI layout B[k/4][4 t + k%4], written so by the quantiser). One tdpbssd per block
 * (8192 MACs); C is stored (1 KiB, L1) and each of its 16 rows (one weight row, 16 tokens) is scaled
 * by d_w[row] * d_x[tokens] into 16 f32 accumulators. Per-block scales are why C leaves the tile
 * every 32 columns. Weight rows are split over threads in tiles of 16; a thread walks all token
 * groups of a row tile, so the tile's weights (16 x 34 bytes per block) stay in L1/L2 while the
 * packed x (about 1.1 bytes per value) streams from L2. Rows beyond the last full tile are copied
 * into a zero-padded 16-row buffer; tokens beyond the last full group are zero (q = 0, d = 0).
 */
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cpu_internal.h"
#include "parallel.h"

namespace {

enum { TT = 16, BBYTES = 512 }; /* tokens per group; bytes of one packed B tile */

/* One token group's packed x: for each block, the B tile then the 16 token scales. */
static inline uint8_t* group_base(uint8_t* xp, long g, int nb) { return xp + g * (long)nb * (BBYTES + TT * 4); }

/* Token t (< TT) of a group: quantise its row into the packed layout. */
static void quantize_token(const float* x, int nb, uint8_t* gbase, int t) {
    for (int b = 0; b < nb; b++) {
        uint8_t* tile = gbase + (long)b * (BBYTES + TT * 4);
        float* dx = (float*)(tile + BBYTES);
        const __m512 a0 = _mm512_loadu_ps(x + 32 * b), a1 = _mm512_loadu_ps(x + 32 * b + 16);
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a0), _mm512_abs_ps(a1)));
        const __m512 id = _mm512_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
        alignas(32) int8_t q[32];
        _mm_store_si128((__m128i*)q, _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(a0, id))));
        _mm_store_si128((__m128i*)(q + 16), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(a1, id))));
        for (int k4 = 0; k4 < 8; k4++) memcpy(tile + k4 * 64 + t * 4, q + 4 * k4, 4);
        dx[t] = amax / 127.0f;
    }
}

static void zero_token(int nb, uint8_t* gbase, int t) {
    for (int b = 0; b < nb; b++) {
        uint8_t* tile = gbase + (long)b * (BBYTES + TT * 4);
        for (int k4 = 0; k4 < 8; k4++) memset(tile + k4 * 64 + t * 4, 0, 4);
        ((float*)(tile + BBYTES))[t] = 0.0f;
    }
}

/* Rows [r0, r0 + 16) (rows past out_dim are zero weights, not written), all token groups. */
static void row_tile(float* out, const uint8_t* xp, const uint8_t* w, long row_bytes, int nb, int tokens, int out_dim,
                     int r0, float* dw, uint8_t* pad) {
    const int nrows = out_dim - r0 < 16 ? out_dim - r0 : 16;
    const uint8_t* a = w + (long)r0 * row_bytes + 2; /* block 0's quants of row r0 */
    long a_stride = row_bytes;
    if (nrows < 16) { /* copy the partial tile's quants into 16 zero-padded rows of 32 bytes per block */
        memset(pad, 0, (size_t)16 * nb * 32);
        for (int r = 0; r < nrows; r++)
            for (int b = 0; b < nb; b++) memcpy(pad + ((long)r * nb + b) * 32, w + (long)(r0 + r) * row_bytes + b * TF_Q8_0_BYTES + 2, 32);
        a = pad;
        a_stride = (long)nb * 32;
    }
    const long a_block = nrows < 16 ? 32 : TF_Q8_0_BYTES;
    for (int b = 0; b < nb; b++)
        for (int r = 0; r < 16; r++)
            dw[b * 16 + r] = r < nrows ? _cvtsh_ss(tf_load_u16(w + (long)(r0 + r) * row_bytes + b * TF_Q8_0_BYTES)) : 0.0f;
    alignas(64) int32_t c[16 * 16];
    alignas(64) float res[16 * 16];
    const int groups = (tokens + TT - 1) / TT;
    for (int g = 0; g < groups; g++) {
        const uint8_t* gb = group_base((uint8_t*)xp, g, nb);
        __m512 acc[16];
        for (int r = 0; r < 16; r++) acc[r] = _mm512_setzero_ps();
        for (int b = 0; b < nb; b++) {
            const uint8_t* tile = gb + (long)b * (BBYTES + TT * 4);
            _tile_zero(0);
            _tile_loadd(1, a + b * a_block, a_stride);
            _tile_loadd(2, tile, 64);
            _tile_dpbssd(0, 1, 2);
            _tile_stored(0, c, 64);
            const __m512 dx = _mm512_load_ps((const float*)(tile + BBYTES));
            const float* dwb = dw + b * 16;
#pragma GCC unroll 16
            for (int r = 0; r < 16; r++)
                acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(c + 16 * r)),
                                         _mm512_mul_ps(_mm512_set1_ps(dwb[r]), dx), acc[r]);
        }
        for (int r = 0; r < 16; r++) _mm512_store_ps(res + 16 * r, acc[r]);
        const int nt = tokens - g * TT < TT ? tokens - g * TT : TT;
        for (int t = 0; t < nt; t++)
            for (int r = 0; r < nrows; r++) out[(long)(g * TT + t) * out_dim + r0 + r] = res[16 * r + t];
    }
}

/* Per-thread buffers, grown when a larger call comes and never shrunk (no allocation once warm):
 * the calling thread's packed x, and each worker's row-tile scales and partial-tile rows. */
static thread_local uint8_t* g_xp = nullptr;
static thread_local long g_xp_cap = 0;
static thread_local float* g_dw = nullptr;
static thread_local uint8_t* g_pad = nullptr;
static thread_local int g_nb_cap = 0;

static bool worker_buffers(int nb) {
    if (nb <= g_nb_cap) return true;
    free(g_dw);
    free(g_pad);
    g_dw = (float*)aligned_alloc(64, (size_t)nb * 16 * 4);  /* multiples of 64 bytes */
    g_pad = (uint8_t*)aligned_alloc(64, (size_t)nb * 16 * 32);
    g_nb_cap = g_dw && g_pad ? nb : 0;
    return g_nb_cap != 0;
}

}  // namespace

/* TF_AMX_INT8 / TF_AMX_BF16 for the tile instruction sets this CPU has (CPUID.(7,0):EDX bit 24
 * AMX-TILE, 25 AMX-INT8, 22 AMX-BF16; TF_AMX_BF16 also needs AVX512_BF16, CPUID.(7,1):EAX bit 5, for
 * amx_f32.cpp's conversions), when the OS enabled the tile state (XCR0 bits 17-18) and granted it to
 * this process (Linux arch_prctl ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18). */
int tf_amx_features(void) {
    unsigned a, b, c, d, a1, b1, c1, d1;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
    __asm__ volatile("cpuid" : "=a"(a1), "=b"(b1), "=c"(c1), "=d"(d1) : "a"(7), "c"(1));
    if (!((d >> 24) & 1)) return 0;
    const int features = ((d >> 25) & 1 ? TF_AMX_INT8 : 0) | ((d >> 22) & 1 && (a1 >> 5) & 1 ? TF_AMX_BF16 : 0);
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0x60000u) != 0x60000u) return 0;
    return syscall(SYS_arch_prctl, 0x1023, 18) == 0 ? features : 0;
}

/* out[t][o] = sum_i W[o][i] x[t][i] for Q8_0 W (in_dim % 32 == 0). Returns 0 when out of memory
 * (then nothing was written and the caller uses the vector path). */
int tf_amx_q8_matmul(float* out, const float* x, const void* w, int tokens, int in_dim, int out_dim, int threads) {
    const int nb = in_dim / TF_QK;
    const long row_bytes = (long)nb * TF_Q8_0_BYTES;
    const long groups = (tokens + TT - 1) / TT;
    const long need = groups * nb * (BBYTES + TT * 4);
    if (need > g_xp_cap) {
        free(g_xp);
        g_xp = (uint8_t*)aligned_alloc(64, (size_t)(need + 63) / 64 * 64);
        g_xp_cap = g_xp ? need : 0;
        if (!g_xp) return 0;
    }
    uint8_t* xp = g_xp;
    const int tiles = (out_dim + 15) / 16;
    if (threads > tiles) threads = tiles;
    if (threads < 1) threads = 1;
    int ok = 1; /* cleared (atomically: any thread may) when a thread cannot get its buffers */
    tf_parallel_chunks(threads, groups * TT, [&](long a, long b, int) {
        for (long t = a; t < b; t++) {
            uint8_t* gb = group_base(xp, t / TT, nb);
            if (t < tokens) quantize_token(x + t * (long)in_dim, nb, gb, (int)(t % TT));
            else zero_token(nb, gb, (int)(t % TT));
        }
    });
    tf_parallel_chunks(threads, tiles, [&](long a, long b, int) {
        /* per chunk: the thread's row-tile scales and partial-tile rows, and the tile configuration */
        if (!worker_buffers(nb)) {
            __atomic_store_n(&ok, 0, __ATOMIC_RELAXED);
            return;
        }
        tf_tile_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.palette = 1;
        cfg.colsb[0] = 64; cfg.rows[0] = 16; /* C: 16 rows x 16 int32 */
        cfg.colsb[1] = 32; cfg.rows[1] = 16; /* A: 16 weight rows x 32 int8 */
        cfg.colsb[2] = 64; cfg.rows[2] = 8;  /* B: 8 rows x (16 tokens x 4 int8) */
        _tile_loadconfig(&cfg);
        for (long it = a; it < b; it++)
            row_tile(out, xp, (const uint8_t*)w, row_bytes, nb, tokens, out_dim, (int)it * 16, g_dw, g_pad);
        _tile_release();
    });
    return ok;
}
