// cpu_ops.cpp: libtransfuse_cpu (transfuse.h section 1) against naive double-precision references
// written here, independent of the library code (quantised blocks are built here from the GGML
// layouts, not with any library helper).
//
// Every SIMD-dispatched op (matmul, attention, silu_glu) runs under every instruction set this CPU
// supports (tf_cpu_set_isa returns -1 for the others, which are skipped) and with 1 and 2 threads.
//
// Tolerances (|got - ref| <= bound):
//  - matmul: the library accumulates in fp32 (x is never quantised; weights are dequantised
//    exactly: f16/bf16 -> f32 is exact and d*q is exact in f32 since d has 11 significant bits and
//    |q| <= 128). Summing in_dim products in fp32 in any order has error <= ~in_dim * 2^-24 *
//    sum_i |w_i x_i| (classic recursive-summation bound; blocked/FMA orders are better), so the
//    bound per output is in_dim * 2^-24 * sum|w x| + 1e-30. One dropped or doubled term is
//    ~sum|w x| / in_dim, far above it (1/1056 vs 6.3e-5 at the largest in_dim).
//  - matmul with Q8_0/Q4_0 weights (AVX-512 also without AMX, and without VNNI): the library quantises each 32-element block of x (transfuse.h):
//    d = max|x| / 127 in f32, q = round-to-nearest(x * 127 / max|x|), then sums exact int32 block
//    dot products scaled by d_w * d_x in fp32. Two checks:
//    (a) against the exact product W x with the quantisation's worst case: |x - d q| <= d/2 per
//        element, so |error| <= sum_b (d_b / 2)(1 + 2^-20) sum_{i in b} |w_i| + the fp32 bound above
//        (this shows the quantisation is what the header promises);
//    (b) against W x^ with x^ = d q quantised here in double from the same definition: only fp32
//        summation error remains, 2 (in_dim + 4) 2^-24 sum|w x^|, plus |w_i| d for each element
//        whose x / d lies within 1e-3 of a rounding tie (x * (127/max) in f32 may round the other
//        way). This one is tight: a dropped or doubled block term fails it.
//  - attention: fp32 dot products over head_dim (<= 128, values in [-1, 1]), expf (<= 2 ulp), an
//    fp32 weighted average of v in [-1, 1]: errors ~1e-6; bound 2e-5 + 1e-4 |ref|.
//  - rmsnorm (double sum of squares, f32 scaling): 1e-6 + 1e-5 |ref|.
//  - rope: angle is (float)pos * inv_freq in float, as the header specifies (the reference does the
//    same, then cos/sin in double); cosf/sinf ~1 ulp, two f32 products: 4e-6 + 1e-5 |ref|.
//  - silu_glu (vector expf, 2 ulp, then a divide and two products): 1e-6 + 1e-5 |ref|.
//  - softmax (expf, double sum, f32 scale): 1e-7 + 1e-5 |ref|.
//  - add and embedding: exact (one rounding of an exact sum; exact conversions).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tf_test.h"
#include "transfuse.h"

namespace {

// ---- helpers ----------------------------------------------------------------------------------
std::vector<int> supported_isas() {
  std::vector<int> v;
  for (int isa : {TF_CPU_ISA_GENERIC, TF_CPU_ISA_AVX2, TF_CPU_ISA_AVX512})
    if (tf_cpu_set_isa(isa) == isa) v.push_back(isa);
  tf_cpu_set_isa(tf_cpu_best_isa());
  return v;
}
const char* isa_name(int isa) { return isa == 0 ? "generic" : isa == 1 ? "avx2" : "avx512"; }

// Per-element bound check; reports the worst offender.
bool expect_within(const std::string& what, const float* got, const double* ref, const double* bound, size_t n,
                   const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  size_t bad = 0, worst = 0;
  double worst_ratio = -1;
  for (size_t i = 0; i < n; ++i) {
    const double err = std::fabs(double(got[i]) - ref[i]);
    const double ratio = std::isnan(err) ? INFINITY : err / bound[i];
    if (!(err <= bound[i])) {
      ++bad;
      if (ratio > worst_ratio) { worst_ratio = ratio; worst = i; }
    }
  }
  if (bad == 0) return true;
  char buf[512];
  std::snprintf(buf, sizeof buf, "%s: %zu of %zu elements off; worst [%zu] got %.9g want %.9g (|err| %.3g, bound %.3g)",
                what.c_str(), bad, n, worst, double(got[worst]), ref[worst],
                std::fabs(double(got[worst]) - ref[worst]), bound[worst]);
  tf_test::fail(file, line, buf);
  return false;
}

// A weight matrix [rows][cols] in GGML type `type`: the raw bytes and the exact values they encode.
struct Weights {
  std::vector<uint8_t> bytes;
  std::vector<double> val;  // [rows][cols], decoded by the test
  long row_bytes = 0;
};

void put_u16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v & 0xFF); p[1] = uint8_t(v >> 8); }

