/*
 * ops.cpp: the runtime of libtransfuse_cpu (threads, the instruction-set table picked at load time: see
 * cpu_internal.h) and its matmul family: tf_cpu_matmul, tf_cpu_matmul_bias, the weight packers, plus
 * the two small ops that need no vectors of their own (embedding, add). See transfuse.h, section 1.
 * The other families have their own files: elementwise_ops.cpp, attention_ops.cpp, ssm_ops.cpp.
 */
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"
#include "parallel.h"
#include "quant_blocks.h"

#define TF_API extern "C" __attribute__((visibility("default")))

namespace {

int g_threads = 1;
int g_amx = 0; /* TF_AMX_* tile sets usable (amx_q8.cpp) and not disabled by TRANSFUSE_CPU_AMX=0 */
int g_isa = TF_CPU_ISA_GENERIC;
const tf_kernels* g_k = &tf_kernels_generic;

bool isa_supported(int isa) {
    __builtin_cpu_init();
    switch (isa) {
        case TF_CPU_ISA_GENERIC: return true;
        case TF_CPU_ISA_AVX2:
            return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
        case TF_CPU_ISA_AVX512:
            return isa_supported(TF_CPU_ISA_AVX2) && __builtin_cpu_supports("avx512f") &&
                   __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                   __builtin_cpu_supports("avx512vl");
        default: return false;
    }
}

/* AVX-512 with VNNI gets the table whose Q8_0/Q4_0 dot products use vpdpbusd; TRANSFUSE_CPU_VNNI=0
 * (read whenever an ISA is chosen) forces the vpmaddubsw one, so that tests cover both. */
bool use_vnni() {
    const char* env = getenv("TRANSFUSE_CPU_VNNI");
    return __builtin_cpu_supports("avx512vnni") && !(env && strcmp(env, "0") == 0);
}

/* AMX (Q8_0 prefill, TF_F32_AMX weights): decided whenever an ISA is chosen (AVX-512 only);
 * TRANSFUSE_CPU_AMX=0 turns it off, so that tests cover the other paths too. */
int amx_enabled(int isa) {
    static int available = -1;
    if (isa != TF_CPU_ISA_AVX512) return 0;
    if (available < 0) available = tf_amx_features();
    const char* env = getenv("TRANSFUSE_CPU_AMX");
    return env && strcmp(env, "0") == 0 ? 0 : available;
}

const tf_kernels* table(int isa) {
    switch (isa) {
        case TF_CPU_ISA_AVX512: return use_vnni() ? &tf_kernels_avx512_vnni : &tf_kernels_avx512;
        case TF_CPU_ISA_AVX2: return &tf_kernels_avx2;
        default: return &tf_kernels_generic;
    }
}

int best_isa() {
    if (isa_supported(TF_CPU_ISA_AVX512)) return TF_CPU_ISA_AVX512;
    if (isa_supported(TF_CPU_ISA_AVX2)) return TF_CPU_ISA_AVX2;
    return TF_CPU_ISA_GENERIC;
}

__attribute__((constructor)) void tf_cpu_init() {
    /* one thread per processor this process may run on (the pool starts them on first use) */
    cpu_set_t set;
    g_threads = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    if (g_threads < 1) g_threads = 1;
    int isa = best_isa();
    const char* env = getenv("TRANSFUSE_CPU_ISA");
    if (env && *env) {
        int want = strcmp(env, "generic") == 0 ? TF_CPU_ISA_GENERIC
                 : strcmp(env, "avx2") == 0    ? TF_CPU_ISA_AVX2
                 : strcmp(env, "avx512") == 0  ? TF_CPU_ISA_AVX512
                                               : -1;
        if (want < 0 || !isa_supported(want)) {
            fprintf(stderr, "transfuse: TRANSFUSE_CPU_ISA=%s is not one of generic|avx2|avx512 supported by this CPU; using %s\n",
                    env, table(isa)->name);
        } else {
            isa = want;
        }
    }
    g_isa = isa;
    g_k = table(isa);
    g_amx = amx_enabled(isa);
}

void embed_row(float* out, const uint8_t* row, int type, int dim) {
    switch (type) {
        case TF_F32: memcpy(out, row, (size_t)dim * 4); break;
        case TF_F16:
            for (int i = 0; i < dim; i++) out[i] = tf_f16_to_f32(tf_load_u16(row + 2 * i));
            break;
        case TF_BF16:
            for (int i = 0; i < dim; i++) out[i] = tf_bf16_to_f32(tf_load_u16(row + 2 * i));
            break;
        case TF_Q8_0:
            for (int b = 0; b < dim / TF_QK; b++) {
                const uint8_t* blk = row + (long)b * TF_Q8_0_BYTES;
                const float d = tf_f16_to_f32(tf_load_u16(blk));
                for (int j = 0; j < TF_QK; j++) out[b * TF_QK + j] = d * (float)(int8_t)blk[2 + j];
            }
            break;
        case TF_Q4_0:
            for (int b = 0; b < dim / TF_QK; b++) {
                const uint8_t* blk = row + (long)b * TF_Q4_0_BYTES;
                const float d = tf_f16_to_f32(tf_load_u16(blk));
                for (int j = 0; j < 16; j++) {
                    out[b * TF_QK + j] = d * (float)((blk[2 + j] & 0x0F) - 8);
                    out[b * TF_QK + j + 16] = d * (float)((blk[2 + j] >> 4) - 8);
                }
            }
            break;
        default:
            if (tf_is_kq_type(type)) tf_kq_dequant_row(out, row, type, dim);
            break;
    }
}

/* Element e of block b of row `row` of TF_Q8_0_R16 / TF_Q4_0_R16 weights (nb blocks per row) as q, and
 * that block's d (layouts in transfuse.h). */
inline int r16_q(int type, const uint8_t* w, int nb, long row, int b, int e) {
    const uint8_t* quants = w + row / TF_R16 * tf_r16_group_bytes(type, nb) + b * tf_r16_qbytes(type);
    const long j = row % TF_R16;
    if (type == TF_Q8_0_R16) return (int8_t)(quants[64 * (e / 4) + 4 * j + e % 4] ^ 0x80);
    const int f = e % 16; /* Q4_0: elements f and 16 + f share a byte, low and high nibble */
    const uint8_t byte = quants[64 * (f / 4) + 4 * j + f % 4];
    return (e < 16 ? byte & 0x0F : byte >> 4) - 8;
}
inline float r16_d(int type, const uint8_t* w, int nb, long row, int b) {
    const uint8_t* scales = w + row / TF_R16 * tf_r16_group_bytes(type, nb) + nb * tf_r16_qbytes(type) + 32L * b;
    return tf_f16_to_f32(tf_load_u16(scales + 2 * (row % TF_R16)));
}

/* 16-row-group weights without VNNI: the numerics of rows16.cpp in scalar code, so the same bits (x quantised
 * as there, each block's exact integer dot product, fma(sum, d_w * d_x, acc) block by block). */
void r16_plain(float* out, const float* x, const uint8_t* w, int type, int tokens, int in_dim, int out_dim) {
    const int nb = in_dim / TF_QK;
    int8_t* xq = (int8_t*)malloc((size_t)tokens * in_dim + 1);
    float* xd = (float*)malloc(((size_t)tokens * nb + 1) * sizeof(float));
    if (xq && xd) {
        for (long t = 0; t < tokens; t++)
            for (int b = 0; b < nb; b++) {
                const float* xb = x + t * in_dim + 32L * b;
                float amax = 0.0f;
                for (int e = 0; e < 32; e++) amax = fmaxf(amax, fabsf(xb[e]));
                const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
                for (int e = 0; e < 32; e++) xq[t * in_dim + 32L * b + e] = (int8_t)lrintf(xb[e] * id);
                xd[t * nb + b] = amax / 127.0f;
            }
        tf_parallel_ranges(out_dim, (long)tokens * in_dim * out_dim, [=](long o0, long o1) {
            for (long o = o0; o < o1; o++)
                for (long t = 0; t < tokens; t++) {
                    float acc = 0.0f;
                    for (int b = 0; b < nb; b++) {
                        int32_t sum = 0;
                        for (int e = 0; e < 32; e++) sum += r16_q(type, w, nb, o, b, e) * xq[t * in_dim + 32L * b + e];
                        acc = fmaf((float)sum, r16_d(type, w, nb, o, b) * xd[t * nb + b], acc);
                    }
                    out[t * out_dim + o] = acc;
                }
        });
    }
    free(xq);
    free(xd);
}

/* TF_F32_AMX weights without the tile unit (AMX off, or no memory for the split x): each column's
 * weights rebuilt exactly (h + m + l) and summed over k in order in f32, like a plain F32 loop. */
void f32_amx_plain(float* out, const float* x, const uint16_t* w, int tokens, int in_dim, int out_dim,
                   const tf_epilogue* epi) {
    tf_parallel_ranges(out_dim, (long)tokens * in_dim * out_dim, [=](long c0, long c1) {
        /* the column's weights, rebuilt once per column (or per use when there is no memory for them) */
        float* col = (float*)malloc((size_t)in_dim * sizeof(float));
        for (long c = c0; c < c1; c++) {
            if (col)
                for (int k = 0; k < in_dim; k++) col[k] = tf_amx_f32_weight(w, in_dim, (int)c, k);
            for (int t = 0; t < tokens; t++) {
                const float* xt = x + (long)t * in_dim;
                float acc = 0.0f;
                for (int k = 0; k < in_dim; k++) acc += xt[k] * (col ? col[k] : tf_amx_f32_weight(w, in_dim, (int)c, k));
                out[(long)t * out_dim + c] = acc;
            }
        }
        free(col);
        if (epi) epi->fn(out, out_dim, epi->bias, epi->act, 0, tokens, (int)c0, (int)c1);
    });
}

void f32_amx_matmul(float* out, const float* x, const void* w, int tokens, int in_dim, int out_dim,
                    const tf_epilogue* epi) {
    if ((g_amx & TF_AMX_BF16) && tf_amx_f32_matmul(out, x, w, tokens, in_dim, out_dim, g_threads, epi)) return;
    f32_amx_plain(out, x, (const uint16_t*)w, tokens, in_dim, out_dim, epi);
}

}  // namespace

