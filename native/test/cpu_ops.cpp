// cpu_ops.cpp: libtransfuse_cpu's runtime and matmul family (tf_cpu_matmul, tf_cpu_matmul_bias, the weight
// packers) plus embedding and add, against naive double-precision references written here, independent of
// the library code (quantised blocks are built here from the GGML layouts, not with any library helper).
// The norms and activations are tested in cpu_elementwise_ops.cpp, RoPE and attention in
// cpu_attention_ops.cpp.
//
// Every op runs under every kernel configuration of cpu_configs.h (each ISA table, VNNI and AMX on and off
// where the CPU has them, 1 and 2 threads).
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
//  - matmul_bias: bit for bit the result of tf_cpu_matmul then tf_cpu_bias_act (transfuse.h promises it;
//    both parts have reference tests), and within the matmul bound of act(W x + b) for F32.
//  - add and embedding: exact (one rounding of an exact sum; exact conversions).
//  - Q8_0_R16 / Q4_0_R16 (Q8_0 / Q4_0 weights repacked by tf_cpu_pack_rows16) have the bounds of Q8_0 / Q4_0;
//    their rows do not depend on the batch, and every instruction set gives the same bits.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cpu_configs.h"
#include "tf_test.h"
#include "transfuse.h"

namespace {

// ---- helpers ----------------------------------------------------------------------------------
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

// The 16-row-group types: the GGML type they are made from, and weights of it repacked by tf_cpu_pack_rows16
// into NaN-filled memory (every byte must be written).
bool is_r16(int type) { return type == TF_CPU_Q8_0_R16 || type == TF_CPU_Q4_0_R16; }
int stored_type(int type) { return type == TF_CPU_Q8_0_R16 ? TF_CPU_Q8_0 : type == TF_CPU_Q4_0_R16 ? TF_CPU_Q4_0 : type; }
std::vector<uint8_t> pack_rows16(int type, const Weights& w, int in_dim, int out_dim) {
  std::vector<uint8_t> packed(size_t(tf_cpu_packed_rows16_bytes(type, in_dim, out_dim)), 0xFF);
  tf_cpu_pack_rows16(type, packed.data(), w.bytes.data(), in_dim, out_dim);
  return packed;
}

// ---- matmul -----------------------------------------------------------------------------------
void run_matmul(int type, const char* tname) {
  // AMX on and off only where it changes the kernel
  const std::vector<CpuConfig> configs = cpu_configs(type == TF_CPU_Q8_0 || type == TF_CPU_F32_AMX);
  uint64_t seed = 1000 + type;
  for (int in_dim : {32, 64, 96, 1056})
    for (int out_dim : {1, 7, 64, 173}) {
      // F32_PANELS / F32_AMX: F32 weights packed by tf_cpu_pack_f32 / tf_cpu_pack_f32_amx (into NaN-filled
      // memory: every byte must be written)
      const bool amx_type = type == TF_CPU_F32_AMX, packs = type == TF_CPU_F32_PANELS || amx_type;
      const bool r16 = is_r16(type);
      const Weights w = make_weights(packs ? TF_CPU_F32 : stored_type(type), out_dim, in_dim, seed++);
      std::vector<uint8_t> packed;
      if (r16) packed = pack_rows16(type, w, in_dim, out_dim);
      if (packs) {
        const float* wf = reinterpret_cast<const float*>(w.bytes.data());
        packed.assign(size_t(amx_type ? tf_cpu_packed_f32_amx_bytes(in_dim, out_dim) : tf_cpu_packed_f32_bytes(in_dim, out_dim)), 0xFF);
        if (amx_type) tf_cpu_pack_f32_amx(packed.data(), wf, in_dim, out_dim);
        else tf_cpu_pack_f32(packed.data(), wf, in_dim, out_dim);
      }
      const void* wdata = packs || r16 ? static_cast<const void*>(packed.data()) : w.bytes.data();
      for (int tokens : {1, 3, 17, 130, 263}) {  // 263: the packed F32 path (PK_MIN = 256), 263 = 43 * 6 + 5 = 21 * 12 + 11 (register tiles)
        const std::vector<float> x = random_uniform(size_t(tokens) * in_dim, seed++);
        std::vector<double> ref(size_t(tokens) * out_dim), bound(ref.size());
        const bool qx = type == TF_CPU_Q8_0 || type == TF_CPU_Q4_0 || r16;  // the 16-row types quantise x too
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
        for (const CpuConfig& cfg : configs) {
          CHECK(cfg.apply());
          std::vector<float> out(ref.size(), NAN);
          tf_cpu_matmul(out.data(), x.data(), wdata, type, tokens, in_dim, out_dim);
          char what[160];
          std::snprintf(what, sizeof what, "matmul %s tokens=%d in=%d out=%d %s", tname, tokens, in_dim, out_dim,
                        cfg.name().c_str());
          expect_within(what, out.data(), ref.data(), bound.data(), ref.size());
          if (qx) expect_within(std::string(what) + " vs quantised x", out.data(), ref_q.data(), bound_q.data(), ref.size());
        }
      }
    }
  cpu_restore_defaults();
}

}  // namespace

