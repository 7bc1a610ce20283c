// emu_selftest_fragments: the emulated tensor-core wrappers follow the PTX ISA's fragment layouts.
//
// Two independent checks:
//  1. A table transcribed from the PTX ISA (section 9.7.14.5.8, "Matrix Fragments for
//     mma.m16n8k16 with floating point type", figures for A, B, C/D; and section "ldmatrix",
//     fragment figure): written here in the ISA's own words (groupID, threadID_in_group,
//     "row = groupID for ai where 0 <= i < 2 || 4 <= i < 6, groupID + 8 otherwise", ...) plus a
//     few literal entries read off the figures, not taken from the emulator's code.
//  2. A plain double-precision matmul of the same (fp16/bf16-rounded) inputs.
// The kernels build fragments element by element from global memory with the ISA table, run
// mma / ldmatrix on the emulator, and scatter results back with the table.
#include <cstdint>
#include <cstring>
#include <vector>

#include "tf_device.cuh"
#include "tf_test.h"

namespace {

// ---- the PTX ISA table (m16n8k16, .f16/.bf16 A and B, .f32 C/D) ----
// __host__ __device__: the kernels call these too, and the GPU build (gpu_emu_*) compiles them for the device.
struct RowCol { int row, col; };
// Multiplicand A: 8 elements a0..a7 in 4 .f16x2 registers (a0,a1 in register 0, low to high).
__host__ __device__ RowCol isa_a(int lane, int i) {
  const int groupID = lane >> 2, threadID_in_group = lane % 4;
  const int row = ((0 <= i && i < 2) || (4 <= i && i < 6)) ? groupID : groupID + 8;
  const int col = i < 4 ? threadID_in_group * 2 + (i & 0x1) : threadID_in_group * 2 + (i & 0x1) + 8;
  return {row, col};
}
// Multiplicand B: 4 elements b0..b3 in 2 registers.
__host__ __device__ RowCol isa_b(int lane, int i) {
  const int groupID = lane >> 2, threadID_in_group = lane % 4;
  const int row = i < 2 ? threadID_in_group * 2 + (i & 0x1) : threadID_in_group * 2 + (i & 0x1) + 8;
  return {row, groupID};
}
// Accumulators C/D: 4 floats c0..c3.
__host__ __device__ RowCol isa_c(int lane, int i) {
  const int groupID = lane >> 2, threadID_in_group = lane % 4;
  return {i < 2 ? groupID : groupID + 8, threadID_in_group * 2 + (i & 0x1)};
}
// ldmatrix (m8n8, b16): thread L receives, for each matrix, row L/4 and columns 2*(L%4), +1.
__host__ __device__ RowCol isa_ldmatrix(int lane, int half) { return {lane / 4, 2 * (lane % 4) + half}; }

TF_TEST(isa_table_literal_entries) {
  // Read off the ISA figures: T0 holds a0,a1 at (0,0),(0,1), a2,a3 at (8,0),(8,1), a4..a7 at
  // columns 8,9; T5 (group 1, thread 1) holds a0 at (1,2); T31 holds a7 at (15,15).
  const int expect_a[][4] = {{0, 0, 0, 0}, {0, 1, 0, 1}, {0, 2, 8, 0}, {0, 3, 8, 1}, {0, 4, 0, 8},
                             {0, 7, 8, 9}, {5, 0, 1, 2}, {31, 7, 15, 15}, {30, 5, 7, 13}};
  for (auto& e : expect_a) {
    const RowCol rc = isa_a(e[0], e[1]);
    EXPECT(rc.row == e[2] && rc.col == e[3]);
  }
  // B: T0 b0,b1 at (k0,n0),(k1,n0), b2 at (k8,n0); T7 (group 1, thread 3) b3 at (15,1).
  const int expect_b[][4] = {{0, 0, 0, 0}, {0, 1, 1, 0}, {0, 2, 8, 0}, {7, 3, 15, 1}, {30, 0, 4, 7}};
  for (auto& e : expect_b) {
    const RowCol rc = isa_b(e[0], e[1]);
    EXPECT(rc.row == e[2] && rc.col == e[3]);
  }
  // C/D: T0 c0..c3 at (0,0),(0,1),(8,0),(8,1); T31 c3 at (15,7).
  const int expect_c[][4] = {{0, 0, 0, 0}, {0, 1, 0, 1}, {0, 2, 8, 0}, {0, 3, 8, 1}, {31, 3, 15, 7}, {6, 0, 1, 4}};
  for (auto& e : expect_c) {
    const RowCol rc = isa_c(e[0], e[1]);
    EXPECT(rc.row == e[2] && rc.col == e[3]);
  }
  // Every element of each matrix is held exactly once.
  int seen_a[16][16] = {}, seen_b[16][8] = {}, seen_c[16][8] = {};
  for (int lane = 0; lane < 32; ++lane) {
    for (int i = 0; i < 8; ++i) seen_a[isa_a(lane, i).row][isa_a(lane, i).col]++;
    for (int i = 0; i < 4; ++i) seen_b[isa_b(lane, i).row][isa_b(lane, i).col]++;
    for (int i = 0; i < 4; ++i) seen_c[isa_c(lane, i).row][isa_c(lane, i).col]++;
  }
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c) {
      EXPECT(seen_a[r][c] == 1);
      if (c < 8) EXPECT(seen_b[r][c] == 1 && seen_c[r][c] == 1);
    }
}

