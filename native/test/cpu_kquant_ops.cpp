// cpu_kquant_ops.cpp: tf_cpu_embedding and tf_cpu_matmul with the ggml types Q4_1, Q5_0, Q5_1, Q4_K, Q5_K,
// Q6_K, against a plain double-precision decoder written here from the ggml specification (ggml-common.h:
// block layouts; ggml-quants.c dequantize_row_*: values), element by element, sharing no code with the
// library. Blocks are random bytes (every byte pattern is a valid block) with the f16 scales set to sane
// values, so every bit of the layouts is exercised.
//
// Every matmul runs under every kernel configuration of cpu_configs.h (each ISA table, VNNI on and off,
// 1 and 2 threads).
//
// Tolerances:
//  - embedding: each element is one or two f32 roundings of an exact value (d * sc in f32, times q, minus
//    dmin * m): |err| <= 4 * 2^-24 * (|a| + |b|) where value = a - b are the two products.
//  - matmul: the library quantises x per 256 elements (transfuse.h): d = max|x| / 127 (f32), q = round(x / d).
//    (a) against W x^ with x^ = d q built here the same way: the integer sums are exact, then per super-block
//        a few f32 products and one f32 sum over super-blocks, so |err| <= 4 (nsb + 8) 2^-24 sum_i (|a_i| +
//        |b_i|) |x^_i|, plus |w_i| d for each element whose x / d lies within 1e-3 of a rounding tie. A
//        dropped or doubled group of 16 is ~1/16 of a super-block's terms: far above this bound.
//    (b) against the exact W x: the quantisation's worst case |x - d q| <= d / 2 added per element.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "cpu_configs.h"
#include "tf_test.h"
#include "transfuse.h"

namespace {

struct TypeInfo {
  int type;
  const char* name;
  int block_elems, block_bytes;
};
const TypeInfo kTypes[] = {{TF_CPU_Q4_1, "Q4_1", 32, 20}, {TF_CPU_Q5_0, "Q5_0", 32, 22}, {TF_CPU_Q5_1, "Q5_1", 32, 24},
                           {TF_CPU_Q4_K, "Q4_K", 256, 144}, {TF_CPU_Q5_K, "Q5_K", 256, 176}, {TF_CPU_Q6_K, "Q6_K", 256, 210}};

double h(const uint8_t* p) { return f16_to_f32(uint16_t(p[0] | p[1] << 8)); }
int bit(const uint8_t* bytes, int i) { return (bytes[i / 8] >> (i % 8)) & 1; }

// Element e of one block as value = a - b (the two products ggml forms), from the spec's formulas.
void ref_element(const TypeInfo& t, const uint8_t* blk, int e, double* a, double* b) {
  switch (t.type) {
    case TF_CPU_Q4_1: case TF_CPU_Q5_1: case TF_CPU_Q5_0: {
      const bool five = t.type != TF_CPU_Q4_1, has_min = t.type != TF_CPU_Q5_0;
      const uint8_t* qs = blk + 2 + (has_min ? 2 : 0) + (five ? 4 : 0);
      int q = e < 16 ? (qs[e] & 15) : (qs[e - 16] >> 4);
      if (five) q += 16 * bit(blk + 2 + (has_min ? 2 : 0), e);  // qh: little-endian u32, bit e
      const double d = h(blk);
      if (has_min) { *a = d * q; *b = -h(blk + 2); }
      else { *a = d * q; *b = d * 16; }
      return;
    }
    case TF_CPU_Q4_K: case TF_CPU_Q5_K: {
      const uint8_t* s = blk + 4;
      const int j = e / 32;  // sub-block of 32
      int sc, m;
      if (j < 4) { sc = s[j] & 63; m = s[j + 4] & 63; }
      else { sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4); m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4); }
      const int chunk = e / 64, l = e % 32, high = (e / 32) % 2;
      const uint8_t* qs = blk + 16 + (t.type == TF_CPU_Q5_K ? 32 : 0);
      int q = high ? qs[32 * chunk + l] >> 4 : qs[32 * chunk + l] & 15;
      if (t.type == TF_CPU_Q5_K) q += 16 * ((blk[16 + l] >> (2 * chunk + high)) & 1);
      *a = h(blk) * sc * q;
      *b = h(blk + 2) * m;
      return;
    }
    case TF_CPU_Q6_K: {
      const int n = e / 128, r = e % 128, k = r / 32, l = r % 32;
      const uint8_t* ql = blk + 64 * n + (k % 2 ? 32 : 0);
      const int lo = k >= 2 ? ql[l] >> 4 : ql[l] & 15;
      const int hi = (blk[128 + 32 * n + l] >> (2 * k)) & 3;
      const int q = lo | hi << 4;
      const double d = h(blk + 208), sc = double(int8_t(blk[192 + e / 16]));
      *a = d * sc * q;
      *b = d * sc * 32;
      return;
    }
  }
}