TF_TEST(version_and_isa) {
  EXPECT_EQ(tf_cpu_version(), 4);  // 4: the paged KV cache's element type (kv_type)
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
  std::printf("  supported ISAs: up to %s\n", best == 2 ? "avx512" : best == 1 ? "avx2" : "generic");
}

TF_TEST(matmul_f32) { run_matmul(TF_CPU_F32, "F32"); }
TF_TEST(matmul_f32_panels) { run_matmul(TF_CPU_F32_PANELS, "F32_PANELS"); }
TF_TEST(matmul_f32_amx) {
  std::printf("  AMX bf16 tiles %s\n", tf_cpu_f32_amx_enabled() ? "in use" : "not available: only the rebuilt-f32 path is tested");
  run_matmul(TF_CPU_F32_AMX, "F32_AMX");
}
TF_TEST(matmul_f16) { run_matmul(TF_CPU_F16, "F16"); }

// Every finite half (normal, subnormal, +-0) is widened exactly by each ISA's vector conversion (V::ld_f16,
// which the F16 KV cache and F16 weights are read through): a one-hot decode matmul returns each weight of
// its column, compared exactly with tf_test::f16_to_f32 (an independent decoding through ldexp).
TF_TEST(f16_widening_is_exact) {
  const int in = 32, out = 63488 / in;  // 63488 = the finite halves (exponent < 31), two signs
  std::vector<uint16_t> w;
  for (uint32_t h = 0; h < 0x10000; ++h)
    if (((h >> 10) & 31) != 31) w.push_back(uint16_t(h));
  CHECK(w.size() == size_t(in) * out);
  for (const CpuConfig& cfg : cpu_configs()) {
    CHECK(cfg.apply());
    int bad = 0;
    for (int j = 0; j < in; ++j) {
      std::vector<float> x(in, 0.0f), y(out, NAN);
      x[j] = 1.0f;
      tf_cpu_matmul(y.data(), x.data(), w.data(), TF_CPU_F16, 1, in, out);
      for (int o = 0; o < out; ++o) {
        const float want = f16_to_f32(w[size_t(o) * in + j]);  // == : the sum of products may give +0 for -0
        if (!(y[o] == want) && bad++ < 3)
          std::fprintf(stderr, "%s: half %04x widened to %a, expected %a\n", cfg.name().c_str(), w[size_t(o) * in + j],
                       double(y[o]), double(want));
      }
    }
    EXPECT_EQ(bad, 0);
  }
  cpu_restore_defaults();
}
TF_TEST(matmul_bf16) { run_matmul(TF_CPU_BF16, "BF16"); }
TF_TEST(matmul_q8_0) { run_matmul(TF_CPU_Q8_0, "Q8_0"); }
TF_TEST(matmul_q4_0) { run_matmul(TF_CPU_Q4_0, "Q4_0"); }
TF_TEST(matmul_q8_0_r16) { run_matmul(TF_CPU_Q8_0_R16, "Q8_0_R16"); }
TF_TEST(matmul_q4_0_r16) { run_matmul(TF_CPU_Q4_0_R16, "Q4_0_R16"); }