Weights make_weights(int type, int rows, int cols, uint64_t seed) {
  tf_test::Rng r(seed);
  Weights w;
  w.val.resize(size_t(rows) * cols);
  switch (type) {
    case TF_CPU_F32: w.row_bytes = long(cols) * 4; break;
    case TF_CPU_F16: case TF_CPU_BF16: w.row_bytes = long(cols) * 2; break;
    case TF_CPU_Q8_0: w.row_bytes = long(cols) / 32 * 34; break;
    case TF_CPU_Q4_0: w.row_bytes = long(cols) / 32 * 18; break;
  }
  w.bytes.assign(size_t(rows) * w.row_bytes, 0);
  for (int o = 0; o < rows; ++o) {
    uint8_t* row = w.bytes.data() + size_t(o) * w.row_bytes;
    double* v = w.val.data() + size_t(o) * cols;
    if (type == TF_CPU_F32) {
      for (int i = 0; i < cols; ++i) { float f = r.uniform(-1.f, 1.f); std::memcpy(row + 4 * i, &f, 4); v[i] = f; }
    } else if (type == TF_CPU_F16) {
      for (int i = 0; i < cols; ++i) { uint16_t h = f32_to_f16(r.uniform(-1.f, 1.f)); put_u16(row + 2 * i, h); v[i] = f16_to_f32(h); }
    } else if (type == TF_CPU_BF16) {
      for (int i = 0; i < cols; ++i) { uint16_t h = f32_to_bf16(r.uniform(-1.f, 1.f)); put_u16(row + 2 * i, h); v[i] = bf16_to_f32(h); }
    } else if (type == TF_CPU_Q8_0) {
      // block: f16 d, then 32 int8 q; value d * q
      for (int b = 0; b < cols / 32; ++b) {
        uint8_t* blk = row + b * 34;
        const uint16_t dh = f32_to_f16(r.uniform(0.002f, 0.02f) * (r.below(2) ? -1.f : 1.f));
        put_u16(blk, dh);
        const double d = f16_to_f32(dh);
        for (int j = 0; j < 32; ++j) {
          const int q = int(r.below(256)) - 128;  // full int8 range, -128 included
          blk[2 + j] = uint8_t(int8_t(q));
          v[b * 32 + j] = d * q;
        }
      }
    } else if (type == TF_CPU_Q4_0) {
      // block: f16 d, then 16 bytes: element j low nibble of byte j, element j+16 high nibble; value d*(q-8)
      for (int b = 0; b < cols / 32; ++b) {
        uint8_t* blk = row + b * 18;
        const uint16_t dh = f32_to_f16(r.uniform(0.01f, 0.1f) * (r.below(2) ? -1.f : 1.f));
        put_u16(blk, dh);
        const double d = f16_to_f32(dh);
        int q[32];
        for (int j = 0; j < 32; ++j) q[j] = int(r.below(16));
        for (int j = 0; j < 16; ++j) blk[2 + j] = uint8_t(q[j] | (q[j + 16] << 4));
        for (int j = 0; j < 32; ++j) v[b * 32 + j] = d * (q[j] - 8);
      }
    }
  }
  return w;
}

