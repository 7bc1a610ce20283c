/*
 * cpu_internal.h: what the files of libtransfuse_cpu share (see transfuse.h, section 1, for the ops).
 *
 * How an op gets code for each instruction set (the one pattern of this library)
 *
 *   Kernel bodies live in .inc files (matmul.inc, vmath.inc, elementwise.inc, attention.inc, ssm.inc)
 *   written against a small vector type `V` (see matmul.inc). isa_kernels.inc includes them all, and
 *   each ISA unit (isa_generic.cpp: SSE2; isa_avx2.cpp: AVX2+FMA+F16C; isa_avx512.cpp: AVX-512 F/BW/DQ/VL;
 *   isa_avx512_vnni.cpp: the same with VNNI) defines its own `V` and includes isa_kernels.inc, so the
 *   same source is compiled once per instruction set with that unit's flags (CMakeLists.txt) and ends
 *   up in one table of function pointers per unit, struct tf_kernels below. ops.cpp picks the table at
 *   load time (TRANSFUSE_CPU_ISA and tf_cpu_set_isa may force another) and tf_kernels_active() returns
 *   it. The extern "C" entry points live in baseline files, one per op family (ops.cpp: runtime,
 *   matmul, embedding; elementwise_ops.cpp; attention_ops.cpp; ssm_ops.cpp): they do the OpenMP
 *   splitting (parallel.h) and call the active table's entry on each thread's share of the work.
 *   A new op with per-ISA code therefore adds: its body to an .inc file (static functions only), an
 *   entry to struct tf_kernels and to the table at the end of isa_kernels.inc, and its entry point
 *   in the family's baseline file. Ops that gain nothing from wide vectors (rope, embedding, add)
 *   stay plain loops in the baseline files.
 *
 *   The ISA units must not instantiate C++ library templates or define non-static inline functions:
 *   such code is emitted as a weak (COMDAT) symbol in every unit that uses it, the linker keeps one
 *   copy for the whole library, and that copy may be the AVX-512 one, which then runs on a CPU
 *   without AVX-512 (SIGILL). So the units use only intrinsics, libm and functions of internal linkage
 *   (the .inc files are included inside an anonymous namespace); this header holds only declarations
 *   and `static inline` functions, so every unit gets its own copy built with its own flags. The ctest
 *   cpu_isa_units_share_no_code checks the units' objects for such symbols.
 */
#ifndef TRANSFUSE_CPU_INTERNAL_H
#define TRANSFUSE_CPU_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "transfuse.h"

/* GGML type ids (io.transfuse.tensor.DType). */
enum { TF_F32 = 0, TF_F16 = 1, TF_Q4_0 = 2, TF_Q4_1 = 3, TF_Q5_0 = 6, TF_Q5_1 = 7, TF_Q8_0 = 8, TF_Q4_K = 12,
       TF_Q5_K = 13, TF_Q6_K = 14, TF_BF16 = 30 };
/* F32 weights in column panels of TF_PANEL (transfuse.h: TF_CPU_F32_PANELS, TF_CPU_PANEL). */
enum { TF_F32_PANELS = 200, TF_PANEL = 32 };

/* Panels [p0, p1) of w (f32 [out_dim][in_dim]) into dst, panel p0 first (layout in transfuse.h). */
static inline void tf_pack_panels(float* dst, const float* w, int in_dim, int out_dim, int p0, int p1) {
    for (int p = p0; p < p1; p++) {
        float* panel = dst + (long)(p - p0) * in_dim * TF_PANEL;
        const int c0 = p * TF_PANEL, nc = out_dim - c0 < TF_PANEL ? out_dim - c0 : TF_PANEL;
        for (int j = 0; j < nc; j++) {
            const float* row = w + (long)(c0 + j) * in_dim;
            for (int k = 0; k < in_dim; k++) panel[(long)k * TF_PANEL + j] = row[k];
        }
        for (int j = nc; j < TF_PANEL; j++)
            for (int k = 0; k < in_dim; k++) panel[(long)k * TF_PANEL + j] = 0.0f;
    }
}

