/*
 * quant_blocks.h: the ggml block types beyond Q8_0/Q4_0 (Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K), unpacked
 * into one integer form that both the embedding gather (dequantisation, ops.cpp) and the matmul
 * (kquant.inc) read. Only static inline functions (cpu_internal.h: every ISA unit gets its own copy).
 *
 * Layouts, from the ggml specification (ggml/src/ggml-common.h; values as ggml's dequantize_row_*):
 *   Q4_1  (20 B / 32): f16 d, f16 m, qs[16]: element j low nibble of qs[j], j+16 high nibble; d q + m
 *   Q5_0  (22 B / 32): f16 d, qh[4] (u32, bit j = 5th bit of element j), qs[16] as Q4_1; d (q - 16)
 *   Q5_1  (24 B / 32): f16 d, f16 m, qh[4], qs[16]; d q + m
 *   Q4_K (144 B / 256): f16 d, f16 dmin, scales[12] (8 six-bit scales sc and mins m, packed: j < 4:
 *         sc = s[j] & 63, m = s[j+4] & 63; j >= 4: sc = (s[j+4] & 15) | (s[j-4] >> 6) << 4,
 *         m = (s[j+4] >> 4) | (s[j] >> 6) << 4), qs[128]: 64-element chunk c holds sub-blocks 2c (low
 *         nibbles of qs[32c..32c+31]) and 2c+1 (high nibbles); element value d sc q - dmin m
 *   Q5_K (176 B / 256): as Q4_K plus qh[32] after the scales: bit 2c of qh[l] is the 5th bit of element
 *         64c + l, bit 2c+1 that of element 64c + 32 + l
 *   Q6_K (210 B / 256): ql[128], qh[64], int8 scales[16], f16 d; 128-element half n, l < 32:
 *         element 128n + 32k + l = (4 low bits: ql[64n + l + 32 (k & 1)] >> 4 (k >> 1)) |
 *         (2 high bits: qh[32n + l] >> 2k) << 4; value d scales[e / 16] (q - 32)
 */
#ifndef TRANSFUSE_QUANT_BLOCKS_H
#define TRANSFUSE_QUANT_BLOCKS_H

#include "cpu_internal.h"
#ifdef __AVX2__
#include <immintrin.h>
#endif

/* One super-block (256 elements) in integer form. K-quants: element e = D sc[e/16] q[e] - M mn[e/16]
 * (Q6_K: q = the stored 6 bits, unsigned, mn = 32 sc, M = D). Blocks of 32 (nblk of them, up to 8):
 * element e = fd[e/32] q[e] + fm[e/32] (Q5_0: fm = -16 d). q is unsigned (at most 63) so that it can be
 * the unsigned operand of the int8 dot products. */
struct tf_kq_unpacked {
    alignas(64) uint8_t q[TF_QK_K];
    int16_t sc[16], mn[16];
    float D, M;
    float fd[8], fm[8];
    int nblk;
};

/* half -> float: F16C where the unit has it (one instruction), else the portable conversion. */
static inline float tf_kq_h2f(const uint8_t* p) {
#ifdef __F16C__
    return _cvtsh_ss(tf_load_u16(p));
#else
    return tf_f16_to_f32(tf_load_u16(p));
#endif
}

/* The 8 scales and 8 mins of a Q4_K/Q5_K super-block, each written twice (once per group of 16) as
 * int16: tf_k4_scale_min for all j at once, on the 12 bytes as three little-endian words (the two high
 * bits of bytes 0-7 move to bits 4-5 of the upper scales and mins; no branches, no per-byte loop). */
static inline void tf_k4_scales_mins(const uint8_t* s, int16_t* sc, int16_t* mn) {
    uint32_t u0, u1, u2;
    memcpy(&u0, s, 4);
    memcpy(&u1, s + 4, 4);
    memcpy(&u2, s + 8, 4);
    const uint64_t sc8 = (uint64_t)(u0 & 0x3f3f3f3fu) | (uint64_t)((u2 & 0x0f0f0f0fu) | ((u0 >> 2) & 0x30303030u)) << 32;
    const uint64_t m8 = (uint64_t)(u1 & 0x3f3f3f3fu) | (uint64_t)(((u2 >> 4) & 0x0f0f0f0fu) | ((u1 >> 2) & 0x30303030u)) << 32;
#ifdef __AVX2__
    __m128i a = _mm_cvtsi64_si128((long long)sc8), m = _mm_cvtsi64_si128((long long)m8);
    _mm256_storeu_si256((__m256i*)sc, _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(a, a)));
    _mm256_storeu_si256((__m256i*)mn, _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m, m)));
#else
    for (int j = 0; j < 8; j++) {
        sc[2 * j] = sc[2 * j + 1] = (int16_t)((sc8 >> (8 * j)) & 0xff);
        mn[2 * j] = mn[2 * j + 1] = (int16_t)((m8 >> (8 * j)) & 0xff);
    }
#endif
}

/* Nibbles of a 32-element block: element j low nibble of qs[j], j + 16 high nibble. */
static inline void tf_unpack_nibbles32(uint8_t* q, const uint8_t* qs) {
    for (int j = 0; j < 16; j++) {
        q[j] = qs[j] & 15;
        q[j + 16] = qs[j] >> 4;
    }
}