// ---- matmul -----------------------------------------------------------------------------------
void run_matmul(int type, const char* tname) {
  const std::vector<int> isas = supported_isas();
  CHECK(!isas.empty() && isas[0] == TF_CPU_ISA_GENERIC);
  uint64_t seed = 1000 + type;
  for (int in_dim : {32, 64, 96, 1056})
    for (int out_dim : {1, 7, 64, 173}) {
      // F32_PANELS / F32_AMX: F32 weights packed by tf_cpu_pack_f32 / tf_cpu_pack_f32_amx (into NaN-filled
      // memory: every byte must be written)
      const bool amx_type = type == TF_CPU_F32_AMX, packs = type == TF_CPU_F32_PANELS || amx_type;
      const Weights w = make_weights(packs ? TF_CPU_F32 : type, out_dim, in_dim, seed++);
      std::vector<uint8_t> packed;
      if (packs) {
        const float* wf = reinterpret_cast<const float*>(w.bytes.data());
        packed.assign(size_t(amx_type ? tf_cpu_packed_f32_amx_bytes(in_dim, out_dim) : tf_cpu_packed_f32_bytes(in_dim, out_dim)), 0xFF);
        if (amx_type) tf_cpu_pack_f32_amx(packed.data(), wf, in_dim, out_dim);
        else tf_cpu_pack_f32(packed.data(), wf, in_dim, out_dim);
      }
      const void* wdata = packs ? static_cast<const void*>(packed.data()) : w.bytes.data();
      for (int tokens : {1, 3, 17, 130, 263}) {  // 263: the packed F32 path (PK_MIN = 256), 263 = 43 * 6 + 5 = 21 * 12 + 11 (register tiles)
        const std::vector<float> x = random_uniform(size_t(tokens) * in_dim, seed++);
        std::vector<double> ref(size_t(tokens) * out_dim), bound(ref.size());
        const bool qx = type == TF_CPU_Q8_0 || type == TF_CPU_Q4_0;
        // x as the library quantises it (quantised types only): xq = d q, and the slack per element
        std::vector<double> xq(x.size()), dhalf(x.size()), tie(x.size(), 0.0);
        if (qx)
          for (int t = 0; t < tokens; ++t)
            for (int b = 0; b < in_dim / 32; ++b) {
              const float* xb = x.data() + size_t(t) * in_dim + b * 32;
              float amax = 0;
              for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(xb[j]));
              const double d = double(amax / 127.0f);
              for (int j = 0; j < 32; ++j) {
                const size_t k = size_t(t) * in_dim + b * 32 + j;
                const double u = d > 0 ? xb[j] / d : 0.0;
                xq[k] = d * std::nearbyint(u);
                dhalf[k] = d / 2 * (1 + 0x1p-20);
                if (std::fabs(std::fabs(u - std::floor(u)) - 0.5) < 1e-3) tie[k] = d;
              }
            }
        std::vector<double> ref_q(ref.size()), bound_q(ref.size());
        for (int t = 0; t < tokens; ++t)
          for (int o = 0; o < out_dim; ++o) {
            double s = 0, a = 0, sq = 0, aq = 0, qerr = 0, slack = 0;
            for (int i = 0; i < in_dim; ++i) {
              const double wi = w.val[size_t(o) * in_dim + i];
              const size_t k = size_t(t) * in_dim + i;
              const double p = wi * double(x[k]);
              s += p; a += std::fabs(p);
              if (qx) {
                sq += wi * xq[k]; aq += std::fabs(wi * xq[k]);
                qerr += std::fabs(wi) * dhalf[k];
                slack += std::fabs(wi) * tie[k];
              }
            }
            const size_t k = size_t(t) * out_dim + o;
            ref[k] = s;
            bound[k] = double(in_dim) * 0x1p-24 * a + 1e-30 + qerr + (qx ? 2 * (in_dim + 4) * 0x1p-24 * aq : 0);
            ref_q[k] = sq;
            bound_q[k] = 2 * (in_dim + 4) * 0x1p-24 * aq + slack + 1e-30;
          }
        for (int isa : isas)
          // AVX-512 variants for the quantised types: 0 as dispatched (AMX tiles for Q8_0 with >= 16
          // tokens where the CPU has them, else VNNI), 1 without AMX (VNNI), 2 without both; for F32_AMX
          // 0 (AMX bf16 tiles where the CPU has them) and 1 (columns rebuilt in f32)
          for (int variant : {0, 1, 2})
          for (int threads : {1, 2}) {
            // the only kernels they change
            if (variant && (isa != TF_CPU_ISA_AVX512 || !(qx || (amx_type && variant == 1)))) continue;
            const bool vnni = variant < 2;
            setenv("TRANSFUSE_CPU_AMX", variant == 0 ? "1" : "0", 1);
            setenv("TRANSFUSE_CPU_VNNI", vnni ? "1" : "0", 1);
            CHECK_EQ(tf_cpu_set_isa(isa), isa);
            tf_cpu_set_threads(threads);
            std::vector<float> out(ref.size(), NAN);
            tf_cpu_matmul(out.data(), x.data(), wdata, type, tokens, in_dim, out_dim);
            char what[160];
            std::snprintf(what, sizeof what, "matmul %s tokens=%d in=%d out=%d isa=%s%s threads=%d", tname, tokens,
                          in_dim, out_dim, isa_name(isa), variant == 0 ? "" : variant == 1 ? " (no amx)" : " (no amx, no vnni)",
                          threads);
            expect_within(what, out.data(), ref.data(), bound.data(), ref.size());
            if (qx) expect_within(std::string(what) + " vs quantised x", out.data(), ref_q.data(), bound_q.data(), ref.size());
          }
        setenv("TRANSFUSE_CPU_VNNI", "1", 1);
        setenv("TRANSFUSE_CPU_AMX", "1", 1);
      }
    }
  tf_cpu_set_isa(tf_cpu_best_isa());
  tf_cpu_set_threads(1);
}

