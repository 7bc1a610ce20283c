// gpu_bench.cu: times every kernel of libtransfuse_cuda on a real GPU through the C ABI of
// transfuse.h and prints achieved GB/s (bandwidth-bound kernels) or TFLOP/s (attention prefill).
//
// Not part of the ctest suite (it needs a GPU); ci/gpu-bench.sh builds it with nvcc against
// libtransfuse_cuda and runs it. With no GPU it says so and exits 0.
//
// Method: each kernel runs 5 warm-up launches, then 30 launches each timed with its own pair of
// cudaEvents; the median is reported. Inputs are filled once by a hash kernel with values in
// [-1, 1] (no NaNs or denormals that could distort timings). "Bytes" counts the compulsory DRAM
// traffic of the op (each input read once, each output written once), so GB/s is comparable to the
// device's peak bandwidth, printed in the header. Shapes are those of Llama-3-8B (dim 4096, 32 heads,
// 8 KV heads, head_dim 128, ffn 14336) and Mamba-2.8B (d_inner 5120, dstate 16, conv width 4).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "transfuse.h"

namespace {

#define CUDA_OK(expr)                                                                        \
  do {                                                                                       \
    cudaError_t e_ = (expr);                                                                 \
    if (e_ != cudaSuccess) {                                                                 \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #expr, cudaGetErrorString(e_)); \
      std::exit(1);                                                                          \
    }                                                                                        \
  } while (0)

// Fills n 16-bit (bf16) or 32-bit (f32) values with a hash of the index mapped to [-1, 1] * scale.
__global__ void fill_kernel(void* p, size_t n, int is_f32, uint32_t seed, float scale) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    uint32_t h = uint32_t(i) * 2654435761u ^ seed;
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    const float v = (float(h & 0xFFFFFF) / float(0x800000) - 1.f) * scale;
    if (is_f32) {
      static_cast<float*>(p)[i] = v;
    } else {
      uint32_t bits;
      memcpy(&bits, &v, 4);
      static_cast<uint16_t*>(p)[i] = uint16_t(bits >> 16);  // bf16 by truncation: fine for timing
    }
  }
}