/* Q8_0 / Q4_0 weights in groups of 16 rows (transfuse.h: TF_CPU_Q8_0_R16, TF_CPU_Q4_0_R16; rows16.cpp): group
 * g starts at g * tf_r16_group_bytes(type, nb), its block b's quant bytes (tf_r16_qbytes) at + qbytes * b, its
 * block b's 16 f16 scales at + qbytes * nb + 32 b. */
enum { TF_Q8_0_R16 = 202, TF_Q4_0_R16 = 203, TF_R16 = 16 };
static inline int tf_is_r16_type(int type) { return type == TF_Q8_0_R16 || type == TF_Q4_0_R16; }
static constexpr long tf_r16_qbytes(int type) { return type == TF_Q8_0_R16 ? 512 : 256; }
static inline long tf_r16_group_bytes(int type, int nb) { return ((long)nb * (tf_r16_qbytes(type) + 32) + 63) / 64 * 64; }
static inline long tf_r16_bytes(int type, int in_dim, int out_dim) {
    return (long)((out_dim + TF_R16 - 1) / TF_R16) * tf_r16_group_bytes(type, in_dim / 32);
}

/* Elements per block and bytes per block of the quantised GGML types. */
enum { TF_QK = 32, TF_Q8_0_BYTES = 34, TF_Q4_0_BYTES = 18 };
/* The other ggml block types (layouts in quant_blocks.h): blocks of 32 (Q4_1, Q5_0, Q5_1) and the
 * K-quants' super-blocks of TF_QK_K = 256 elements. */
enum { TF_Q4_1_BYTES = 20, TF_Q5_0_BYTES = 22, TF_Q5_1_BYTES = 24 };
enum { TF_QK_K = 256, TF_Q4_K_BYTES = 144, TF_Q5_K_BYTES = 176, TF_Q6_K_BYTES = 210 };

/* 1 for the types the matmul reads through the K-quant path (kquant.inc). */
static inline int tf_is_kq_type(int type) {
    return type == TF_Q4_1 || type == TF_Q5_0 || type == TF_Q5_1 || type == TF_Q4_K || type == TF_Q5_K ||
           type == TF_Q6_K;
}

/* Elements per block and bytes per block of a kq type (tf_is_kq_type). */
static inline int tf_kq_block_elems(int type) { return type == TF_Q4_K || type == TF_Q5_K || type == TF_Q6_K ? (int)TF_QK_K : (int)TF_QK; }
static inline int tf_kq_block_bytes(int type) {
    switch (type) {
        case TF_Q4_1: return TF_Q4_1_BYTES;
        case TF_Q5_0: return TF_Q5_0_BYTES;
        case TF_Q5_1: return TF_Q5_1_BYTES;
        case TF_Q4_K: return TF_Q4_K_BYTES;
        case TF_Q5_K: return TF_Q5_K_BYTES;
        case TF_Q6_K: return TF_Q6_K_BYTES;
        default: return -1;
    }
}

/* Largest head_dim the attention kernels accept (their accumulators live on the stack). */
enum { TF_MAX_HEAD_DIM = TF_CPU_MAX_HEAD_DIM };

/* Work (multiply-adds) below which an op runs on the calling thread only. An OpenMP region
 * costs a few microseconds; stories260K's matrices (64 x 64) take about one. */
enum { TF_PARALLEL_MIN_WORK = 1 << 16 };
/* Elements of x below which a quantising matmul quantises x on the calling thread: a batch of decoding
 * sequences (16 x 768 elements, a few microseconds of work) costs less there than a pool dispatch, which
 * each layer's seven matmuls would otherwise pay twice. */
enum { TF_QUANTIZE_PARALLEL_MIN = 1 << 15 };