// ---- attention reference ----------------------------------------------------------------------
void ref_attention(std::vector<double>& out, const float* q, const float* k, const float* v, int tokens, int start_pos,
                   int n_heads, int n_kv, int hd, int kv_stride) {
  out.assign(size_t(tokens) * n_heads * hd, 0.0);
  const int group = n_heads / n_kv;
  const double scale = 1.0 / std::sqrt(double(hd));
  std::vector<double> s;
  for (int t = 0; t < tokens; ++t)
    for (int h = 0; h < n_heads; ++h) {
      const int pos = start_pos + t, kvh = h / group;
      const float* qv = q + (size_t(t) * n_heads + h) * hd;
      s.assign(pos + 1, 0.0);
      double m = -INFINITY;
      for (int j = 0; j <= pos; ++j) {
        const float* kv = k + size_t(j) * kv_stride + size_t(kvh) * hd;
        double d = 0;
        for (int i = 0; i < hd; ++i) d += double(qv[i]) * kv[i];
        s[j] = d * scale;
        m = std::max(m, s[j]);
      }
      double sum = 0;
      for (int j = 0; j <= pos; ++j) { s[j] = std::exp(s[j] - m); sum += s[j]; }
      double* o = out.data() + (size_t(t) * n_heads + h) * hd;
      for (int j = 0; j <= pos; ++j) {
        const float* vv = v + size_t(j) * kv_stride + size_t(kvh) * hd;
        for (int i = 0; i < hd; ++i) o[i] += s[j] / sum * vv[i];
      }
    }
}

struct AttnCase { int hd, n_heads, n_kv, tokens, start_pos; };
const AttnCase kAttnCases[] = {
    {8, 8, 4, 5, 0},   {8, 6, 6, 1, 9},    {8, 4, 1, 7, 13},  {64, 8, 4, 17, 0}, {64, 6, 6, 3, 40},
    {64, 4, 1, 1, 77}, {128, 8, 4, 9, 21}, {128, 6, 6, 33, 0}, {128, 4, 1, 2, 130}, {64, 8, 4, 1, 0},
};

}  // namespace