// ---- mma through the emulator ----
// A: 16x16 row-major, B: 16x8 stored [k][n], C and D: 16x8 row-major. All raw 16-bit values.
template <bool kBf16>
__global__ void mma_kernel(const uint16_t* A, const uint16_t* B, const float* C, float* D, int repeat) {
  const int lane = threadIdx.x % 32;
  uint32_t a[4], b[2];
  float c[4], d[4];
  for (int r = 0; r < 4; ++r) {
    const RowCol lo = isa_a(lane, 2 * r), hi = isa_a(lane, 2 * r + 1);
    a[r] = uint32_t(A[lo.row * 16 + lo.col]) | uint32_t(A[hi.row * 16 + hi.col]) << 16;
  }
  for (int r = 0; r < 2; ++r) {
    const RowCol lo = isa_b(lane, 2 * r), hi = isa_b(lane, 2 * r + 1);
    b[r] = uint32_t(B[lo.row * 8 + lo.col]) | uint32_t(B[hi.row * 8 + hi.col]) << 16;
  }
  for (int i = 0; i < 4; ++i) c[i] = C[isa_c(lane, i).row * 8 + isa_c(lane, i).col];
  for (int rep = 0; rep < repeat; ++rep) {
    if (kBf16) tf::mma_m16n8k16_bf16(d, a, b, c);
    else tf::mma_m16n8k16_f16(d, a, b, c);
    for (int i = 0; i < 4; ++i) c[i] = d[i];  // accumulate: D = A*B*repeat + C
  }
  for (int i = 0; i < 4; ++i) D[isa_c(lane, i).row * 8 + isa_c(lane, i).col] = d[i];
}

template <bool kBf16>
void check_mma(uint64_t seed, int repeat) {
  tf_test::Rng rng(seed);
  std::vector<uint16_t> A(256), B(128);
  std::vector<float> C(128), D(128, 0.f), ref(128);
  std::vector<double> a(256), b(128);
  for (int i = 0; i < 256; ++i) {
    const float v = rng.uniform(-2.f, 2.f);
    A[i] = kBf16 ? tf_test::f32_to_bf16(v) : tf_test::f32_to_f16(v);
    a[i] = kBf16 ? tf_test::bf16_to_f32(A[i]) : tf_test::f16_to_f32(A[i]);
  }
  for (int i = 0; i < 128; ++i) {
    const float v = rng.uniform(-2.f, 2.f);
    B[i] = kBf16 ? tf_test::f32_to_bf16(v) : tf_test::f32_to_f16(v);
    b[i] = kBf16 ? tf_test::bf16_to_f32(B[i]) : tf_test::f16_to_f32(B[i]);
    C[i] = rng.uniform(-1.f, 1.f);
  }
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 8; ++n) {
      double s = 0;
      for (int k = 0; k < 16; ++k) s += a[m * 16 + k] * b[k * 8 + n];
      ref[m * 8 + n] = float(C[m * 8 + n] + repeat * s);
    }
  const int err = TF_LAUNCH((mma_kernel<kBf16>), 1, 32, 0, nullptr, A.data(), B.data(), C.data(), D.data(), repeat);
  EXPECT_EQ(err, 0);
  expect_close(std::string(kBf16 ? "mma m16n8k16 bf16" : "mma m16n8k16 f16") + " repeat=" + std::to_string(repeat),
               D.data(), ref.data(), 128, 1e-5 * repeat, 1e-5);
}