/* The threads a quantising matmul quantises its x with: the caller alone below TF_QUANTIZE_PARALLEL_MIN. */
static inline int tf_quantize_threads(long tokens, int in_dim, int threads) {
    return tokens * in_dim >= TF_QUANTIZE_PARALLEL_MIN ? threads : 1;
}

/* Prefetches part `part` of `parts` equal parts of [p, p + bytes) into L2, in whole 64-byte lines. A matmul tile
 * spreads the next tile's weights over its blocks this way (rows16.cpp, matmul.inc), so that their DRAM reads
 * overlap its arithmetic. */
static inline void tf_prefetch_part_l2(const uint8_t* p, long bytes, long part, long parts) {
    const long lo = bytes * part / parts / 64 * 64, hi = bytes * (part + 1) / parts;
    for (long o = lo; o < hi; o += 64) __builtin_prefetch(p + o, 0, 2);
}

/* Channels per work item of the Mamba ops (ssm.inc, ssm_ops.cpp): one AVX-512 vector. */
enum { TF_SSM_BLOCK = 16 };

/* x[r][c] = act(x[r][c] + bias[c]) (TF_ACT_*; bias may be null) over rows [r0, r1) and columns
 * [c0, c1), rows `stride` floats apart: tf_kernels.bias_act, and the shape of a matmul epilogue. */
typedef void (*tf_bias_act_fn)(float* x, long stride, const float* bias, int act, long r0, long r1, int c0, int c1);

/* What the F32 panel and AMX matmuls do to each block of output right after writing it, while the block
 * is still in cache (tf_cpu_matmul_bias): fn(out, out_dim, bias, act, r0, r1, c0, c1). */
struct tf_epilogue {
    tf_bias_act_fn fn;
    const float* bias;
    int act;
};

/* tf_cpu_attention_paged's arguments (transfuse.h). A work item is (run_rows consecutive rows, kv head,
 * group of group_size consecutive query heads of that kv head): the group's queries share each key and
 * value row while it is in L1, and rows that continue one sequence (a chunked prefill) run as one block
 * of queries. group_size divides n_heads / n_kv_heads and is at most TF_ATTENTION_MAX_GROUP, run_rows is
 * 1 .. TF_ATTENTION_MAX_RUN (attention_ops.cpp picks both; attention.inc says how they are used). */
enum { TF_ATTENTION_MAX_GROUP = 8, TF_ATTENTION_MAX_RUN = 8 };
struct tf_paged_attention {
    float* out;
    const float* q;
    const void *k_cache, *v_cache; /* kv_type elements: TF_F32 floats or TF_F16 halves (IEEE binary16) */
    int kv_type;
    const int32_t *block_table, *context_lens;
    int tokens, n_heads, n_kv_heads, head_dim, block_size, max_blocks_per_seq, window, group_size, run_rows;
    float scale, softcap; /* softcap 0: none */
};

/* tf_cpu_attention_varlen's arguments (transfuse.h); a work item is (sequence, kv head, group of query
 * heads). */
struct tf_varlen_attention {
    float* out;
    const float *q, *k, *v;
    const int32_t* cu_seqlens;
    int batch, n_heads, n_kv_heads, head_dim, group_size, causal;
    long q_stride, kv_stride;
    float scale;
};

/* tf_cpu_window_attention's arguments (transfuse.h); a work item is (window, head), item = window * n_heads + head. */
struct tf_window_args {
    float* out;
    const float *q, *k, *v, *bias, *logit_scale; /* logit_scale: NULL, or Swin-V2's cosine attention */
    int grid_h, grid_w, window, shift, n_heads, head_dim;
    long stride;
    float scale;
};

/* Work items of the attention tables (the same formula on both sides of the table). */
static inline long tf_attention_items(long rows, int n_heads, int n_kv_heads, int group_size) {
    return rows * n_kv_heads * (n_heads / n_kv_heads / group_size);
}