TF_TEST(version_and_isa) {
  EXPECT_EQ(tf_cpu_version(), 1);
  const int best = tf_cpu_best_isa();
  EXPECT(best >= 0 && best <= 2);
  EXPECT_EQ(tf_cpu_set_isa(TF_CPU_ISA_GENERIC), TF_CPU_ISA_GENERIC);
  EXPECT_EQ(tf_cpu_get_isa(), TF_CPU_ISA_GENERIC);
  for (int isa = best + 1; isa <= 2; ++isa) {
    EXPECT_EQ(tf_cpu_set_isa(isa), -1);
    EXPECT_EQ(tf_cpu_get_isa(), TF_CPU_ISA_GENERIC);  // unchanged
  }
  EXPECT_EQ(tf_cpu_set_isa(7), -1);
  EXPECT_EQ(tf_cpu_set_isa(best), best);
  tf_cpu_set_threads(2);
  EXPECT_EQ(tf_cpu_get_threads(), 2);
  tf_cpu_set_threads(0);
  EXPECT_EQ(tf_cpu_get_threads(), 1);
  std::printf("  supported ISAs: up to %s\n", isa_name(best));
}

TF_TEST(matmul_f32) { run_matmul(TF_CPU_F32, "F32"); }
TF_TEST(matmul_f32_panels) { run_matmul(TF_CPU_F32_PANELS, "F32_PANELS"); }
TF_TEST(matmul_f32_amx) {
  std::printf("  AMX bf16 tiles %s\n", tf_cpu_f32_amx_enabled() ? "in use" : "not available: only the rebuilt-f32 path is tested");
  run_matmul(TF_CPU_F32_AMX, "F32_AMX");
}
TF_TEST(matmul_f16) { run_matmul(TF_CPU_F16, "F16"); }
TF_TEST(matmul_bf16) { run_matmul(TF_CPU_BF16, "BF16"); }
TF_TEST(matmul_q8_0) { run_matmul(TF_CPU_Q8_0, "Q8_0"); }
TF_TEST(matmul_q4_0) { run_matmul(TF_CPU_Q4_0, "Q4_0"); }

// Causal GQA prefill against the reference, every ISA and 1/2 threads; cache rows padded (kv_stride >
// n_kv*hd) and filled with NaN past start_pos + tokens, so reading a future row shows up.
TF_TEST(attention_prefill) {
  const std::vector<int> isas = supported_isas();
  uint64_t seed = 5000;
  for (const AttnCase& c : kAttnCases) {
    const int kv_stride = c.n_kv * c.hd + 5, total = c.start_pos + c.tokens, rows = total + 3;
    std::vector<float> q = random_uniform(size_t(c.tokens) * c.n_heads * c.hd, seed++);
    std::vector<float> k = random_uniform(size_t(rows) * kv_stride, seed++);
    std::vector<float> v = random_uniform(size_t(rows) * kv_stride, seed++);
    for (size_t i = size_t(total) * kv_stride; i < k.size(); ++i) k[i] = v[i] = NAN;
    std::vector<double> ref;
    ref_attention(ref, q.data(), k.data(), v.data(), c.tokens, c.start_pos, c.n_heads, c.n_kv, c.hd, kv_stride);
    for (int isa : isas)
      for (int threads : {1, 2}) {
        CHECK_EQ(tf_cpu_set_isa(isa), isa);
        tf_cpu_set_threads(threads);
        std::vector<float> out(ref.size(), NAN);
        tf_cpu_attention(out.data(), q.data(), k.data(), v.data(), c.tokens, c.start_pos, c.n_heads, c.n_kv, c.hd,
                         kv_stride);
        char what[160];
        std::snprintf(what, sizeof what, "attention hd=%d heads=%d kv=%d tokens=%d start=%d isa=%s threads=%d", c.hd,
                      c.n_heads, c.n_kv, c.tokens, c.start_pos, isa_name(isa), threads);
        expect_close(what, out.data(), ref.data(), ref.size(), 2e-5, 1e-4);
      }
  }
  tf_cpu_set_isa(tf_cpu_best_isa());
  tf_cpu_set_threads(1);
}

