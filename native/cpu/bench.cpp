/* Op timings (not a test): transfuse_cpu_bench [threads] [matmul|ops|q8|f32|attn]. matmul: GFLOP/s and weight GB/s
 * for a 2048x768 matvec (decode) and a 128-token 2048x768 matmul (prefill), F32 and Q8_0, then the
 * all-MiniLM-L6-v2 encoder matmuls (panel-packed F32) at batch 1 and 32 of 32-token texts. ops: the
 * attention ops (MiniLM-shaped varlen attention; paged attention for a decode step of 16 sequences at
 * 256 positions and a 128-token prefill), norms, activations and the Mamba ops, per instruction set.
 * q8, f32: the best ISA's quantised / F32 matmuls at batched decode's token counts, as stored and repacked;
 * attn: one batched decode step's paged attention in stories110M's shape (both from DRAM; see each below). */
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>

#include "transfuse.h"

static bool g_cpu_clock = false;

/* Wall time, or with TRANSFUSE_BENCH_CPUTIME=1 the calling thread's CPU time (steadier on a busy
 * machine; meaningful for 1 thread only). */
static double now() {
    if (g_cpu_clock) {
        timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return ts.tv_sec + ts.tv_nsec * 1e-9;
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/* A zeroed buffer of n T on a 64-byte boundary, as the library's weights and caches are (a std::vector's 16-byte
 * alignment splits every 64-byte load across two cache lines: batched Q8_0_R16 decode from DRAM measured 1.4x
 * slower from one). */
template <class T>
struct Aligned {
    T* p = nullptr;
    size_t n = 0;
    Aligned() = default;
    explicit Aligned(size_t count) { resize(count); }
    Aligned(const Aligned&) = delete;
    Aligned& operator=(const Aligned&) = delete;
    ~Aligned() { free(p); }
    void resize(size_t count) {
        free(p);
        n = count;
        p = (T*)aligned_alloc(64, (count * sizeof(T) + 63) / 64 * 64);
        memset(p, 0, count * sizeof(T));
    }
    T* data() { return p; }
    size_t size() const { return n; }
    bool empty() const { return n == 0; }
    T& operator[](size_t i) { return p[i]; }
};

/* Deterministic values in [-0.5, 0.5) (a multiplicative hash of the index). */
static void fill(std::vector<float>& v, unsigned mul) {
    for (size_t i = 0; i < v.size(); i++) v[i] = (float)((i * mul) % 1000) / 1000.0f - 0.5f;
}

/* Seconds per call of fn: best of 9 trials of reps calls (this machine is shared, the minimum is the
 * least disturbed), after one untimed call. */
template <class F>
static double best_time(int reps, F fn) {
    fn();
    double dt = 1e30;
    for (int trial = 0; trial < 9; trial++) {
        double t0 = now();
        for (int r = 0; r < reps; r++) fn();
        double d = (now() - t0) / reps;
        dt = d < dt ? d : dt;
    }
    return dt;
}

/* The four matmuls of an all-MiniLM-L6-v2 layer (hidden 384, intermediate 1536), weights packed as
 * BertModel does at load: in panels, and (where the CPU has AMX-BF16) for AMX tiles. */
static void encoder_shapes() {
    const int shapes[4][2] = {{384, 1152}, {384, 384}, {384, 1536}, {1536, 384}};
    tf_cpu_set_isa(tf_cpu_best_isa());
    for (int type : {TF_CPU_F32_PANELS, TF_CPU_F32_AMX}) {
        if (type == TF_CPU_F32_AMX && !tf_cpu_f32_amx_enabled()) continue;
        const char* name = type == TF_CPU_F32_AMX ? "amx     " : "panels  ";
        for (int tokens : {32, 1024}) {
            double flops = 0, secs = 0;
            for (auto& sh : shapes) {
                const int in = sh[0], out = sh[1];
                std::vector<float> wf((size_t)in * out), x((size_t)tokens * in), y((size_t)tokens * out);
                fill(wf, 2654435761u);
                fill(x, 40503u);
                const long bytes = type == TF_CPU_F32_AMX ? tf_cpu_packed_f32_amx_bytes(in, out) : tf_cpu_packed_f32_bytes(in, out);
                std::vector<float> pk(bytes / 4);
                if (type == TF_CPU_F32_AMX) tf_cpu_pack_f32_amx(pk.data(), wf.data(), in, out);
                else tf_cpu_pack_f32(pk.data(), wf.data(), in, out);
                double dt = best_time(tokens == 32 ? 50 : 3, [&] {
                    tf_cpu_matmul(y.data(), x.data(), pk.data(), type, tokens, in, out);
                });
                double f = 2.0 * tokens * in * out;
                flops += f;
                secs += dt;
                printf("%s F32   tokens=%4d %4dx%-4d %8.1f us  %7.1f GFLOP/s\n", name, tokens, in, out, dt * 1e6,
                       f / dt / 1e9);
            }
            printf("%s F32   tokens=%4d MiniLM layer %8.1f us  %7.1f GFLOP/s\n", name, tokens, secs * 1e6,
                   flops / secs / 1e9);
        }
    }
}

/* Paged attention: a decode step of 16 sequences with 256 cached positions each, and a 128-token prefill
 * of one sequence, over caches of 16-position blocks whose tables are shuffled (so rows are not
 * contiguous). Two shapes: Llama-3-8B's GQA (32 query heads, 8 kv heads of 128) and stories110M's MHA. */
/* float -> half for the bench's inputs (values in [-1, 1]: normal or zero; truncation is good enough here). */
static uint16_t tf_bench_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    const uint32_t a = x & 0x7FFFFFFFu, sign = (x >> 16) & 0x8000u;
    return (uint16_t)(a < 0x38800000u ? sign : sign | ((a - 0x38000000u) >> 13));
}

static void paged_attention(const char* isa) {
    struct Shape { int heads, kv_heads, head_dim; };
    for (Shape s : {Shape{32, 8, 128}, Shape{12, 12, 64}}) {
        const int ctx = 256, seqs = 16, bs = 16, per_seq = ctx / bs, slot = s.kv_heads * s.head_dim;
        std::vector<float> k((size_t)seqs * ctx * slot), v(k.size()), q((size_t)128 * s.heads * s.head_dim), out(q.size());
        fill(k, 2654435761u);
        fill(v, 40503u);
        fill(q, 7919u);
        std::vector<int32_t> table((size_t)seqs * per_seq), lens(seqs, ctx);
        for (size_t i = 0; i < table.size(); i++) table[i] = (int32_t)((i * 37) % table.size()); /* 37 is coprime */
        const float scale = 1.0f / sqrtf((float)s.head_dim);
        double dt = best_time(20, [&] {
            tf_cpu_attention_paged(out.data(), q.data(), k.data(), v.data(), TF_CPU_F32, table.data(), lens.data(), seqs, s.heads,
                                   s.kv_heads, s.head_dim, bs, per_seq, scale, 0, 0.0f);
        });
        printf("%-8s paged attention decode 16 seqs x 256  h%d/kv%d/d%-3d %9.1f us\n", isa, s.heads, s.kv_heads,
               s.head_dim, dt * 1e6);
        dt = best_time(20, [&] {
            tf_cpu_attention_paged(out.data(), q.data(), k.data(), v.data(), TF_CPU_F32, table.data(), lens.data(), seqs, s.heads,
                                   s.kv_heads, s.head_dim, bs, per_seq, scale, 0, 50.0f);
        });
        printf("%-8s   the same with soft-cap 50           h%d/kv%d/d%-3d %9.1f us\n", isa, s.heads, s.kv_heads,
               s.head_dim, dt * 1e6);
        std::vector<int32_t> rows((size_t)128 * per_seq), prefix(128);
        for (int t = 0; t < 128; t++) {
            std::copy(table.begin(), table.begin() + per_seq, rows.begin() + (size_t)t * per_seq);
            prefix[t] = t + 1;
        }
        dt = best_time(5, [&] {
            tf_cpu_attention_paged(out.data(), q.data(), k.data(), v.data(), TF_CPU_F32, rows.data(), prefix.data(), 128, s.heads,
                                   s.kv_heads, s.head_dim, bs, per_seq, scale, 0, 0.0f);
        });
        printf("%-8s paged attention prefill 128 tokens    h%d/kv%d/d%-3d %9.1f us\n", isa, s.heads, s.kv_heads,
               s.head_dim, dt * 1e6);
        /* the same cache in halves (the CPU backend's default KV cache) */
        std::vector<uint16_t> kh(k.size()), vh(v.size());
        for (size_t i = 0; i < k.size(); i++) {
            kh[i] = tf_bench_f16(k[i]);
            vh[i] = tf_bench_f16(v[i]);
        }
        dt = best_time(20, [&] {
            tf_cpu_attention_paged(out.data(), q.data(), kh.data(), vh.data(), TF_CPU_F16, table.data(), lens.data(), seqs,
                                   s.heads, s.kv_heads, s.head_dim, bs, per_seq, scale, 0, 0.0f);
        });
        printf("%-8s paged attention decode, f16 cache      h%d/kv%d/d%-3d %9.1f us\n", isa, s.heads, s.kv_heads,
               s.head_dim, dt * 1e6);
        dt = best_time(5, [&] {
            tf_cpu_attention_paged(out.data(), q.data(), kh.data(), vh.data(), TF_CPU_F16, rows.data(), prefix.data(), 128,
                                   s.heads, s.kv_heads, s.head_dim, bs, per_seq, scale, 0, 0.0f);
        });
        printf("%-8s paged attention prefill, f16 cache     h%d/kv%d/d%-3d %9.1f us\n", isa, s.heads, s.kv_heads,
               s.head_dim, dt * 1e6);
    }
}

/* all-MiniLM-L6-v2's attention: 12 heads of 32 read from the fused QKV buffer, texts of 32 tokens. */
static void encoder_attention(const char* isa) {
    for (int batch : {1, 32}) {
        const int seq = 32, heads = 12, hd = 32, hidden = heads * hd;
        std::vector<float> qkv((size_t)batch * seq * 3 * hidden), out((size_t)batch * seq * hidden);
        fill(qkv, 40503u);
        std::vector<int32_t> cu(batch + 1);
        for (int b = 0; b <= batch; b++) cu[b] = b * seq;
        double dt = best_time(batch == 1 ? 200 : 10, [&] {
            tf_cpu_attention_varlen(out.data(), qkv.data(), qkv.data() + hidden, qkv.data() + 2 * hidden, cu.data(), batch,
                                    heads, heads, hd, 3 * hidden, 3 * hidden, 1.0f / sqrtf((float)hd), 0);
        });
        printf("%-8s varlen attention MiniLM batch=%2d                   %9.1f us\n", isa, batch, dt * 1e6);
    }
}

/* Swin-T's window attention at 224 px, stage by stage (grid, heads; window 7, head dim 32), odd blocks' shift
 * of 3 included; the four stages' sum is one image's W-MSA + SW-MSA pair per stage. */
static void swin_window_attention(const char* isa) {
    const int grids[4] = {56, 28, 14, 7}, heads[4] = {3, 6, 12, 24};
    for (int s = 0; s < 4; s++) {
        const int g = grids[s], c = heads[s] * 32, shift = g > 7 ? 3 : 0;
        std::vector<float> qkv((size_t)g * g * 3 * c), out((size_t)g * g * c), bias(13 * 13 * heads[s]);
        fill(qkv, 40503u);
        fill(bias, 7919u);
        double dt = best_time(20, [&] {
            tf_cpu_window_attention(out.data(), qkv.data(), qkv.data() + c, qkv.data() + 2 * c, bias.data(), nullptr, g, g, 7, shift,
                                    heads[s], 32, 3L * c, 0.1767767f);
        });
        printf("%-8s swin-T window attention stage %d (%2dx%2d, %2d heads)  %9.1f us\n", isa, s + 1, g, g, heads[s], dt * 1e6);
    }
}

/* Norms and activations at encoder (MiniLM: 32 tokens, hidden 384, FFN 1536) and decoder (128 x 4096,
 * 128 x 2048 GLU) shapes. */
static void elementwise(const char* isa) {
    const int t = 32, h = 384, f = 1536;
    std::vector<float> x((size_t)t * f), res((size_t)t * h), w(f), b(f), o((size_t)t * h);
    fill(x, 40503u);
    fill(res, 7919u);
    fill(w, 31u);
    fill(b, 17u);
    double dt = best_time(500, [&] { tf_cpu_layernorm(o.data(), res.data(), x.data(), w.data(), b.data(), t, h, 1e-12f); });
    printf("%-8s layernorm 32x384 + residual                         %9.2f us\n", isa, dt * 1e6);
    std::vector<float> y = x;
    dt = best_time(200, [&] { tf_cpu_bias_act(y.data(), b.data(), t, f, TF_ACT_GELU_ERF); });
    printf("%-8s bias_act GELU_ERF 32x1536                           %9.2f us\n", isa, dt * 1e6);
    dt = best_time(200, [&] { tf_cpu_bias_act(y.data(), b.data(), t, f, TF_ACT_GELU_TANH); });
    printf("%-8s bias_act GELU_TANH 32x1536                          %9.2f us\n", isa, dt * 1e6);
    std::vector<float> g((size_t)128 * 2048), u(g.size()), go(g.size());
    fill(g, 40503u);
    fill(u, 7919u);
    dt = best_time(100, [&] { tf_cpu_glu(go.data(), g.data(), u.data(), (long)g.size(), TF_ACT_SILU); });
    printf("%-8s glu SILU 128x2048                                   %9.2f us\n", isa, dt * 1e6);
    std::vector<float> rx((size_t)128 * 4096), rw(4096), ro(rx.size());
    fill(rx, 40503u);
    fill(rw, 31u);
    dt = best_time(50, [&] { tf_cpu_rmsnorm(ro.data(), nullptr, rx.data(), rw.data(), 128, 4096, 1e-5f); });
    printf("%-8s rmsnorm 128x4096                                    %9.2f us\n", isa, dt * 1e6);
}

/* mamba-130m's conv1d and selective scan (inner dim 1536, state 16): decode and a 128-token prefill. */
static void mamba(const char* isa) {
    const int dim = 1536, ds = 16, width = 4;
    for (int tokens : {1, 128}) {
        std::vector<float> x((size_t)tokens * dim), o(x.size()), st((size_t)dim * 3), w((size_t)dim * width), bias(dim);
        std::vector<float> dl(x.size()), A((size_t)dim * ds), B((size_t)tokens * ds), C(B.size()), D(dim), z(x.size()),
            ss((size_t)dim * ds);
        fill(x, 40503u);
        fill(w, 31u);
        fill(bias, 17u);
        fill(dl, 7919u);
        fill(A, 13u);
        fill(B, 101u);
        fill(C, 103u);
        fill(D, 5u);
        fill(z, 11u);
        for (auto& a : A) a = -1.0f - a;
        double dt = best_time(tokens == 1 ? 2000 : 50, [&] {
            tf_cpu_causal_conv1d(o.data(), st.data(), x.data(), w.data(), bias.data(), tokens, dim, width, 1);
        });
        printf("%-8s conv1d tokens=%3d dim 1536                          %9.2f us\n", isa, tokens, dt * 1e6);
        dt = best_time(tokens == 1 ? 2000 : 20, [&] {
            tf_cpu_selective_scan(o.data(), ss.data(), x.data(), dl.data(), A.data(), B.data(), C.data(), D.data(),
                                  z.data(), bias.data(), tokens, dim, ds, 1);
        });
        printf("%-8s selective scan tokens=%3d dim 1536 dstate 16        %9.2f us\n", isa, tokens, dt * 1e6);
    }
}

static void ops() {
    const char* isas[] = {"generic", "avx2", "avx512"};
    for (int isa = 0; isa <= 2; isa++) {
        if (tf_cpu_set_isa(isa) < 0) continue;
        encoder_attention(isas[isa]);
        swin_window_attention(isas[isa]);
        paged_attention(isas[isa]);
        elementwise(isas[isa]);
        mamba(isas[isa]);
    }
    tf_cpu_set_isa(tf_cpu_best_isa());
}

/* The ggml block types of kquant.inc (and Q8_0 beside them), same shape as matmul() below: blocks of
 * hashed bytes with small f16 scales (the values do not matter for timing, denormals would). */
static void kquant_shapes(int in, int out, const std::vector<float>& x, std::vector<float>& y) {
    struct T { int type; const char* name; int elems, bytes, d0, d1; };
    const T types[] = {{TF_CPU_Q8_0, "Q8_0", 32, 34, 0, 0},   {TF_CPU_Q4_1, "Q4_1", 32, 20, 0, 2},
                       {TF_CPU_Q5_0, "Q5_0", 32, 22, 0, 0},   {TF_CPU_Q4_K, "Q4_K", 256, 144, 0, 2},
                       {TF_CPU_Q5_K, "Q5_K", 256, 176, 0, 2}, {TF_CPU_Q6_K, "Q6_K", 256, 210, 208, 208}};
    tf_cpu_set_isa(tf_cpu_best_isa());
    for (const T& t : types) {
        const size_t blocks = (size_t)out * in / t.elems;
        std::vector<unsigned char> w(blocks * t.bytes);
        for (size_t i = 0; i < w.size(); i++) w[i] = (unsigned char)((i * 2654435761u) >> 13);
        for (size_t b = 0; b < blocks; b++) {
            const unsigned short d = 0x2000;
            memcpy(&w[b * t.bytes + t.d0], &d, 2);
            memcpy(&w[b * t.bytes + t.d1], &d, 2);
        }
        for (int tokens : {1, 128}) {
            double dt = best_time(tokens == 1 ? 200 : 5,
                                  [&] { tf_cpu_matmul(y.data(), x.data(), w.data(), t.type, tokens, in, out); });
            printf("best     %-5s tokens=%3d  %8.1f us  %7.1f GFLOP/s  %6.1f GB/s (weights)\n", t.name, tokens, dt * 1e6,
                   2.0 * tokens * in * out / dt / 1e9, w.size() / dt / 1e9);
        }
    }
}

static void matmul() {
    /* TRANSFUSE_BENCH_OUT=32000: a matrix far larger than the caches (the classifier's shape) */
    const int in = 768, out = getenv("TRANSFUSE_BENCH_OUT") ? atoi(getenv("TRANSFUSE_BENCH_OUT")) : 2048;
    std::vector<float> wf((size_t)in * out), x((size_t)128 * in), y((size_t)128 * out);
    fill(wf, 2654435761u);
    fill(x, 40503u);
    std::vector<unsigned char> wq((size_t)out * in / 32 * 34);
    for (size_t b = 0; b < wq.size() / 34; b++) {
        unsigned short d = 0x2000; /* small f16 scale */
        memcpy(&wq[b * 34], &d, 2);
        for (int j = 0; j < 32; j++) wq[b * 34 + 2 + j] = (unsigned char)((b * 7 + j * 13) % 255);
    }
    const char* isas[] = {"generic", "avx2", "avx512"};
    for (int isa = 0; isa <= 2; isa++) {
        if (tf_cpu_set_isa(isa) < 0) continue;
        for (int type : {TF_CPU_F32, TF_CPU_Q8_0}) {
            const void* w = type == TF_CPU_F32 ? (const void*)wf.data() : (const void*)wq.data();
            double wbytes = type == TF_CPU_F32 ? wf.size() * 4.0 : (double)wq.size();
            for (int tokens : {1, 128}) {
                double dt = best_time(tokens == 1 ? 200 : 5,
                                      [&] { tf_cpu_matmul(y.data(), x.data(), w, type, tokens, in, out); });
                printf("%-8s %-5s tokens=%3d  %8.1f us  %7.1f GFLOP/s  %6.1f GB/s (weights)\n", isas[isa],
                       type == TF_CPU_F32 ? "F32" : "Q8_0", tokens, dt * 1e6, 2.0 * tokens * in * out / dt / 1e9,
                       wbytes / dt / 1e9);
            }
        }
    }
    kquant_shapes(in, out, x, y);
    encoder_shapes();
}

/* q8: the best ISA's Q8_0 and Q4_0 matmuls at the token counts of batched decode (one token per sequence) and
 * prefill, as stored and (where this CPU's kernels prefer it) repacked into 16-row groups, to see where the
 * integer tiles turn compute-bound (TRANSFUSE_BENCH_IN / _OUT: the shape; _COPIES: see below). */
static void q8_batch() {
    const int in = getenv("TRANSFUSE_BENCH_IN") ? atoi(getenv("TRANSFUSE_BENCH_IN")) : 768;
    const int out = getenv("TRANSFUSE_BENCH_OUT") ? atoi(getenv("TRANSFUSE_BENCH_OUT")) : 2048;
    /* TRANSFUSE_BENCH_COPIES=N cycles through N copies of each weight (64 x 1.6 MiB: from DRAM, as in a model) */
    const int copies = getenv("TRANSFUSE_BENCH_COPIES") ? std::max(1, atoi(getenv("TRANSFUSE_BENCH_COPIES"))) : 1;
    std::vector<float> x((size_t)128 * in), y((size_t)128 * out);
    fill(x, 40503u);
    tf_cpu_set_isa(tf_cpu_best_isa());
    for (int type : {TF_CPU_Q8_0, TF_CPU_Q4_0}) {
        const int bytes = type == TF_CPU_Q8_0 ? 34 : 18;
        std::vector<unsigned char> wq((size_t)out * in / 32 * bytes);
        for (size_t b = 0; b < wq.size() / bytes; b++) {
            unsigned short d = 0x2000;
            memcpy(&wq[b * bytes], &d, 2);
            for (int j = 2; j < bytes; j++) wq[b * bytes + j] = (unsigned char)((b * 7 + j * 13) % 255);
        }
        Aligned<unsigned char> wr;
        const int r16_type = tf_cpu_rows16_type(type);
        const size_t r16_bytes = r16_type >= 0 ? (size_t)tf_cpu_packed_rows16_bytes(r16_type, in, out) : 0;
        if (r16_type >= 0) {
            wr.resize(r16_bytes * copies);
            for (int c = 0; c < copies; c++) tf_cpu_pack_rows16(r16_type, wr.data() + c * r16_bytes, wq.data(), in, out);
        }
        Aligned<unsigned char> wqs((size_t)copies * wq.size());
        for (int c = 0; c < copies; c++) memcpy(wqs.data() + c * wq.size(), wq.data(), wq.size());
        for (int tokens : {1, 2, 4, 8, 16, 32, 64, 128})
            for (int r16 = 0; r16 <= (wr.empty() ? 0 : 1); r16++) {
                int next = 0;
                double dt = best_time(tokens <= 16 ? 100 : 10, [&] {
                    const int c = next;
                    next = (next + 1) % copies;
                    const void* w = r16 ? (const void*)(wr.data() + c * r16_bytes) : (const void*)(wqs.data() + c * wq.size());
                    tf_cpu_matmul(y.data(), x.data(), w, r16 ? r16_type : type, tokens, in, out);
                });
                printf("best     %-4s%-4s tokens=%3d  %8.1f us  %7.1f GFLOP/s  %6.1f GB/s (weights)\n",
                       type == TF_CPU_Q8_0 ? "Q8_0" : "Q4_0", r16 ? "_R16" : "", tokens, dt * 1e6,
                       2.0 * tokens * in * out / dt / 1e9, wq.size() / dt / 1e9);
            }
    }
}

/* attn: one batched decode step's paged attention in stories110M's shape (12 heads of 64, f16 cache, 16-position
 * blocks in shuffled order) for TRANSFUSE_BENCH_SEQS sequences (16) of TRANSFUSE_BENCH_CTX positions (64),
 * cycling through TRANSFUSE_BENCH_COPIES caches (12: one per layer, so from DRAM as in a model).
 * TRANSFUSE_BENCH_HEADS (12) changes the heads per cache slot: 1 head and 192 sequences read the same bytes as
 * contiguous 2 KiB pieces per block instead of 128-byte pieces 1536 bytes apart (measured the same: the scattered
 * layout is not what limits a decode step's attention). */
static void attn_decode() {
    const int seqs = getenv("TRANSFUSE_BENCH_SEQS") ? atoi(getenv("TRANSFUSE_BENCH_SEQS")) : 16;
    const int ctx = getenv("TRANSFUSE_BENCH_CTX") ? atoi(getenv("TRANSFUSE_BENCH_CTX")) : 64;
    const int copies = getenv("TRANSFUSE_BENCH_COPIES") ? std::max(1, atoi(getenv("TRANSFUSE_BENCH_COPIES"))) : 12;
    const int heads = getenv("TRANSFUSE_BENCH_HEADS") ? atoi(getenv("TRANSFUSE_BENCH_HEADS")) : 12, head_dim = 64, bs = 16;
    const int per_seq = (ctx + bs - 1) / bs, slot = heads * head_dim;
    const size_t cache = (size_t)seqs * per_seq * bs * slot;
    Aligned<uint16_t> k(cache * copies), v(cache * copies);
    for (size_t i = 0; i < k.size(); i++) {
        k[i] = tf_bench_f16((float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f);
        v[i] = tf_bench_f16((float)((i * 40503u) % 1000) / 1000.0f - 0.5f);
    }
    std::vector<float> q((size_t)seqs * slot), out(q.size());
    fill(q, 7919u);
    std::vector<int32_t> table((size_t)seqs * per_seq), lens(seqs, ctx);
    for (size_t i = 0; i < table.size(); i++) table[i] = (int32_t)((i * 37) % table.size());
    tf_cpu_set_isa(tf_cpu_best_isa());
    int next = 0;
    const double dt = best_time(50, [&] {
        const size_t c = next;
        next = (next + 1) % copies;
        tf_cpu_attention_paged(out.data(), q.data(), k.data() + c * cache, v.data() + c * cache, TF_CPU_F16, table.data(),
                               lens.data(), seqs, heads, heads, head_dim, bs, per_seq, 0.125f, 0, 0.0f);
    });
    const double bytes = 2.0 * seqs * ctx * slot * 2;
    printf("best     paged attention decode f16 %d seqs x %d  %8.1f us  %6.1f GB/s (cache read)\n", seqs, ctx, dt * 1e6,
           bytes / dt / 1e9);
}

/* f32: the best ISA's F32 matmul (768 x 2048 unless TRANSFUSE_BENCH_IN / _OUT) at decode's token counts, rows as
 * stored (the dot-product tile) and packed in column panels, cycling through TRANSFUSE_BENCH_COPIES copies (16). */
static void f32_batch() {
    const int in = getenv("TRANSFUSE_BENCH_IN") ? atoi(getenv("TRANSFUSE_BENCH_IN")) : 768;
    const int out = getenv("TRANSFUSE_BENCH_OUT") ? atoi(getenv("TRANSFUSE_BENCH_OUT")) : 2048;
    const int copies = getenv("TRANSFUSE_BENCH_COPIES") ? std::max(1, atoi(getenv("TRANSFUSE_BENCH_COPIES"))) : 16;
    tf_cpu_set_isa(tf_cpu_best_isa());
    std::vector<float> x((size_t)64 * in), y((size_t)64 * out), w((size_t)in * out);
    fill(x, 40503u);
    fill(w, 2654435761u);
    const size_t pbytes = (size_t)tf_cpu_packed_f32_bytes(in, out);
    Aligned<float> plain(w.size() * copies), panels(pbytes / 4 * copies);
    for (int c = 0; c < copies; c++) {
        std::copy(w.begin(), w.end(), plain.data() + (size_t)c * w.size());
        tf_cpu_pack_f32(panels.data() + c * (pbytes / 4), w.data(), in, out);
    }
    for (int tokens : {1, 2, 4, 8, 16, 32})
        for (int packed = 0; packed <= 1; packed++) {
            int next = 0;
            const double dt = best_time(tokens <= 16 ? 20 : 5, [&] {
                const int c = next;
                next = (next + 1) % copies;
                const void* wc = packed ? (const void*)(panels.data() + c * (pbytes / 4)) : (const void*)(plain.data() + (size_t)c * w.size());
                tf_cpu_matmul(y.data(), x.data(), wc, packed ? TF_CPU_F32_PANELS : TF_CPU_F32, tokens, in, out);
            });
            printf("best     F32%-7s tokens=%3d  %8.1f us  %7.1f GFLOP/s  %6.1f GB/s (weights)\n", packed ? "_PANELS" : "",
                   tokens, dt * 1e6, 2.0 * tokens * in * out / dt / 1e9, 4.0 * in * out / dt / 1e9);
        }
}

int main(int argc, char** argv) {
    const int threads = argc > 1 ? atoi(argv[1]) : 2;
    const char* what = argc > 2 ? argv[2] : "all";
    g_cpu_clock = getenv("TRANSFUSE_BENCH_CPUTIME") != nullptr;
    tf_cpu_set_threads(threads);
    if (strcmp(what, "q8") == 0) {
        q8_batch();
        return 0;
    }
    if (strcmp(what, "f32") == 0) {
        f32_batch();
        return 0;
    }
    if (strcmp(what, "attn") == 0) {
        attn_decode();
        return 0;
    }
    if (strcmp(what, "ops") != 0) matmul();
    if (strcmp(what, "matmul") != 0) ops();
    return 0;
}