/* One instruction set's kernels (isa_kernels.inc). Ranges are half-open; "on the calling thread" for all but
 * matmul, which splits its own work over `threads` (its x packing and quantisation are shared). */
/* The arguments of tf_cpu_ssd_scan (transfuse.h), handed to the per-ISA loop of a range of heads. */
struct tf_ssd_args {
    float* out;
    float* state;
    const float *x, *dt, *A, *B, *C, *D, *dt_bias;
    int tokens, heads, head_dim, groups, dstate;
};

/* RWKV: the arguments of tf_cpu_rwkv_wkv6 / tf_cpu_rwkv_wkv7 (transfuse.h), handed to the per-ISA loop of a range of heads. */
struct tf_wkv6_args {
    float* out;
    float* state;
    const float *r, *k, *v, *w, *u, *ln_w, *ln_b;
    int tokens, heads, head_size;
    float eps;
};
struct tf_wkv7_args {
    float* out;
    float* state;
    const float *r, *w, *k, *v, *a, *v_first, *v_mix, *k_k, *k_a, *r_k, *ln_w, *ln_b;
    int tokens, heads, head_size;
    float eps;
};

struct tf_kernels {
    const char* name;
    /* matmul.inc. epi: null, or (w_type TF_F32_PANELS only) applied to every output block as it is written */
    void (*matmul)(float* out, const float* x, const void* w, int w_type, int tokens, int in_dim, int out_dim,
                   int threads, const tf_epilogue* epi);
    /* elementwise.inc: rows [r0, r1) of tf_cpu_rmsnorm / tf_cpu_layernorm; tf_cpu_bias_act; elements
     * [i0, i1) of tf_cpu_glu */
    void (*rmsnorm)(float* out, float* residual, const float* x, const float* weight, long r0, long r1, int dim,
                    float eps);
    void (*layernorm)(float* out, float* residual, const float* x, const float* weight, const float* bias, long r0,
                      long r1, int dim, float eps);
    tf_bias_act_fn bias_act;
    void (*glu)(float* out, const float* gate, const float* up, long i0, long i1, int act);
    /* elementwise.inc: dst[i] = src[i] rounded to IEEE half, to nearest even (tf_f32_to_f16), i < n */
    void (*f32_to_f16)(uint16_t* dst, const float* src, long n);
    /* attention.inc: work items begin, begin + step, ... below end */
    void (*attention_paged)(const tf_paged_attention* a, long begin, long end, long step);
    void (*attention_varlen)(const tf_varlen_attention* a, long begin, long end, long step);
    /* window_attention.inc: (window, head) items begin, begin + step, ... below end */
    void (*window_attention)(const tf_window_args* a, long begin, long end, long step);
    /* ssm.inc: channels [d0, d1) (at most TF_SSM_BLOCK) of tf_cpu_causal_conv1d / tf_cpu_selective_scan */
    void (*conv_block)(float* out, float* state, const float* x, const float* weight, const float* bias, int tokens,
                       int dim, int width, int silu, int d0, int d1);
    void (*scan_block)(float* out, float* state, const float* u, const float* delta, const float* A, const float* B,
                       const float* C, const float* D, const float* z, const float* delta_bias, int tokens, int dim,
                       int dstate, int delta_softplus, int d0, int d1);
    /* ssd.inc: heads [h0, h1) of tf_cpu_ssd_scan; rows [r0, r1) of tf_cpu_gated_rmsnorm */
    void (*ssd_heads)(const tf_ssd_args* a, int h0, int h1);
    void (*gated_rmsnorm)(float* out, const float* x, const float* z, const float* weight, long r0, long r1, int dim,
                          int group_size, float eps);
    /* RWKV (rwkv.inc): heads [h0, h1) of tf_cpu_rwkv_wkv6 / tf_cpu_rwkv_wkv7 */
    void (*wkv6_heads)(const tf_wkv6_args* a, int h0, int h1);
    void (*wkv7_heads)(const tf_wkv7_args* a, int h0, int h1);
};