// A prefill of T tokens equals T one-token decode steps (start_pos + t) on the same cache, and both
// equal the reference.
TF_TEST(attention_prefill_decode_consistency) {
  const std::vector<int> isas = supported_isas();
  uint64_t seed = 6000;
  for (const AttnCase& c : kAttnCases) {
    const int kv_stride = c.n_kv * c.hd, total = c.start_pos + c.tokens;
    const size_t qrow = size_t(c.n_heads) * c.hd;
    std::vector<float> q = random_uniform(size_t(c.tokens) * qrow, seed++);
    std::vector<float> k = random_uniform(size_t(total) * kv_stride, seed++);
    std::vector<float> v = random_uniform(size_t(total) * kv_stride, seed++);
    std::vector<double> ref;
    ref_attention(ref, q.data(), k.data(), v.data(), c.tokens, c.start_pos, c.n_heads, c.n_kv, c.hd, kv_stride);
    for (int isa : isas) {
      CHECK_EQ(tf_cpu_set_isa(isa), isa);
      tf_cpu_set_threads(2);
      std::vector<float> pre(ref.size(), NAN), dec(ref.size(), NAN);
      tf_cpu_attention(pre.data(), q.data(), k.data(), v.data(), c.tokens, c.start_pos, c.n_heads, c.n_kv, c.hd,
                       kv_stride);
      for (int t = 0; t < c.tokens; ++t)
        tf_cpu_attention(dec.data() + t * qrow, q.data() + t * qrow, k.data(), v.data(), 1, c.start_pos + t,
                         c.n_heads, c.n_kv, c.hd, kv_stride);
      char what[160];
      std::snprintf(what, sizeof what, "decode vs prefill hd=%d heads=%d kv=%d tokens=%d start=%d isa=%s", c.hd,
                    c.n_heads, c.n_kv, c.tokens, c.start_pos, isa_name(isa));
      expect_close(what, dec, pre, 1e-5, 1e-5);
      expect_close(std::string("decode vs reference: ") + what, dec.data(), ref.data(), ref.size(), 2e-5, 1e-4);
    }
  }
  tf_cpu_set_isa(tf_cpu_best_isa());
  tf_cpu_set_threads(1);
}

TF_TEST(rmsnorm) {
  uint64_t seed = 7000;
  for (int threads : {1, 2})
    for (int dim : {1, 7, 64, 288, 4099})
      for (int tokens : {1, 3, 40}) {
        tf_cpu_set_threads(threads);
        const std::vector<float> x = random_uniform(size_t(tokens) * dim, seed++, -3.f, 3.f);
        const std::vector<float> w = random_uniform(dim, seed++, 0.5f, 1.5f);
        const float eps = 1e-5f;
        std::vector<double> ref(x.size());
        for (int t = 0; t < tokens; ++t) {
          double ss = 0;
          for (int i = 0; i < dim; ++i) ss += double(x[size_t(t) * dim + i]) * x[size_t(t) * dim + i];
          const double r = 1.0 / std::sqrt(ss / dim + double(eps));
          for (int i = 0; i < dim; ++i) ref[size_t(t) * dim + i] = double(w[i]) * r * x[size_t(t) * dim + i];
        }
        std::vector<float> out(x.size(), NAN);
        tf_cpu_rmsnorm(out.data(), x.data(), w.data(), tokens, dim, eps);
        const std::string what = "rmsnorm tokens=" + std::to_string(tokens) + " dim=" + std::to_string(dim) +
                                 " threads=" + std::to_string(threads);
        expect_close(what, out.data(), ref.data(), ref.size(), 1e-6, 1e-5);
        std::vector<float> inplace = x;  // out may alias x
        tf_cpu_rmsnorm(inplace.data(), inplace.data(), w.data(), tokens, dim, eps);
        expect_close(what + " in place", inplace, out, 0.0, 0.0);
      }
  tf_cpu_set_threads(1);
}