const tf_kernels& tf_kernels_active(void) { return *g_k; }

TF_API int tf_cpu_version(void) { return 4; }

TF_API void tf_cpu_set_threads(int n) { g_threads = n < 1 ? 1 : n; }

TF_API int tf_cpu_get_threads(void) { return g_threads; }

TF_API int tf_cpu_set_isa(int isa) {
    if (!isa_supported(isa)) return -1;
    g_isa = isa;
    g_k = table(isa);
    g_amx = amx_enabled(isa);
    return isa;
}

TF_API int tf_cpu_get_isa(void) { return g_isa; }

TF_API int tf_cpu_best_isa(void) { return best_isa(); }

TF_API void tf_cpu_matmul(float* out, const float* x, const void* w, int w_type, int tokens, int in_dim, int out_dim) {
    if (tf_is_r16_type(w_type)) {
        if (g_k == &tf_kernels_avx512_vnni) return tf_r16_matmul_vnni(out, x, w, w_type, tokens, in_dim, out_dim, g_threads);
        return r16_plain(out, x, (const uint8_t*)w, w_type, tokens, in_dim, out_dim);
    }
    /* 16 tokens fill one AMX tile; fewer stay on the vector path (decode is bandwidth-bound anyway) */
    if ((g_amx & TF_AMX_INT8) && w_type == TF_Q8_0 && tokens >= 16 &&
        tf_amx_q8_matmul(out, x, w, tokens, in_dim, out_dim, g_threads))
        return;
    if (w_type == TF_F32_AMX) return f32_amx_matmul(out, x, w, tokens, in_dim, out_dim, nullptr);
    g_k->matmul(out, x, w, w_type, tokens, in_dim, out_dim, g_threads, nullptr);
}