extern const tf_kernels tf_kernels_generic;
extern const tf_kernels tf_kernels_avx2;
extern const tf_kernels tf_kernels_avx512;
extern const tf_kernels tf_kernels_avx512_vnni; /* same ISA id; Q8_0/Q4_0 dots with vpdpbusd */

/* The table of the instruction set in use (ops.cpp; tf_cpu_set_isa changes it). */
const tf_kernels& tf_kernels_active(void);

/* AMX: which tile instruction sets this CPU has and the OS granted (amx_q8.cpp: CPUID + the
 * arch_prctl permission), as TF_AMX_* bits. */
enum { TF_AMX_INT8 = 1, TF_AMX_BF16 = 2 };
int tf_amx_features(void);
/* Q8_0 prefill with AMX int8 tiles (amx_q8.cpp), and TF_F32_AMX weights with AMX bf16 tiles
 * (amx_f32.cpp; epi as for tf_kernels.matmul, may be null). Both return 0, having written nothing to
 * out, when out of memory. */
int tf_amx_q8_matmul(float* out, const float* x, const void* w, int tokens, int in_dim, int out_dim, int threads);
/* TF_Q8_0_R16 / TF_Q4_0_R16 matmul with AVX-512 VNNI (rows16.cpp; the caller checked the CPU has it). */
void tf_r16_matmul_vnni(float* out, const float* x, const void* w, int w_type, int tokens, int in_dim, int out_dim,
                        int threads);
int tf_amx_f32_matmul(float* out, const float* x, const void* w, int tokens, int in_dim, int out_dim, int threads,
                      const tf_epilogue* epi);