struct QWeights {
  std::vector<uint8_t> bytes;
  std::vector<double> a, b;  // value = a - b, [rows][cols]
  long row_bytes;
};

QWeights make(const TypeInfo& t, int rows, int cols, uint64_t seed) {
  tf_test::Rng r(seed);
  QWeights w;
  const int nb = cols / t.block_elems;
  w.row_bytes = long(nb) * t.block_bytes;
  w.bytes.resize(size_t(rows) * w.row_bytes);
  for (auto& x : w.bytes) x = uint8_t(r.below(256));
  auto put = [](uint8_t* p, float f) { const uint16_t v = f32_to_f16(f); p[0] = uint8_t(v); p[1] = uint8_t(v >> 8); };
  for (int o = 0; o < rows; ++o)
    for (int b = 0; b < nb; ++b) {
      uint8_t* blk = w.bytes.data() + size_t(o) * w.row_bytes + size_t(b) * t.block_bytes;
      const float sign = r.below(2) ? -1.f : 1.f;
      switch (t.type) {
        case TF_CPU_Q4_1: case TF_CPU_Q5_1: put(blk, r.uniform(0.001f, 0.01f)); put(blk + 2, r.uniform(-0.1f, 0.1f)); break;
        case TF_CPU_Q5_0: put(blk, sign * r.uniform(0.001f, 0.01f)); break;
        case TF_CPU_Q4_K: case TF_CPU_Q5_K: put(blk, r.uniform(1e-4f, 1e-3f)); put(blk + 2, r.uniform(1e-4f, 1e-3f)); break;
        case TF_CPU_Q6_K: put(blk + 208, sign * r.uniform(1e-5f, 1e-4f)); break;
      }
    }
  w.a.resize(size_t(rows) * cols);
  w.b.resize(w.a.size());
  for (int o = 0; o < rows; ++o)
    for (int k = 0; k < cols; ++k) {
      const uint8_t* blk = w.bytes.data() + size_t(o) * w.row_bytes + size_t(k / t.block_elems) * t.block_bytes;
      ref_element(t, blk, k % t.block_elems, &w.a[size_t(o) * cols + k], &w.b[size_t(o) * cols + k]);
    }
  return w;
}

TF_TEST(embedding_kquants) {
  uint64_t seed = 31000;
  for (const TypeInfo& t : kTypes)
    for (int dim : {256, 768}) {
      const int vocab = 9;
      const QWeights w = make(t, vocab, dim, seed++);
      std::vector<int32_t> ids = {8, 0, 3, 3, 5};
      std::vector<float> out(ids.size() * dim, NAN);
      tf_cpu_embedding(out.data(), w.bytes.data(), t.type, ids.data(), int(ids.size()), dim);
      std::vector<double> ref(out.size()), bound(out.size());
      for (size_t i = 0; i < ids.size(); ++i)
        for (int k = 0; k < dim; ++k) {
          const size_t s = size_t(ids[i]) * dim + k;
          ref[i * dim + k] = w.a[s] - w.b[s];
          bound[i * dim + k] = 4 * 0x1p-24 * (std::fabs(w.a[s]) + std::fabs(w.b[s]));
        }
      expect_within(std::string("embedding ") + t.name + " dim=" + std::to_string(dim), out.data(), ref.data(),
                    bound.data(), out.size());
    }
}