/* Packed F32 weights take the bias and activation into the matmul's own parallel region, per output block
 * while it is in cache; the other types take one more pass over out. */
TF_API void tf_cpu_matmul_bias(float* out, const float* x, const void* w, int w_type, int tokens, int in_dim,
                               int out_dim, const float* bias, int act) {
    if (!bias && act == TF_ACT_IDENTITY) return tf_cpu_matmul(out, x, w, w_type, tokens, in_dim, out_dim);
    const tf_epilogue epi = {g_k->bias_act, bias, act};
    if (w_type == TF_F32_AMX) return f32_amx_matmul(out, x, w, tokens, in_dim, out_dim, &epi);
    if (w_type == TF_F32_PANELS) return g_k->matmul(out, x, w, w_type, tokens, in_dim, out_dim, g_threads, &epi);
    tf_cpu_matmul(out, x, w, w_type, tokens, in_dim, out_dim);
    tf_cpu_bias_act(out, bias, tokens, out_dim, act);
}

TF_API long tf_cpu_packed_f32_bytes(int in_dim, int out_dim) {
    return (long)(out_dim + TF_PANEL - 1) / TF_PANEL * in_dim * TF_PANEL * 4;
}

TF_API void tf_cpu_pack_f32(void* dst, const float* w, int in_dim, int out_dim) {
    const int panels = (out_dim + TF_PANEL - 1) / TF_PANEL;
    tf_parallel_ranges(panels, (long)in_dim * out_dim, [&](long a, long b) {
        tf_pack_panels((float*)dst + a * in_dim * TF_PANEL, w, in_dim, out_dim, (int)a, (int)b);
    });
}

TF_API int tf_cpu_f32_amx_enabled(void) { return (g_amx & TF_AMX_BF16) != 0; }

TF_API long tf_cpu_packed_f32_amx_bytes(int in_dim, int out_dim) {
    return (long)tf_amx_col_pairs(out_dim) * 32 * tf_amx_k_tiles(in_dim) * 32 * 6;
}