TF_TEST(mma_f16_matches_matmul) { check_mma<false>(1, 1); check_mma<false>(2, 3); }
TF_TEST(mma_bf16_matches_matmul) { check_mma<true>(3, 1); check_mma<true>(4, 2); }

// Several warps at once, each with its own problem (warp collectives must not mix warps).
__global__ void mma_many_warps_kernel(const uint16_t* A, const uint16_t* B, float* D) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const uint16_t* Aw = A + warp * 256;
  const uint16_t* Bw = B + warp * 128;
  uint32_t a[4], b[2];
  for (int r = 0; r < 4; ++r) {
    const RowCol lo = isa_a(lane, 2 * r), hi = isa_a(lane, 2 * r + 1);
    a[r] = uint32_t(Aw[lo.row * 16 + lo.col]) | uint32_t(Aw[hi.row * 16 + hi.col]) << 16;
  }
  for (int r = 0; r < 2; ++r) {
    const RowCol lo = isa_b(lane, 2 * r), hi = isa_b(lane, 2 * r + 1);
    b[r] = uint32_t(Bw[lo.row * 8 + lo.col]) | uint32_t(Bw[hi.row * 8 + hi.col]) << 16;
  }
  float d[4] = {0, 0, 0, 0};
  tf::mma_m16n8k16_f16(d, a, b, d);
  for (int i = 0; i < 4; ++i) D[(blockIdx.x * 4 + warp) * 128 + isa_c(lane, i).row * 8 + isa_c(lane, i).col] = d[i];
}

TF_TEST(mma_per_warp_in_many_blocks) {
  const int blocks = 3, warps = 4;
  tf_test::Rng rng(7);
  std::vector<uint16_t> A(warps * 256), B(warps * 128);
  for (auto& x : A) x = tf_test::f32_to_f16(rng.uniform(-1, 1));
  for (auto& x : B) x = tf_test::f32_to_f16(rng.uniform(-1, 1));
  std::vector<float> D(blocks * warps * 128, -1.f), ref(D.size());
  for (int blk = 0; blk < blocks; ++blk)
    for (int w = 0; w < warps; ++w)
      for (int m = 0; m < 16; ++m)
        for (int n = 0; n < 8; ++n) {
          double s = 0;
          for (int k = 0; k < 16; ++k)
            s += double(tf_test::f16_to_f32(A[w * 256 + m * 16 + k])) * tf_test::f16_to_f32(B[w * 128 + k * 8 + n]);
          ref[(blk * warps + w) * 128 + m * 8 + n] = float(s);
        }
  EXPECT_EQ(TF_LAUNCH(mma_many_warps_kernel, blocks, 32 * warps, 0, nullptr, A.data(), B.data(), D.data()), 0);
  expect_close("mma 3 blocks x 4 warps", D, ref, 1e-5, 1e-5);
}

// ---- ldmatrix ----
// A 16x16 tile of unique 16-bit values (value = row * 256 + col) in shared memory, rows padded
// to 24 halves (48 bytes: every row address stays 16-byte aligned).
constexpr int kStride = 24;
__host__ __device__ uint16_t tile_value(int row, int col) { return uint16_t(row * 256 + col); }

// Lane l provides row (l % 8) of matrix (l / 8); matrix j sits at tile rows 8*(j%2), cols 8*(j/2)
// (the usual order that makes ldmatrix_x4 produce the mma A fragment).
__global__ void ldmatrix_kernel(int which, uint32_t* out) {
  __shared__ __align__(16) uint16_t tile[16 * kStride];
  const int lane = threadIdx.x;
  for (int i = lane; i < 16 * 16; i += 32) tile[(i / 16) * kStride + i % 16] = tile_value(i / 16, i % 16);
  __syncwarp();
  const int j = lane / 8, r = lane % 8;
  const uint16_t* row = &tile[(8 * (j % 2) + r) * kStride + 8 * (j / 2)];
  uint32_t r1[1], r2[2], r4[4] = {0, 0, 0, 0};
  switch (which) {
    case 1: tf::ldmatrix_x1(r1, row); r4[0] = r1[0]; break;
    case 2: tf::ldmatrix_x2(r2, row); r4[0] = r2[0]; r4[1] = r2[1]; break;
    case 4: tf::ldmatrix_x4(r4, row); break;
    case -1: tf::ldmatrix_x1_trans(r1, row); r4[0] = r1[0]; break;
    case -2: tf::ldmatrix_x2_trans(r2, row); r4[0] = r2[0]; r4[1] = r2[1]; break;
    case -4: tf::ldmatrix_x4_trans(r4, row); break;
  }
  for (int i = 0; i < 4; ++i) out[lane * 4 + i] = r4[i];
}