TF_TEST(rope) {
  uint64_t seed = 8000;
  struct C { int tokens, heads, hd, rot, start; };
  const C cases[] = {{1, 1, 8, 8, 0}, {3, 4, 64, 64, 5}, {17, 2, 64, 32, 100}, {5, 3, 128, 96, 0},
                     {2, 6, 80, 20, 4000}, {40, 8, 64, 64, 7}};
  for (int threads : {1, 2})
    for (const C& c : cases)
      for (int layout : {0, 1}) {
        tf_cpu_set_threads(threads);
        const int half = c.rot / 2;
        std::vector<float> inv(half);
        for (int i = 0; i < half; ++i) inv[i] = float(std::pow(10000.0, -2.0 * i / c.rot));
        const std::vector<float> x = random_uniform(size_t(c.tokens) * c.heads * c.hd, seed++);
        std::vector<double> ref(x.begin(), x.end());
        for (int t = 0; t < c.tokens; ++t)
          for (int h = 0; h < c.heads; ++h) {
            double* r = ref.data() + (size_t(t) * c.heads + h) * c.hd;
            const float* xv = x.data() + (size_t(t) * c.heads + h) * c.hd;
            for (int i = 0; i < half; ++i) {
              const float angle = float(c.start + t) * inv[i];  // in float, as specified
              const double cs = std::cos(double(angle)), sn = std::sin(double(angle));
              const int ia = layout == 0 ? 2 * i : i, ib = layout == 0 ? 2 * i + 1 : i + half;
              const double a = xv[ia], b = xv[ib];
              r[ia] = a * cs - b * sn;
              r[ib] = a * sn + b * cs;
            }
          }
        std::vector<float> got = x;
        tf_cpu_rope(got.data(), c.tokens, c.heads, c.hd, c.rot, c.start, inv.data(), layout);
        char what[160];
        std::snprintf(what, sizeof what, "rope tokens=%d heads=%d hd=%d rot=%d start=%d layout=%d threads=%d",
                      c.tokens, c.heads, c.hd, c.rot, c.start, layout, threads);
        expect_close(what, got.data(), ref.data(), ref.size(), 4e-6, 1e-5);
        // values past rotary_dim are bit-identical
        for (size_t th = 0; th < size_t(c.tokens) * c.heads; ++th)
          for (int i = c.rot; i < c.hd; ++i)
            if (std::memcmp(&got[th * c.hd + i], &x[th * c.hd + i], 4) != 0) {
              tf_test::fail(__FILE__, __LINE__, std::string(what) + ": value past rotary_dim changed");
              th = size_t(c.tokens) * c.heads;
              break;
            }
      }
  tf_cpu_set_threads(1);
}

TF_TEST(silu_glu) {
  const std::vector<int> isas = supported_isas();
  uint64_t seed = 9000;
  for (long n : {1L, 7L, 16L, 33L, 1000L, 70001L}) {
    const std::vector<float> g = random_uniform(n, seed++, -12.f, 12.f);
    const std::vector<float> u = random_uniform(n, seed++, -2.f, 2.f);
    std::vector<double> ref(n);
    for (long i = 0; i < n; ++i) ref[i] = double(g[i]) / (1.0 + std::exp(-double(g[i]))) * u[i];
    for (int isa : isas)
      for (int threads : {1, 2}) {
        CHECK_EQ(tf_cpu_set_isa(isa), isa);
        tf_cpu_set_threads(threads);
        const std::string what = "silu_glu n=" + std::to_string(n) + " isa=" + isa_name(isa) +
                                 " threads=" + std::to_string(threads);
        std::vector<float> out(n, NAN);
        tf_cpu_silu_glu(out.data(), g.data(), u.data(), n);
        expect_close(what, out.data(), ref.data(), n, 1e-6, 1e-5);
        std::vector<float> a = g;  // out may alias gate
        tf_cpu_silu_glu(a.data(), a.data(), u.data(), n);
        expect_close(what + " alias gate", a, out, 0.0, 0.0);
        std::vector<float> b = u;  // out may alias up
        tf_cpu_silu_glu(b.data(), g.data(), b.data(), n);
        expect_close(what + " alias up", b, out, 0.0, 0.0);
      }
  }
  tf_cpu_set_isa(tf_cpu_best_isa());
  tf_cpu_set_threads(1);
}

