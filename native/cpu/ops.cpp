/*
 * ops.cpp: the extern "C" entry points of libtransfuse_cpu (see transfuse.h, section 1).
 *
 * matmul, attention and silu_glu go through the instruction-set table picked at load time (simd_kernels.inc,
 * compiled per ISA). The other small, memory-bound ops (rmsnorm, rope, softmax, add, embedding)
 * are plain loops compiled for baseline x86-64: they run at a fraction of the cost
 * of the matmuls around them. Every op stays on the calling thread below a size threshold,
 * because an OpenMP region costs microseconds and stories260K's rows are 64 floats.
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

#include "cpu_internal.h"
#include "transfuse.h"

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
    g_threads = omp_get_max_threads();
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

/* Runs f(begin, end) over [0, n): on the calling thread when the work is small (an OpenMP region,
 * even one with a false if() clause, costs about half a microsecond), else split statically over
 * the threads. */
template <class F>
inline void for_range(long n, long work, F f) {
    if (g_threads <= 1 || n < 2 || work < TF_PARALLEL_MIN_WORK) {
        f(0L, n);
        return;
    }
#pragma omp parallel num_threads(g_threads)
    {
        const long nt = omp_get_num_threads(), id = omp_get_thread_num();
        const long per = n / nt, extra = n % nt;
        const long a = id * per + (id < extra ? id : extra);
        f(a, a + per + (id < extra ? 1 : 0));
    }
}

void rmsnorm_row(float* out, const float* x, const float* w, int dim, float eps) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int i = 0;
    for (; i + 4 <= dim; i += 4) {
        s0 += (double)x[i] * x[i];
        s1 += (double)x[i + 1] * x[i + 1];
        s2 += (double)x[i + 2] * x[i + 2];
        s3 += (double)x[i + 3] * x[i + 3];
    }
    for (; i < dim; i++) s0 += (double)x[i] * x[i];
    const float r = (float)(1.0 / sqrt((s0 + s1 + s2 + s3) / dim + (double)eps));
    for (i = 0; i < dim; i++) out[i] = w[i] * (r * x[i]);
}

/* Rotates one token's heads with the frequencies [i0, i1) whose cos/sin are in c, s. */
void rope_apply(float* x, int heads, int head_dim, int half, int i0, int i1, const float* c, const float* s,
                int layout) {
    for (int h = 0; h < heads; h++) {
        float* v = x + (long)h * head_dim;
        if (layout == 0) {
            for (int i = i0; i < i1; i++) {
                const float a = v[2 * i], b = v[2 * i + 1];
                v[2 * i] = a * c[i - i0] - b * s[i - i0];
                v[2 * i + 1] = a * s[i - i0] + b * c[i - i0];
            }
        } else {
            for (int i = i0; i < i1; i++) {
                const float a = v[i], b = v[i + half];
                v[i] = a * c[i - i0] - b * s[i - i0];
                v[i + half] = a * s[i - i0] + b * c[i - i0];
            }
        }
    }
}

void rope_token(float* x, int heads, int head_dim, int rotary_dim, int pos, const float* inv_freq, int layout) {
    enum { CH = 256 };
    float c[CH], s[CH];
    const int half = rotary_dim / 2;
    for (int i0 = 0; i0 < half; i0 += CH) {
        const int i1 = i0 + CH < half ? i0 + CH : half;
        for (int i = i0; i < i1; i++) {
            const float angle = (float)pos * inv_freq[i];
            c[i - i0] = cosf(angle);
            s[i - i0] = sinf(angle);
        }
        rope_apply(x, heads, head_dim, half, i0, i1, c, s, layout);
    }
}

void softmax_row(float* x, int n) {
    float m = x[0];
    for (int i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - m);
        sum += x[i];
    }
    const float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++) x[i] *= inv;
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
        default: break;
    }
}

/* TF_F32_AMX weights without the tile unit (AMX off, or no memory for the split x): each column's
 * weights rebuilt exactly (h + m + l) and summed over k in order in f32, like a plain F32 loop. */
void f32_amx_plain(float* out, const float* x, const uint16_t* w, int tokens, int in_dim, int out_dim,
                   const tf_epilogue* epi) {
    for_range(out_dim, (long)tokens * in_dim * out_dim, [=](long c0, long c1) {
        std::vector<float> col(in_dim);
        for (long c = c0; c < c1; c++) {
            for (int k = 0; k < in_dim; k++) col[k] = tf_amx_f32_weight(w, in_dim, (int)c, k);
            for (int t = 0; t < tokens; t++) {
                const float* xt = x + (long)t * in_dim;
                float acc = 0.0f;
                for (int k = 0; k < in_dim; k++) acc += xt[k] * col[k];
                out[(long)t * out_dim + c] = acc;
            }
        }
        if (epi) epi->fn(out, out_dim, epi->bias, 0, tokens, (int)c0, (int)c1);
    });
}