TF_TEST(ldmatrix_layouts_match_isa) {
  for (int which : {1, 2, 4, -1, -2, -4}) {
    std::vector<uint32_t> out(128, 0);
    EXPECT_EQ(TF_LAUNCH(ldmatrix_kernel, 1, 32, 0, nullptr, which, out.data()), 0);
    const int matrices = which < 0 ? -which : which;
    const bool trans = which < 0;
    int bad = 0;
    for (int lane = 0; lane < 32; ++lane)
      for (int j = 0; j < matrices; ++j)
        for (int h = 0; h < 2; ++h) {
          RowCol rc = isa_ldmatrix(lane, h);        // element of the 8x8 matrix as delivered
          if (trans) std::swap(rc.row, rc.col);      // .trans delivers the transposed matrix
          const uint16_t want = tile_value(8 * (j % 2) + rc.row, 8 * (j / 2) + rc.col);
          const uint16_t got = uint16_t(out[lane * 4 + j] >> (16 * h));
          if (got != want && bad++ < 5)
            std::fprintf(stderr, "  ldmatrix which=%d lane %d matrix %d half %d: got 0x%04x want 0x%04x\n", which,
                         lane, j, h, got, want);
        }
    EXPECT_EQ(bad, 0);
  }
}

// ldmatrix_x4 of a row-major A tile gives exactly the ISA's mma A fragment; ldmatrix_x2_trans of
// a row-major [k][n] B tile gives the ISA's B fragment. (This is how kernels use them.)
__global__ void ldmatrix_feeds_mma_kernel(const uint16_t* A, const uint16_t* B, uint32_t* frag_a, uint32_t* frag_b) {
  __shared__ __align__(16) uint16_t sa[16 * kStride];
  __shared__ __align__(16) uint16_t sb[16 * kStride];
  const int lane = threadIdx.x;
  for (int i = lane; i < 256; i += 32) sa[(i / 16) * kStride + i % 16] = A[i];
  for (int i = lane; i < 128; i += 32) sb[(i / 8) * kStride + i % 8] = B[i];
  __syncwarp();
  uint32_t a[4], b[2];
  tf::ldmatrix_x4(a, &sa[(lane % 16) * kStride + (lane / 16) * 8]);
  tf::ldmatrix_x2_trans(b, &sb[(lane % 16) * kStride]);
  for (int i = 0; i < 4; ++i) frag_a[lane * 4 + i] = a[i];
  for (int i = 0; i < 2; ++i) frag_b[lane * 2 + i] = b[i];
}

TF_TEST(ldmatrix_produces_isa_mma_fragments) {
  std::vector<uint16_t> A(256), B(128);
  for (int i = 0; i < 256; ++i) A[i] = uint16_t(0x1000 + i);
  for (int i = 0; i < 128; ++i) B[i] = uint16_t(0x8000 + i);
  std::vector<uint32_t> fa(128), fb(64);
  EXPECT_EQ(TF_LAUNCH(ldmatrix_feeds_mma_kernel, 1, 32, 0, nullptr, A.data(), B.data(), fa.data(), fb.data()), 0);
  int bad = 0;
  for (int lane = 0; lane < 32; ++lane) {
    for (int i = 0; i < 8; ++i) {
      const RowCol rc = isa_a(lane, i);
      bad += uint16_t(fa[lane * 4 + i / 2] >> (16 * (i % 2))) != A[rc.row * 16 + rc.col];
    }
    for (int i = 0; i < 4; ++i) {
      const RowCol rc = isa_b(lane, i);
      bad += uint16_t(fb[lane * 2 + i / 2] >> (16 * (i % 2))) != B[rc.row * 8 + rc.col];
    }
  }
  EXPECT_EQ(bad, 0);
}

}  // namespace