// The 16-row types promise the same bits on every instruction set (the VNNI kernel and the plain loop of the
// others), for every token count: a row tile of 16, token tiles of 6 and out_dim 173 (a partial group) are
// all crossed.
TF_TEST(matmul_rows16_same_bits_on_every_isa) {
  const int in_dim = 1056, out_dim = 173;
  for (int type : {TF_CPU_Q8_0_R16, TF_CPU_Q4_0_R16}) {
    const Weights w = make_weights(stored_type(type), out_dim, in_dim, 19000 + type);
    const std::vector<uint8_t> packed = pack_rows16(type, w, in_dim, out_dim);
    for (int tokens : {1, 7, 64}) {
      const std::vector<float> x = random_uniform(size_t(tokens) * in_dim, 19001 + tokens);
      std::vector<float> first;
      std::string first_name;
      for (const CpuConfig& cfg : cpu_configs(true)) {
        CHECK(cfg.apply());
        std::vector<float> out(size_t(tokens) * out_dim, NAN);
        tf_cpu_matmul(out.data(), x.data(), packed.data(), type, tokens, in_dim, out_dim);
        if (first.empty()) {
          first = out;
          first_name = cfg.name();
          continue;
        }
        if (!expect_same_bits("type=" + std::to_string(type) + " tokens=" + std::to_string(tokens) + " " + cfg.name() +
                                  " vs " + first_name, out.data(), first.data(), out.size()))
          break;
      }
    }
  }
  cpu_restore_defaults();
}

// A row of the output does not depend on the other rows of x that came in the same call: a batch of 64
// decoding sequences must give each sequence the bits it would get alone (the engine's greedy outputs are
// the same in a batch as alone). Every weight type on the per-row kernels, every configuration without AMX
// (AMX takes 16 or more tokens to its own int8 tiles), token counts up to a batch of 64; in_dim 1056 is
// 33 blocks, a partial last group for every integer layout.
TF_TEST(matmul_rows_do_not_depend_on_the_batch) {
  const int types[] = {TF_CPU_Q8_0, TF_CPU_Q4_0, TF_CPU_F32, TF_CPU_F16, TF_CPU_BF16, TF_CPU_Q8_0_R16, TF_CPU_Q4_0_R16};
  uint64_t seed = 17000;
  for (int type : types)
    for (int in_dim : {96, 1056}) {
      const int out_dim = 173;
      const Weights w0 = make_weights(stored_type(type), out_dim, in_dim, seed++);
      Weights w = w0;
      if (is_r16(type)) w.bytes = pack_rows16(type, w0, in_dim, out_dim);
      const std::vector<float> x = random_uniform(size_t(64) * in_dim, seed++);
      for (const CpuConfig& cfg : cpu_configs(false)) {
        CHECK(cfg.apply());
        std::vector<float> alone(size_t(64) * out_dim, NAN);
        for (int t = 0; t < 64; ++t)
          tf_cpu_matmul(alone.data() + size_t(t) * out_dim, x.data() + size_t(t) * in_dim, w.bytes.data(), type, 1,
                        in_dim, out_dim);
        for (int tokens : {2, 3, 5, 16, 64}) {
          std::vector<float> batch(size_t(tokens) * out_dim, NAN);
          tf_cpu_matmul(batch.data(), x.data(), w.bytes.data(), type, tokens, in_dim, out_dim);
          char what[160];
          std::snprintf(what, sizeof what, "matmul type=%d in=%d tokens=%d vs one at a time %s", type, in_dim, tokens,
                        cfg.name().c_str());
          if (!expect_same_bits(what, batch.data(), alone.data(), batch.size())) break;
        }
      }
    }
}