TF_API void tf_cpu_pack_f32_amx(void* dst, const float* w, int in_dim, int out_dim) {
    const int kt = tf_amx_k_tiles(in_dim);
    uint16_t* d = (uint16_t*)dst;
    tf_parallel_ranges(tf_amx_col_pairs(out_dim) * 2, (long)in_dim * out_dim, [=](long cb0, long cb1) {
        for (long col = cb0 * 16; col < cb1 * 16; col++)
            for (int k = 0; k < kt * 32; k++) {
                float v = col < out_dim && k < in_dim ? w[col * in_dim + k] : 0.0f;
                for (int p = 0; p < 3; p++) { /* v = h + m + l, cpu_internal.h */
                    const uint16_t b = tf_bf16_rne(v);
                    d[tf_amx_f32_index((int)col, p, k, kt)] = b;
                    v -= tf_bf16_to_f32(b);
                }
            }
    });
}

TF_API int tf_cpu_rows16_type(int type) {
    if (g_k != &tf_kernels_avx512_vnni) return -1;
    if (type == TF_Q8_0) return g_amx & TF_AMX_INT8 ? -1 : TF_Q8_0_R16; /* AMX takes Q8_0 prefill to its own tiles */
    return type == TF_Q4_0 ? TF_Q4_0_R16 : -1;
}

TF_API long tf_cpu_packed_rows16_bytes(int type, int in_dim, int out_dim) {
    return tf_is_r16_type(type) ? tf_r16_bytes(type, in_dim, out_dim) : -1;
}

TF_API void tf_cpu_pack_rows16(int type, void* dst, const void* w, int in_dim, int out_dim) {
    if (!tf_is_r16_type(type)) return;
    const bool q8 = type == TF_Q8_0_R16;
    const int nb = in_dim / TF_QK;
    const long groups = (out_dim + TF_R16 - 1) / TF_R16, gbytes = tf_r16_group_bytes(type, nb), qbytes = tf_r16_qbytes(type);
    const long block_bytes = q8 ? TF_Q8_0_BYTES : TF_Q4_0_BYTES, row_bytes = nb * block_bytes;
    tf_parallel_ranges(groups, (long)in_dim * out_dim, [=](long g0, long g1) {
        for (long g = g0; g < g1; g++) {
            uint8_t* grp = (uint8_t*)dst + g * gbytes;
            memset(grp, 0, (size_t)gbytes); /* padding rows: d = 0 (their q bytes, q = 0, are set below) */
            for (int j = 0; j < TF_R16; j++) {
                const long row = g * TF_R16 + j;
                for (int b = 0; b < nb; b++) {
                    const uint8_t* blk = (const uint8_t*)w + row * row_bytes + b * block_bytes;
                    uint8_t* quants = grp + b * qbytes;
                    /* Q8_0: byte e of the block + 128; Q4_0: byte f (elements f and 16 + f) as it is */
                    for (int e = 0; e < (q8 ? TF_QK : TF_QK / 2); e++)
                        quants[64 * (e / 4) + 4 * j + e % 4] =
                            row >= out_dim ? (q8 ? 0x80 : 0x88) : q8 ? (uint8_t)(blk[2 + e] ^ 0x80) : blk[2 + e];
                    if (row < out_dim) memcpy(grp + nb * qbytes + 32L * b + 2 * j, blk, 2);
                }
            }
        }
    });
}

TF_API void tf_cpu_add(float* out, const float* a, const float* b, long n) {
    /* memory-bound: threads only help for large vectors */
    tf_parallel_ranges(n, n / 4, [=](long lo, long hi) {
        for (long i = lo; i < hi; i++) out[i] = a[i] + b[i];
    });
}

TF_API void tf_cpu_embedding(float* out, const void* table, int type, const int32_t* ids, int tokens, int dim) {
    if (tf_is_r16_type(type)) {
        const int nb = dim / TF_QK;
        const uint8_t* w = (const uint8_t*)table;
        tf_parallel_ranges(tokens, (long)tokens * dim, [=](long a, long b) {
            for (long t = a; t < b; t++)
                for (int blk = 0; blk < nb; blk++) {
                    const float d = r16_d(type, w, nb, ids[t], blk);
                    for (int e = 0; e < TF_QK; e++) out[t * dim + 32L * blk + e] = d * (float)r16_q(type, w, nb, ids[t], blk, e);
                }
        });
        return;
    }
    const long row_bytes = tf_row_bytes(type, dim);
    if (row_bytes < 0) return;
    tf_parallel_ranges(tokens, (long)tokens * dim, [=](long a, long b) {
        for (long t = a; t < b; t++) embed_row(out + t * dim, (const uint8_t*)table + (long)ids[t] * row_bytes, type, dim);
    });
}