void run_matmul(const TypeInfo& t) {
  const std::vector<CpuConfig> configs = cpu_configs(false);
  uint64_t seed = 32000 + t.type * 100;
  std::vector<int> in_dims = {256, 768};
  if (t.block_elems == 32) in_dims.push_back(96);  // a partial super-block
  for (int in_dim : in_dims)
    for (int out_dim : {1, 6, 67}) {
      const QWeights w = make(t, out_dim, in_dim, seed++);
      const int nsb = (in_dim + 255) / 256;
      for (int tokens : {1, 3, 40}) {
        const std::vector<float> x = random_uniform(size_t(tokens) * in_dim, seed++);
        std::vector<double> xq(x.size()), dhalf(x.size()), tie(x.size(), 0.0);
        for (int tk = 0; tk < tokens; ++tk)
          for (int s = 0; s < nsb; ++s) {
            const int k0 = s * 256, k1 = std::min(in_dim, k0 + 256);
            const float* xt = x.data() + size_t(tk) * in_dim;
            float amax = 0;
            for (int k = k0; k < k1; ++k) amax = std::max(amax, std::fabs(xt[k]));
            const double d = double(amax / 127.0f);
            for (int k = k0; k < k1; ++k) {
              const double u = d > 0 ? xt[k] / d : 0.0;
              const size_t i = size_t(tk) * in_dim + k;
              xq[i] = d * std::nearbyint(u);
              dhalf[i] = d / 2 * (1 + 0x1p-20);
              if (std::fabs(std::fabs(u - std::floor(u)) - 0.5) < 1e-3) tie[i] = d;
            }
          }
        std::vector<double> ref(size_t(tokens) * out_dim), bound(ref.size()), ref_x(ref.size()), bound_x(ref.size());
        for (int tk = 0; tk < tokens; ++tk)
          for (int o = 0; o < out_dim; ++o) {
            double s = 0, mag = 0, slack = 0, sx = 0, qerr = 0;
            for (int k = 0; k < in_dim; ++k) {
              const size_t wi = size_t(o) * in_dim + k, xi = size_t(tk) * in_dim + k;
              const double v = w.a[wi] - w.b[wi];
              s += v * xq[xi];
              mag += (std::fabs(w.a[wi]) + std::fabs(w.b[wi])) * std::fabs(xq[xi]);
              slack += std::fabs(v) * tie[xi];
              sx += v * double(x[xi]);
              qerr += std::fabs(v) * dhalf[xi];
            }
            const size_t i = size_t(tk) * out_dim + o;
            ref[i] = s;
            bound[i] = 4 * (nsb + 8) * 0x1p-24 * mag + slack + 1e-30;
            ref_x[i] = sx;
            bound_x[i] = bound[i] + qerr;
          }
        for (const CpuConfig& cfg : configs) {
          CHECK(cfg.apply());
          std::vector<float> out(ref.size(), NAN);
          tf_cpu_matmul(out.data(), x.data(), w.bytes.data(), t.type, tokens, in_dim, out_dim);
          char what[160];
          std::snprintf(what, sizeof what, "matmul %s tokens=%d in=%d out=%d %s", t.name, tokens, in_dim, out_dim,
                        cfg.name().c_str());
          expect_within(std::string(what) + " vs quantised x", out.data(), ref.data(), bound.data(), ref.size());
          expect_within(what, out.data(), ref_x.data(), bound_x.data(), ref.size());
          // each token's row the same bits as that token alone (a sequence decodes alike alone or in a batch)
          for (int tk = 0; tokens > 1 && tk < tokens; ++tk) {
            std::vector<float> alone(size_t(out_dim), NAN);
            tf_cpu_matmul(alone.data(), x.data() + size_t(tk) * in_dim, w.bytes.data(), t.type, 1, in_dim, out_dim);
            if (!expect_same_bits(std::string(what) + " row alone", out.data() + size_t(tk) * out_dim, alone.data(),
                                  size_t(out_dim)))
              break;
          }
        }
      }
    }
  cpu_restore_defaults();
}

TF_TEST(matmul_q4_1) { run_matmul(kTypes[0]); }
TF_TEST(matmul_q5_0) { run_matmul(kTypes[1]); }
TF_TEST(matmul_q5_1) { run_matmul(kTypes[2]); }
TF_TEST(matmul_q4_k) { run_matmul(kTypes[3]); }
TF_TEST(matmul_q5_k) { run_matmul(kTypes[4]); }
TF_TEST(matmul_q6_k) { run_matmul(kTypes[5]); }

}  // namespace