// tf_cpu_matmul_bias against its parts: bit for bit tf_cpu_matmul then tf_cpu_bias_act, for every weight
// type, activation, with and without a bias, under every configuration. With F32_PANELS and F32_AMX the
// epilogue runs per output block inside the matmul: output widths end inside a panel (173, 7) and token
// counts inside a register tile (1, 7, 263), so every block edge is crossed, and the bias is large enough
// that a block left out or done twice shows. The parts have their own reference tests; the sum W x + b is
// also checked against a double reference (F32 weights, identity) so that the bias is applied at all.
TF_TEST(matmul_bias_equals_matmul_then_bias_act) {
  const int types[] = {TF_CPU_F32, TF_CPU_F16, TF_CPU_BF16, TF_CPU_Q8_0, TF_CPU_Q4_0, TF_CPU_F32_PANELS, TF_CPU_F32_AMX,
                       TF_CPU_Q8_0_R16, TF_CPU_Q4_0_R16};
  const int acts[] = {TF_ACT_SILU, TF_ACT_GELU_TANH, TF_ACT_GELU_ERF, TF_ACT_IDENTITY};
  struct Shape { int in_dim, out_dim; };
  uint64_t seed = 13000;
  for (int type : types)
    for (Shape sh : {Shape{64, 173}, Shape{96, 7}}) {
      const bool packs = type == TF_CPU_F32_PANELS || type == TF_CPU_F32_AMX, r16 = is_r16(type);
      const Weights w = make_weights(packs ? TF_CPU_F32 : stored_type(type), sh.out_dim, sh.in_dim, seed++);
      std::vector<uint8_t> packed;
      if (r16) packed = pack_rows16(type, w, sh.in_dim, sh.out_dim);
      if (packs) {
        const float* wf = reinterpret_cast<const float*>(w.bytes.data());
        const bool amx = type == TF_CPU_F32_AMX;
        packed = std::vector<uint8_t>(size_t(amx ? tf_cpu_packed_f32_amx_bytes(sh.in_dim, sh.out_dim)
                                                 : tf_cpu_packed_f32_bytes(sh.in_dim, sh.out_dim)));
        if (amx) tf_cpu_pack_f32_amx(packed.data(), wf, sh.in_dim, sh.out_dim);
        else tf_cpu_pack_f32(packed.data(), wf, sh.in_dim, sh.out_dim);
      }
      const void* wd = packs || r16 ? static_cast<const void*>(packed.data()) : w.bytes.data();
      const std::vector<float> bias = random_uniform(sh.out_dim, seed++, -3.f, 3.f);
      // 263 tokens: the packed kernels' register tiles end inside (263 = 21 * 12 + 11 = 43 * 6 + 5); the other
      // types run matmul and bias_act in turn, where a small count covers it
      for (int tokens : {1, 7, packs || type == TF_CPU_F32 ? 263 : 20}) {
        const std::vector<float> x = random_uniform(size_t(tokens) * sh.in_dim, seed++);
        const size_t n = size_t(tokens) * sh.out_dim;
        std::vector<double> ref(n), bound(n);  // W x + b for F32 weights
        for (int t = 0; t < tokens; ++t)
          for (int o = 0; o < sh.out_dim; ++o) {
            double s = bias[o], a = std::fabs(bias[o]);
            for (int i = 0; i < sh.in_dim; ++i) {
              const double p = w.val[size_t(o) * sh.in_dim + i] * x[size_t(t) * sh.in_dim + i];
              s += p;
              a += std::fabs(p);
            }
            ref[size_t(t) * sh.out_dim + o] = s;
            bound[size_t(t) * sh.out_dim + o] = (sh.in_dim + 1) * 0x1p-24 * a + 1e-30;
          }
        for (const CpuConfig& cfg : cpu_configs(type == TF_CPU_Q8_0 || type == TF_CPU_F32_AMX))
          for (int act : acts)
            for (bool with_bias : {true, false}) {
              CHECK(cfg.apply());
              const float* b = with_bias ? bias.data() : nullptr;
              std::vector<float> fused(n, NAN), parts(n, NAN);
              tf_cpu_matmul_bias(fused.data(), x.data(), wd, type, tokens, sh.in_dim, sh.out_dim, b, act);
              tf_cpu_matmul(parts.data(), x.data(), wd, type, tokens, sh.in_dim, sh.out_dim);
              tf_cpu_bias_act(parts.data(), b, tokens, sh.out_dim, act);
              char what[200];
              std::snprintf(what, sizeof what, "matmul_bias type=%d act=%d bias=%d tokens=%d in=%d out=%d %s", type, act,
                            int(with_bias), tokens, sh.in_dim, sh.out_dim, cfg.name().c_str());
              if (!expect_same_bits(what, fused.data(), parts.data(), n)) return;
              if (type == TF_CPU_F32 && act == TF_ACT_IDENTITY && with_bias)
                expect_within(std::string(what) + " vs W x + b", fused.data(), ref.data(), bound.data(), n);
            }
      }
    }
  cpu_restore_defaults();
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
                     {TF_CPU_Q4_0, "Q4_0"}, {TF_CPU_Q8_0_R16, "Q8_0_R16"}, {TF_CPU_Q4_0_R16, "Q4_0_R16"}};
  uint64_t seed = 12000;
  for (int threads : {1, 2})
    for (const T& ty : types)
      for (int dim : {32, 96, 288, 4096}) {
        tf_cpu_set_threads(threads);
        const int vocab = 37;
        Weights w = make_weights(stored_type(ty.type), vocab, dim, seed++);  // 37 rows: a partial last group of 16
        if (is_r16(ty.type)) w.bytes = pack_rows16(ty.type, w, dim, vocab);
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