/* IEEE half -> float without F16C (subnormals, infinities and NaN included). */
static inline float tf_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t man = h & 0x3FFu;
    uint32_t bits;
    if (exp == 0x1F) {
        bits = sign | 0x7F800000u | (man << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;
    } else {
        /* subnormal: value = man * 2^-24 */
        int e = -1;
        do { man <<= 1; e++; } while ((man & 0x400u) == 0);
        man &= 0x3FFu;
        bits = sign | ((uint32_t)(112 - e) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* float -> IEEE half, rounded to nearest even (as F16C's vcvtps2ph with _MM_FROUND_TO_NEAREST_INT):
 * magnitudes from 65520 up become infinity, those below 2^-14 half subnormals (or zero), NaN stays a
 * quiet NaN. The KV cache's store for ISAs without F16C, and the reference of the tests. */
static inline uint16_t tf_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000u, a = x & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return (uint16_t)(sign | 0x7E00u | ((a >> 13) & 0x3FFu)); /* NaN, quiet */
    if (a >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u); /* >= 65520 (infinity too): rounds to infinity */
    if (a < 0x38800000u) {
        /* below 2^-14: adding 0.5 (whose ulp is 2^-24, a half subnormal's step) rounds a * 2^24 to an
         * integer in the float's low mantissa bits, with the FPU's round-to-nearest-even */
        float v;
        memcpy(&v, &a, 4);
        v += 0.5f;
        uint32_t r;
        memcpy(&r, &v, 4);
        return (uint16_t)(sign | (r - 0x3F000000u));
    }
    /* normal: rebias the exponent (127 -> 15), then round the 13 dropped bits to nearest even; a carry
     * out of the mantissa steps the exponent, as it should */
    uint32_t r = a - 0x38000000u;
    r += 0xFFFu + ((r >> 13) & 1u);
    return (uint16_t)(sign | (r >> 13));
}

static inline float tf_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t tf_load_u16(const uint8_t* p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

/* F32 weights split into three bf16 parts for AMX tiles (transfuse.h: TF_CPU_F32_AMX). Each weight w
 * is h + m + l exactly: h = bf16(w) rounded to nearest even, m = bf16(w - h), l = bf16(w - h - m)
 * (each residual is exact in f32, and 3 x 8 significant bits hold f32's 24). The matrix is padded
 * with zeros to whole tiles: columns to a multiple of 32 (a pair of 16-column tiles), k to a
 * multiple of 32 (one tile row of 16 bf16 pairs). Tile (cb, part, kb), for 16-column block cb,
 * part 0/1/2 = h/m/l and k block kb, is 512 bf16 in AMX's pair layout, [16 pairs][16 columns][2]:
 * element (k, j) of the block = W[16 cb + j][32 kb + k], at (k / 2) * 32 + j * 2 + k % 2. */
enum { TF_F32_AMX = 201 };

static inline int tf_amx_k_tiles(int in_dim) { return (in_dim + 31) / 32; }
static inline int tf_amx_col_pairs(int out_dim) { return (out_dim + 31) / 32; }

/* Offset (in bf16 elements) of tile (cb, part, kb). */
static inline long tf_amx_f32_tile(int cb, int part, int kb, int k_tiles) {
    return ((long)(cb * 3 + part) * k_tiles + kb) * 512;
}

/* f32 -> bf16 rounded to nearest, ties to even (finite values). */
static inline uint16_t tf_bf16_rne(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    return (uint16_t)((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16);
}

/* Offset (in bf16 elements) of part `part` of weight (col, k). */
static inline long tf_amx_f32_index(int col, int part, int k, int k_tiles) {
    return tf_amx_f32_tile(col / 16, part, k / 32, k_tiles) + (k % 32 / 2) * 32 + (col % 16) * 2 + k % 2;
}

/* Weight (col, k) of the TF_F32_AMX layout: h + m + l, which is the original f32 exactly. */
static inline float tf_amx_f32_weight(const uint16_t* w, int in_dim, int col, int k) {
    const int kt = tf_amx_k_tiles(in_dim);
    float part[3];
    for (int p = 0; p < 3; p++) part[p] = tf_bf16_to_f32(w[tf_amx_f32_index(col, p, k, kt)]);
    return part[0] + part[1] + part[2];
}

/* The AMX tile configuration (LDTILECFG's 64-byte operand, palette 1). */
struct alignas(64) tf_tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};

/* Bytes of one row of `n` elements of GGML type `type` (n a multiple of the type's block size). */
static inline long tf_row_bytes(int type, long n) {
    switch (type) {
        case TF_F32: return n * 4;
        case TF_F16:
        case TF_BF16: return n * 2;
        case TF_Q8_0: return n / TF_QK * TF_Q8_0_BYTES;
        case TF_Q4_0: return n / TF_QK * TF_Q4_0_BYTES;
        default:
            if (tf_is_kq_type(type)) return n / tf_kq_block_elems(type) * tf_kq_block_bytes(type);
            return -1;
    }
}

/* Element k of a row of type `type`, as f32 (scalar path, used for tails and embeddings). */
static inline float tf_row_elem(const uint8_t* row, int type, long k) {
    switch (type) {
        case TF_F32: { float f; memcpy(&f, row + 4 * k, 4); return f; }
        case TF_F16: return tf_f16_to_f32(tf_load_u16(row + 2 * k));
        case TF_BF16: return tf_bf16_to_f32(tf_load_u16(row + 2 * k));
        case TF_Q8_0: {
            const uint8_t* b = row + (k / TF_QK) * TF_Q8_0_BYTES;
            return tf_f16_to_f32(tf_load_u16(b)) * (float)(int8_t)b[2 + k % TF_QK];
        }
        case TF_Q4_0: {
            const uint8_t* b = row + (k / TF_QK) * TF_Q4_0_BYTES;
            int j = (int)(k % TF_QK);
            int q = j < 16 ? (b[2 + j] & 0x0F) : (b[2 + j - 16] >> 4);
            return tf_f16_to_f32(tf_load_u16(b)) * (float)(q - 8);
        }
        default: return 0.0f;
    }
}

#endif