TF_TEST(softmax) {
  uint64_t seed = 10000;
  for (int threads : {1, 2})
    for (int n : {1, 2, 7, 64, 513, 32000})
      for (int rows : {1, 3, 9}) {
        tf_cpu_set_threads(threads);
        // large offsets: a softmax without the max subtraction would overflow
        std::vector<float> x = random_uniform(size_t(rows) * n, seed++, -20.f, 20.f);
        for (int r = 0; r < rows; ++r)
          for (int i = 0; i < n; ++i) x[size_t(r) * n + i] += 100.f * r;
        std::vector<double> ref(x.size());
        for (int r = 0; r < rows; ++r) {
          double m = -INFINITY, s = 0;
          for (int i = 0; i < n; ++i) m = std::max(m, double(x[size_t(r) * n + i]));
          for (int i = 0; i < n; ++i) s += std::exp(double(x[size_t(r) * n + i]) - m);
          for (int i = 0; i < n; ++i) ref[size_t(r) * n + i] = std::exp(double(x[size_t(r) * n + i]) - m) / s;
        }
        tf_cpu_softmax(x.data(), rows, n);
        const std::string what = "softmax rows=" + std::to_string(rows) + " n=" + std::to_string(n) +
                                 " threads=" + std::to_string(threads);
        expect_close(what, x.data(), ref.data(), ref.size(), 1e-7, 1e-5);
      }
  tf_cpu_set_threads(1);
}

TF_TEST(add) {
  uint64_t seed = 11000;
  for (int threads : {1, 2})
    for (long n : {1L, 5L, 64L, 1001L, 1L << 20}) {
      tf_cpu_set_threads(threads);
      const std::vector<float> a = random_uniform(n, seed++, -100.f, 100.f);
      const std::vector<float> b = random_uniform(n, seed++, -1.f, 1.f);
      std::vector<float> ref(n);
      for (long i = 0; i < n; ++i) ref[i] = float(double(a[i]) + double(b[i]));  // one rounding: exact ref
      const std::string what = "add n=" + std::to_string(n) + " threads=" + std::to_string(threads);
      std::vector<float> out(n, NAN);
      tf_cpu_add(out.data(), a.data(), b.data(), n);
      expect_close(what, out, ref, 0.0, 0.0);
      std::vector<float> x = a;
      tf_cpu_add(x.data(), x.data(), b.data(), n);
      expect_close(what + " alias a", x, ref, 0.0, 0.0);
      std::vector<float> y = b;
      tf_cpu_add(y.data(), a.data(), y.data(), n);
      expect_close(what + " alias b", y, ref, 0.0, 0.0);
    }
  tf_cpu_set_threads(1);
}

TF_TEST(embedding) {
  struct T { int type; const char* name; };
  const T types[] = {{TF_CPU_F32, "F32"}, {TF_CPU_F16, "F16"}, {TF_CPU_BF16, "BF16"}, {TF_CPU_Q8_0, "Q8_0"},
                     {TF_CPU_Q4_0, "Q4_0"}};
  uint64_t seed = 12000;
  for (int threads : {1, 2})
    for (const T& ty : types)
      for (int dim : {32, 96, 288, 4096}) {
        tf_cpu_set_threads(threads);
        const int vocab = 37;
        const Weights w = make_weights(ty.type, vocab, dim, seed++);
        tf_test::Rng r(seed++);
        for (int tokens : {1, 5, 64}) {
          std::vector<int32_t> ids(tokens);
          for (auto& id : ids) id = int32_t(r.below(vocab));
          ids[0] = vocab - 1;  // last row
          std::vector<double> ref(size_t(tokens) * dim);
          for (int t = 0; t < tokens; ++t)
            std::copy_n(w.val.begin() + size_t(ids[t]) * dim, dim, ref.begin() + size_t(t) * dim);
          std::vector<float> out(ref.size(), NAN);
          tf_cpu_embedding(out.data(), w.bytes.data(), ty.type, ids.data(), tokens, dim);
          const std::string what = std::string("embedding ") + ty.name + " dim=" + std::to_string(dim) +
                                   " tokens=" + std::to_string(tokens) + " threads=" + std::to_string(threads);
          expect_close(what, out.data(), ref.data(), ref.size(), 0.0, 0.0);
        }
      }
  tf_cpu_set_threads(1);
}