static inline void tf_add_high_bits32(uint8_t* q, const uint8_t* qh4) {
    uint32_t qh;
    memcpy(&qh, qh4, 4);
    for (int j = 0; j < 32; j++) q[j] |= ((qh >> j) & 1) << 4;
}

/* Super-block `sb` of a row of type `type` with `n` elements in the row (blocks of 32 may end in a
 * partial super-block). */
static inline void tf_kq_unpack(tf_kq_unpacked* u, int type, const uint8_t* row, int sb, int n) {
    if (type == TF_Q4_K || type == TF_Q5_K) {
        const uint8_t* b = row + (long)sb * (type == TF_Q4_K ? TF_Q4_K_BYTES : TF_Q5_K_BYTES);
        u->D = tf_kq_h2f(b);
        u->M = tf_kq_h2f(b + 2);
        const uint8_t* s = b + 4;
        tf_k4_scales_mins(s, u->sc, u->mn);
        const uint8_t* qs = s + 12 + (type == TF_Q5_K ? 32 : 0);
        /* local copies: the byte pointers may alias u->q as far as the compiler knows, which would keep
         * these loops scalar */
        uint8_t ql[128], qh[32];
        memcpy(ql, qs, 128);
        if (type == TF_Q5_K) memcpy(qh, s + 12, 32);
        else memset(qh, 0, 32);
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++) {
                u->q[64 * c + l] = (uint8_t)((ql[32 * c + l] & 15) | ((qh[l] >> (2 * c)) & 1) << 4);
                u->q[64 * c + 32 + l] = (uint8_t)((ql[32 * c + l] >> 4) | ((qh[l] >> (2 * c + 1)) & 1) << 4);
            }
        u->nblk = 8;
    } else if (type == TF_Q6_K) {
        const uint8_t* b = row + (long)sb * TF_Q6_K_BYTES;
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t* scales = (const int8_t*)(b + 192);
        u->D = u->M = tf_kq_h2f(b + 208);
#ifdef __AVX2__
        const __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)scales));
        _mm256_storeu_si256((__m256i*)u->sc, sc);
        _mm256_storeu_si256((__m256i*)u->mn, _mm256_slli_epi16(sc, 5));
#else
        for (int g = 0; g < 16; g++) {
            u->sc[g] = scales[g];
            u->mn[g] = (int16_t)(32 * scales[g]);
        }
#endif
        for (int n = 0; n < 2; n++)
            for (int l = 0; l < 32; l++) {
                const uint8_t h = qh[32 * n + l], lo = ql[64 * n + l], hi = ql[64 * n + 32 + l];
                uint8_t* q = u->q + 128 * n + l;
                q[0] = (lo & 15) | (h & 3) << 4;
                q[32] = (hi & 15) | ((h >> 2) & 3) << 4;
                q[64] = (lo >> 4) | ((h >> 4) & 3) << 4;
                q[96] = (hi >> 4) | ((h >> 6) & 3) << 4;
            }
        u->nblk = 8;
    } else {
        const int bytes = tf_kq_block_bytes(type);
        const int b0 = sb * 8, nb = n / TF_QK - b0 < 8 ? n / TF_QK - b0 : 8;
        for (int i = 0; i < 8; i++) {
            uint8_t* q = u->q + 32 * i;
            if (i >= nb) {
                memset(q, 0, 32);
                u->fd[i] = u->fm[i] = 0.0f;
                continue;
            }
            const uint8_t* b = row + (long)(b0 + i) * bytes;
            const float d = tf_kq_h2f(b);
            u->fd[i] = d;
            if (type == TF_Q4_1) {
                u->fm[i] = tf_kq_h2f(b + 2);
                tf_unpack_nibbles32(q, b + 4);
            } else if (type == TF_Q5_0) {
                u->fm[i] = -16.0f * d;
                tf_unpack_nibbles32(q, b + 6);
                tf_add_high_bits32(q, b + 2);
            } else {
                u->fm[i] = tf_kq_h2f(b + 2);
                tf_unpack_nibbles32(q, b + 8);
                tf_add_high_bits32(q, b + 4);
            }
        }
        u->nblk = nb;
    }
}

/* Dequantises one row of `n` elements of a kq type (tf_is_kq_type) into out. */
static inline void tf_kq_dequant_row(float* out, const uint8_t* row, int type, int n) {
    tf_kq_unpacked u;
    const int nsb = (n + TF_QK_K - 1) / TF_QK_K;
    for (int sb = 0; sb < nsb; sb++) {
        tf_kq_unpack(&u, type, row, sb, n);
        float* o = out + (long)sb * TF_QK_K;
        if (type == TF_Q6_K) {
            for (int e = 0; e < TF_QK_K; e++) o[e] = u.D * (float)u.sc[e / 16] * (float)((int)u.q[e] - 32);
        } else if (type == TF_Q4_K || type == TF_Q5_K) {
            for (int e = 0; e < TF_QK_K; e++) o[e] = u.D * (float)u.sc[e / 16] * (float)u.q[e] - u.M * (float)u.mn[e / 16];
        } else if (type == TF_Q5_0) {
            for (int e = 0; e < 32 * u.nblk; e++) o[e] = u.fd[e / 32] * (float)((int)u.q[e] - 16);
        } else {
            for (int e = 0; e < 32 * u.nblk; e++) o[e] = u.fd[e / 32] * (float)u.q[e] + u.fm[e / 32];
        }
    }
}

#endif