void f32_amx_matmul(float* out, const float* x, const void* w, int tokens, int in_dim, int out_dim,
                    const tf_epilogue* epi) {
    if ((g_amx & TF_AMX_BF16) && tf_amx_f32_matmul(out, x, w, tokens, in_dim, out_dim, g_threads, epi)) return;
    f32_amx_plain(out, x, (const uint16_t*)w, tokens, in_dim, out_dim, epi);
}

}  // namespace

TF_API int tf_cpu_version(void) { return 1; }

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
    /* 16 tokens fill one AMX tile; fewer stay on the vector path (decode is bandwidth-bound anyway) */
    if ((g_amx & TF_AMX_INT8) && w_type == TF_Q8_0 && tokens >= 16 &&
        tf_amx_q8_matmul(out, x, w, tokens, in_dim, out_dim, g_threads))
        return;
    if (w_type == TF_F32_AMX) return f32_amx_matmul(out, x, w, tokens, in_dim, out_dim, nullptr);
    g_k->matmul(out, x, w, w_type, tokens, in_dim, out_dim, g_threads, nullptr);
}

void tf_matmul_packed_epilogue(float* out, const float* x, const void* w, int w_type, int tokens, int in_dim,
                               int out_dim, const tf_epilogue* epi) {
    if (w_type == TF_F32_AMX) return f32_amx_matmul(out, x, w, tokens, in_dim, out_dim, epi);
    g_k->matmul(out, x, w, TF_F32_PANELS, tokens, in_dim, out_dim, g_threads, epi);
}

TF_API long tf_cpu_packed_f32_bytes(int in_dim, int out_dim) {
    return (long)(out_dim + TF_PANEL - 1) / TF_PANEL * in_dim * TF_PANEL * 4;
}

TF_API void tf_cpu_pack_f32(void* dst, const float* w, int in_dim, int out_dim) {
    const int panels = (out_dim + TF_PANEL - 1) / TF_PANEL;
    for_range(panels, (long)in_dim * out_dim, [&](long a, long b) {
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
    for_range(tf_amx_col_pairs(out_dim) * 2, (long)in_dim * out_dim, [=](long cb0, long cb1) {
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

TF_API void tf_cpu_attention(float* out, const float* q, const float* k_cache, const float* v_cache, int tokens,
                             int start_pos, int n_heads, int n_kv_heads, int head_dim, int kv_stride) {
    g_k->attention(out, q, k_cache, v_cache, tokens, start_pos, n_heads, n_kv_heads, head_dim, kv_stride, g_threads);
}

TF_API void tf_cpu_rmsnorm(float* out, const float* x, const float* weight, int tokens, int dim, float eps) {
    for_range(tokens, (long)tokens * dim * 4, [=](long a, long b) {
        for (long t = a; t < b; t++) rmsnorm_row(out + t * dim, x + t * dim, weight, dim, eps);
    });
}

TF_API void tf_cpu_rope(float* x, int tokens, int heads, int head_dim, int rotary_dim, int start_pos,
                        const float* inv_freq, int layout) {
    for_range(tokens, (long)tokens * heads * rotary_dim * 4, [=](long a, long b) {
        for (long t = a; t < b; t++)
            rope_token(x + t * heads * head_dim, heads, head_dim, rotary_dim, start_pos + (int)t, inv_freq, layout);
    });
}

TF_API void tf_cpu_silu_glu(float* out, const float* gate, const float* up, long n) {
    const tf_kernels* k = g_k;
    for_range(n, n * 4, [=](long a, long b) { k->silu_glu(out + a, gate + a, up + a, b - a); });
}

TF_API void tf_cpu_softmax(float* x, int rows, int n) {
    for_range(rows, (long)rows * n * 4, [=](long a, long b) {
        for (long r = a; r < b; r++) softmax_row(x + r * n, n);
    });
}

TF_API void tf_cpu_add(float* out, const float* a, const float* b, long n) {
    /* memory-bound: threads only help for large vectors */
    for_range(n, n / 4, [=](long lo, long hi) {
        for (long i = lo; i < hi; i++) out[i] = a[i] + b[i];
    });
}

TF_API void tf_cpu_embedding(float* out, const void* table, int type, const int32_t* ids, int tokens, int dim) {
    const long row_bytes = tf_row_bytes(type, dim);
    if (row_bytes < 0) return;
    for_range(tokens, (long)tokens * dim, [=](long a, long b) {
        for (long t = a; t < b; t++) embed_row(out + t * dim, (const uint8_t*)table + (long)ids[t] * row_bytes, type, dim);
    });
}