struct DeviceArena {
  std::vector<void*> blocks;
  void* alloc(size_t bytes) {
    void* p = nullptr;
    CUDA_OK(cudaMalloc(&p, bytes + 256));
    blocks.push_back(p);
    return p;
  }
  // bf16 (or f32) tensor of n elements with values in [-scale, scale].
  void* random(size_t n, bool f32 = false, float scale = 1.f) {
    void* p = alloc(n * (f32 ? 4 : 2));
    static uint32_t seed = 1;
    fill_kernel<<<1024, 256>>>(p, n, f32, seed++ * 7919u, scale);
    CUDA_OK(cudaGetLastError());
    return p;
  }
  template <typename T>
  T* upload(const std::vector<T>& v) {
    void* p = alloc(v.size() * sizeof(T));
    CUDA_OK(cudaMemcpy(p, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
    return static_cast<T*>(p);
  }
  ~DeviceArena() {
    for (void* p : blocks) cudaFree(p);
  }
};

// Median time in ms of `launch` (which returns the launcher's error code).
double time_ms(const char* name, const std::function<int()>& launch) {
  constexpr int kWarmup = 5, kRuns = 30;
  for (int i = 0; i < kWarmup; ++i) {
    const int err = launch();
    if (err != 0) {
      std::printf("%-34s launch error %d\n", name, err);
      return -1;
    }
  }
  CUDA_OK(cudaDeviceSynchronize());
  cudaEvent_t start[kRuns], stop[kRuns];
  for (int i = 0; i < kRuns; ++i) {
    CUDA_OK(cudaEventCreate(&start[i]));
    CUDA_OK(cudaEventCreate(&stop[i]));
  }
  for (int i = 0; i < kRuns; ++i) {
    CUDA_OK(cudaEventRecord(start[i]));
    launch();
    CUDA_OK(cudaEventRecord(stop[i]));
  }
  CUDA_OK(cudaDeviceSynchronize());
  std::vector<float> ms(kRuns);
  for (int i = 0; i < kRuns; ++i) {
    CUDA_OK(cudaEventElapsedTime(&ms[i], start[i], stop[i]));
    cudaEventDestroy(start[i]);
    cudaEventDestroy(stop[i]);
  }
  std::nth_element(ms.begin(), ms.begin() + kRuns / 2, ms.end());
  return ms[kRuns / 2];
}

void report_bw(const char* name, double bytes, const std::function<int()>& launch) {
  const double ms = time_ms(name, launch);
  if (ms < 0) return;
  std::printf("%-34s %9.1f us %9.1f GB/s\n", name, ms * 1e3, bytes / (ms * 1e-3) / 1e9);
}

void report_flops(const char* name, double flops, double bytes, const std::function<int()>& launch) {
  const double ms = time_ms(name, launch);
  if (ms < 0) return;
  std::printf("%-34s %9.1f us %9.1f TFLOP/s %7.1f GB/s\n", name, ms * 1e3, flops / (ms * 1e-3) / 1e12,
              bytes / (ms * 1e-3) / 1e9);
}

}  // namespace

int main() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::printf("gpu_bench: no CUDA GPU available; nothing to time.\n");
    return 0;
  }
  cudaDeviceProp prop{};
  CUDA_OK(cudaGetDeviceProperties(&prop, 0));
  int mem_clock_khz = 0, bus_bits = 0;
  cudaDeviceGetAttribute(&mem_clock_khz, cudaDevAttrMemoryClockRate, 0);
  cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, 0);
  std::printf("device: %s (sm_%d%d, %d SMs), theoretical DRAM bandwidth %.0f GB/s\n", prop.name, prop.major,
              prop.minor, prop.multiProcessorCount, 2.0 * mem_clock_khz * 1e3 * (bus_bits / 8) / 1e9);
  std::printf("%-34s %12s %s\n", "kernel (bf16 unless noted)", "median", "throughput");

  DeviceArena A;
  const int BF = TF_DTYPE_BF16;
  void* const s = nullptr;  // default stream

  // ---- norms, embedding (Llama-3-8B prefill: 4096 tokens x 4096) ----
  {
    const int rows = 4096, dim = 4096;
    const double n = double(rows) * dim;
    void* x = A.random(n);
    void* res = A.random(n);
    void* out = A.alloc(n * 2);
    void* w = A.random(dim);
    void* b = A.random(dim);
    report_bw("rmsnorm 4096x4096", 2 * n * 2, [&] { return tf_rmsnorm(out, nullptr, x, w, rows, dim, 1e-5f, BF, s); });
    report_bw("rmsnorm+residual 4096x4096", 4 * n * 2,
              [&] { return tf_rmsnorm(out, res, x, w, rows, dim, 1e-5f, BF, s); });
    report_bw("layernorm+residual+bias 4096x4096", 4 * n * 2,
              [&] { return tf_layernorm(out, res, x, w, b, rows, dim, 1e-5f, BF, s); });
    report_bw("rmsnorm+residual decode 1x4096", 4.0 * dim * 2,
              [&] { return tf_rmsnorm(out, res, x, w, 1, dim, 1e-5f, BF, s); });

    const int vocab = 128256;
    void* table = A.random(size_t(vocab) * dim);
    std::vector<int32_t> ids(rows);
    for (int i = 0; i < rows; ++i) ids[i] = int32_t((i * 7919ll) % vocab);
    int32_t* d_ids = A.upload(ids);
    report_bw("embedding 4096 tokens x 4096", 2 * n * 2,
              [&] { return tf_embedding(out, d_ids, table, rows, dim, vocab, BF, BF, s); });
  }

  // ---- RoPE (4096 tokens, 32 q heads, 8 kv heads, head_dim 128) ----
  {
    const int tokens = 4096, nh = 32, nkv = 8, hd = 128, block_size = 16;
    void* q = A.random(size_t(tokens) * nh * hd);
    void* k = A.random(size_t(tokens) * nkv * hd);
    void* v = A.random(size_t(tokens) * nkv * hd);
    std::vector<float> inv_freq(hd / 2);
    for (int i = 0; i < hd / 2; ++i) inv_freq[i] = float(std::pow(500000.0, -2.0 * i / hd));
    std::vector<int32_t> pos(tokens), seq(tokens);
    const int per_seq = 1024, nseq = tokens / per_seq, max_blocks = per_seq / block_size;
    for (int t = 0; t < tokens; ++t) { pos[t] = t % per_seq; seq[t] = t / per_seq; }
    std::vector<int32_t> table(size_t(nseq) * max_blocks);
    for (size_t i = 0; i < table.size(); ++i) table[i] = int32_t((i * 37) % table.size());  // scattered
    float* d_freq = A.upload(inv_freq);
    int32_t* d_pos = A.upload(pos);
    int32_t* d_seq = A.upload(seq);
    int32_t* d_table = A.upload(table);
    void* kc = A.alloc(table.size() * block_size * nkv * hd * 2);
    void* vc = A.alloc(table.size() * block_size * nkv * hd * 2);
    const double qk = double(tokens) * (nh + nkv) * hd * 2;
    report_bw("rope q+k in place 4096 tok", 2 * qk, [&] {
      return tf_rope(q, k, d_pos, d_freq, tokens, nh, nkv, hd, hd, TF_ROPE_HALF_SPLIT, 1.f, BF, s);
    });
    const double kv = double(tokens) * nkv * hd * 2;
    report_bw("rope + paged kv write 4096 tok", 2 * double(tokens) * nh * hd * 2 + 4 * kv, [&] {
      return tf_rope_kv_cache(q, k, v, kc, vc, d_table, d_pos, d_seq, d_freq, tokens, nh, nkv, hd, hd,
                              TF_ROPE_HALF_SPLIT, 1.f, block_size, max_blocks, BF, s);
    });
  }

  // ---- GLU (ffn 14336): epilogue over 4096 tokens, and the decode GEMV over 4096 x 14336 weights ----
  {
    const int tokens = 4096, ffn = 14336, dim = 4096;
    void* gu = A.random(size_t(tokens) * 2 * ffn);
    void* gate = A.random(size_t(tokens) * ffn);
    void* up = A.random(size_t(tokens) * ffn);
    void* out = A.alloc(size_t(tokens) * ffn * 2);
    const void* gu_up = static_cast<const uint16_t*>(gu) + ffn;
    report_bw("glu silu 4096 x 14336 (fused gate|up)", 3.0 * tokens * ffn * 2,
              [&] { return tf_glu(out, gu, gu_up, tokens, ffn, 2L * ffn, TF_ACT_SILU, BF, s); });
    report_bw("glu silu 4096 x 14336 (separate)", 3.0 * tokens * ffn * 2,
              [&] { return tf_glu(out, gate, up, tokens, ffn, ffn, TF_ACT_SILU, BF, s); });
    report_bw("glu gelu_tanh 4096 x 14336 (separate)", 3.0 * tokens * ffn * 2,
              [&] { return tf_glu(out, gate, up, tokens, ffn, ffn, TF_ACT_GELU_TANH, BF, s); });
    void* wg = A.random(size_t(ffn) * dim, false, 0.03f);
    void* wu = A.random(size_t(ffn) * dim, false, 0.03f);
    void* x = A.random(dim, true);
    void* y = A.alloc(ffn * 4);
    report_bw("glu_gemv decode 14336x4096 (x f32)", 2.0 * ffn * dim * 2,
              [&] { return tf_glu_gemv(y, wg, wu, x, ffn, dim, TF_ACT_SILU, BF, TF_DTYPE_F32, s); });
  }

  // ---- Mamba-2.8B: selective scan (2048 tokens), decode update (batch 64), conv1d ----
  {
    const int batch = 1, dim = 5120, L = 2048, N = 16;
    const double n = double(batch) * dim * L;
    void* u = A.random(n);
    void* delta = A.random(n);
    void* z = A.random(n);
    void* out = A.alloc(n * 2);
    void* B = A.random(double(batch) * N * L);
    void* C = A.random(double(batch) * N * L);
    std::vector<float> Ah(size_t(dim) * N), D(dim), bias(dim, -4.f);
    for (size_t i = 0; i < Ah.size(); ++i) Ah[i] = -float(1 + i % N);
    for (int i = 0; i < dim; ++i) D[i] = 1.f;
    float* dA = A.upload(Ah);
    float* dD = A.upload(D);
    float* dbias = A.upload(bias);
    float* fstate = static_cast<float*>(A.alloc(size_t(batch) * dim * N * 4));
    report_bw("selective_scan 5120 x 2048, N 16", 4 * n * 2 + 2.0 * batch * N * L * 2, [&] {
      return tf_selective_scan(out, fstate, u, delta, dA, B, C, dD, z, dbias, nullptr, batch, dim, L, N, 1, 1, BF, s);
    });

    const int sb = 64;
    float* state = static_cast<float*>(A.random(size_t(sb) * dim * N, true));
    void* sx = A.random(size_t(sb) * dim);
    void* sdt = A.random(size_t(sb) * dim);
    void* sz = A.random(size_t(sb) * dim);
    void* sB = A.random(size_t(sb) * N);
    void* sC = A.random(size_t(sb) * N);
    void* sy = A.alloc(size_t(sb) * dim * 2);
    report_bw("selective_state_update b64 x 5120", 2.0 * sb * dim * N * 4 + 4.0 * sb * dim * 2, [&] {
      return tf_selective_state_update(sy, state, sx, sdt, dA, sB, sC, dD, sz, dbias, sb, dim, N, 1, 1, BF, s);
    });

    const int W = 4;
    void* cw = A.random(size_t(dim) * W);
    void* cb = A.random(dim);
    void* cstate = A.alloc(size_t(sb) * dim * (W - 1) * 2);
    report_bw("causal_conv1d 5120 x 2048, w 4", 2 * n * 2,
              [&] { return tf_causal_conv1d(out, cstate, u, cw, cb, batch, dim, L, W, 1, BF, s); });
    report_bw("causal_conv1d_update b64 x 5120", 2.0 * sb * dim * (W - 1) * 2 + 2.0 * sb * dim * 2,
              [&] { return tf_causal_conv1d_update(sy, cstate, sx, cw, cb, sb, dim, W, 1, BF, s); });

    // Token-major [L][dim] <-> channel-major [dim][L] around the scan (bf16 and f32).
    void* tm = A.alloc(n * 4);
    report_bw("transpose bf16 2048 x 5120", 2 * n * 2, [&] { return tf_transpose(tm, u, L, dim, BF, s); });
    void* f32_in = A.random(n, true);
    report_bw("transpose f32 2048 x 5120", 2 * n * 4,
              [&] { return tf_transpose(tm, f32_in, L, dim, TF_DTYPE_F32, s); });
  }

  // ---- attention (Llama-3-8B heads): prefill 4 x 2048 causal; decode 16 x 4096 context ----
  {
    const int batch = 4, L = 2048, nh = 32, nkv = 8, hd = 128;
    void* q = A.random(size_t(batch) * L * nh * hd);
    void* k = A.random(size_t(batch) * L * nkv * hd);
    void* v = A.random(size_t(batch) * L * nkv * hd);
    void* o = A.alloc(size_t(batch) * L * nh * hd * 2);
    std::vector<int32_t> cu(batch + 1);
    for (int b = 0; b <= batch; ++b) cu[b] = b * L;
    int32_t* d_cu = A.upload(cu);
    const double flops = 4.0 * batch * nh * double(L) * L * hd / 2;  // causal: half the score matrix
    const double bytes = 2.0 * batch * L * (2 * nh + 2 * nkv) * hd;
    report_flops("attention_prefill 4x2048 causal", flops, bytes, [&] {
      return tf_attention_prefill_bf16(q, k, v, o, nullptr, d_cu, d_cu, batch, L, nh, nkv, hd, long(nh) * hd,
                                       long(nkv) * hd, 0.08838834764f, 1, 0, 0.f, nullptr, s);
    });
    // The same attention reading Q, K, V as column blocks of one fused QKV projection output.
    const long qkv_stride = long(nh + 2 * nkv) * hd;
    void* qkv = A.random(size_t(batch) * L * qkv_stride);
    const uint16_t* fq = static_cast<const uint16_t*>(qkv);
    report_flops("attention_prefill 4x2048 causal fused qkv", flops, bytes, [&] {
      return tf_attention_prefill_bf16(fq, fq + nh * hd, fq + (nh + nkv) * hd, o, nullptr, d_cu, d_cu, batch, L, nh, nkv,
                                       hd, qkv_stride, qkv_stride, 0.08838834764f, 1, 0, 0.f, nullptr, s);
    });

    // One long sequence, head dims 64 and 128, at 4k and 16k tokens (32 heads, 8 KV heads): the prefill
    // throughput against the dense bf16 peak (ci/gpu-test.sh's summary).
    for (const int shd : {64, 128}) {
      for (const int sl : {4096, 16384}) {
        void* sq = A.random(size_t(sl) * nh * shd);
        void* sk = A.random(size_t(sl) * nkv * shd);
        void* sv = A.random(size_t(sl) * nkv * shd);
        void* so = A.alloc(size_t(sl) * nh * shd * 2);
        const std::vector<int32_t> scu = {0, sl};
        int32_t* d_scu = A.upload(scu);
        char name[64];
        std::snprintf(name, sizeof name, "attention_prefill 1x%d causal d%d", sl, shd);
        report_flops(name, 4.0 * nh * double(sl) * sl * shd / 2, 2.0 * sl * (2 * nh + 2 * nkv) * shd, [&] {
          return tf_attention_prefill_bf16(sq, sk, sv, so, nullptr, d_scu, d_scu, 1, sl, nh, nkv, shd, long(nh) * shd,
                                           long(nkv) * shd, 1.f / std::sqrt(float(shd)), 1, 0, nullptr, s);
        });
      }
    }

    const int db = 16, ctx = 4096, block_size = 16, max_blocks = ctx / block_size, split = 512;
    void* dq = A.random(size_t(db) * nh * hd);
    void* dout = A.alloc(size_t(db) * nh * hd * 2);
    void* kc = A.random(size_t(db) * max_blocks * block_size * nkv * hd);
    void* vc = A.random(size_t(db) * max_blocks * block_size * nkv * hd);
    std::vector<int32_t> table(size_t(db) * max_blocks), lens(db, ctx);
    for (size_t i = 0; i < table.size(); ++i) table[i] = int32_t((i * 101) % table.size());
    int32_t* d_table = A.upload(table);
    int32_t* d_lens = A.upload(lens);
    void* ws = A.alloc(tf_attention_decode_workspace_bytes(db, nh, hd, ctx, split));
    report_bw("attention_decode 16 x 4096 ctx", 2.0 * db * ctx * nkv * hd * 2, [&] {
      return tf_attention_decode_bf16(dq, kc, vc, dout, d_table, d_lens, db, nh, nkv, hd, block_size, max_blocks, ctx,
                                      split, 0.08838834764f, 0, 0.f, nullptr, ws, s);
    });
  }

  // ---- attention (Gemma-2-9B heads: 16 x 256, 8 KV heads; prefill with and without soft-cap 50) ----
  {
    const int batch = 4, L = 2048, nh = 16, nkv = 8, hd = 256;
    const float scale = 0.0625f, softcap = 50.f;
    void* q = A.random(size_t(batch) * L * nh * hd);
    void* k = A.random(size_t(batch) * L * nkv * hd);
    void* v = A.random(size_t(batch) * L * nkv * hd);
    void* o = A.alloc(size_t(batch) * L * nh * hd * 2);
    std::vector<int32_t> cu(batch + 1);
    for (int b = 0; b <= batch; ++b) cu[b] = b * L;
    int32_t* d_cu = A.upload(cu);
    const double flops = 4.0 * batch * nh * double(L) * L * hd / 2;
    const double bytes = 2.0 * batch * L * (2 * nh + 2 * nkv) * hd;
    for (float cap : {0.f, softcap})
      report_flops(cap > 0 ? "attention_prefill 4x2048 causal D=256 softcap" : "attention_prefill 4x2048 causal D=256",
                   flops, bytes, [&] {
                     return tf_attention_prefill_bf16(q, k, v, o, nullptr, d_cu, d_cu, batch, L, nh, nkv, hd,
                                                      long(nh) * hd, long(nkv) * hd, scale, 1, 0, cap, nullptr, s);
                   });
    const int db = 16, ctx = 4096, block_size = 16, max_blocks = ctx / block_size, split = 512;
    void* dq = A.random(size_t(db) * nh * hd);
    void* dout = A.alloc(size_t(db) * nh * hd * 2);
    void* kc = A.random(size_t(db) * max_blocks * block_size * nkv * hd);
    void* vc = A.random(size_t(db) * max_blocks * block_size * nkv * hd);
    std::vector<int32_t> table(size_t(db) * max_blocks), lens(db, ctx);
    for (size_t i = 0; i < table.size(); ++i) table[i] = int32_t((i * 101) % table.size());
    int32_t* d_table = A.upload(table);
    int32_t* d_lens = A.upload(lens);
    void* ws = A.alloc(tf_attention_decode_workspace_bytes(db, nh, hd, ctx, split));
    report_bw("attention_decode 16 x 4096 ctx D=256 softcap", 2.0 * db * ctx * nkv * hd * 2, [&] {
      return tf_attention_decode_bf16(dq, kc, vc, dout, d_table, d_lens, db, nh, nkv, hd, block_size, max_blocks, ctx,
                                      split, scale, 0, softcap, nullptr, ws, s);
    });
  }
  CUDA_OK(cudaDeviceSynchronize());
  return 0;
}
