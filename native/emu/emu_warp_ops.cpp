// emu_warp_ops.cpp: what each warp collective computes, given every lane's operands.
//
// Fragment layouts follow the PTX ISA (section "Matrix Fragments for mma.m16n8k16 with
// floating point type" and "ldmatrix"). With groupID = lane / 4 and tig = lane % 4:
//   A (16x16, row-major), 4 registers of 2 halves:  reg r, half h ->
//       row = groupID + 8 * (r % 2),  col = tig * 2 + h + 8 * (r / 2)
//   B (16x8, "col"), 2 registers of 2 halves:       reg r, half h ->
//       k = tig * 2 + h + 8 * r,  n = groupID
//   C/D (16x8 f32), 4 floats:                       element i ->
//       row = groupID + 8 * (i / 2),  col = tig * 2 + i % 2
//   ldmatrix m8n8 b16, matrix j: lanes 8j..8j+7 give the addresses of its rows 0..7; lane L
//       receives row L/4, columns 2*(L%4) and 2*(L%4)+1 (with .trans: rows 2*(L%4), +1 of
//       column L/4), low half first.
// The self-test (native/test/emu_selftest_fragments.cpp) checks these against a table
// transcribed from the ISA and against a plain matmul.
#include <immintrin.h>

#include <cstring>

#include "emu_internal.h"
#include "tf_emu_fp16.h"

namespace tf_emu {

const char* warp_op_name(WarpOp op) {
  switch (op) {
    case WarpOp::Shfl: return "__shfl_sync";
    case WarpOp::ShflUp: return "__shfl_up_sync";
    case WarpOp::ShflDown: return "__shfl_down_sync";
    case WarpOp::ShflXor: return "__shfl_xor_sync";
    case WarpOp::Ballot: return "__ballot_sync";
    case WarpOp::Any: return "__any_sync";
    case WarpOp::All: return "__all_sync";
    case WarpOp::SyncWarp: return "__syncwarp";
    case WarpOp::MmaF16: return "tf::mma_m16n8k16_f16";
    case WarpOp::MmaBf16: return "tf::mma_m16n8k16_bf16";
    case WarpOp::Ldm1: return "tf::ldmatrix_x1";
    case WarpOp::Ldm2: return "tf::ldmatrix_x2";
    case WarpOp::Ldm4: return "tf::ldmatrix_x4";
    case WarpOp::Ldm1T: return "tf::ldmatrix_x1_trans";
    case WarpOp::Ldm2T: return "tf::ldmatrix_x2_trans";
    case WarpOp::Ldm4T: return "tf::ldmatrix_x4_trans";
  }
  return "warp collective";
}

namespace {

// A shuffle from a lane that did not take part yields this poison (a NaN as float), which
// makes the bug visible instead of returning a plausible stale value.
constexpr uint64_t kPoison = ~uint64_t(0);

bool shuffle(WarpOp op, uint32_t arrived, const LaneIn* const in[32], LaneOut* const out[32], std::string* error) {
  for (uint32_t bits = arrived; bits; bits &= bits - 1) {
    const int lane = __builtin_ctz(bits);
    const int width = in[lane]->width;
    if (width < 1 || width > 32 || (width & (width - 1))) {
      *error = "width " + std::to_string(width) + " is not a power of two in [1, 32]";
      return false;
    }
    const int base = lane & ~(width - 1);
    const int arg = in[lane]->arg;
    int src = lane;
    switch (op) {
      case WarpOp::Shfl: src = base + (arg & (width - 1)); break;
      case WarpOp::ShflUp: src = lane - arg >= base ? lane - arg : lane; break;
      case WarpOp::ShflDown: src = lane + arg < base + width ? lane + arg : lane; break;
      case WarpOp::ShflXor: src = lane ^ arg; if (src < 0 || src >= base + width) src = lane; break;
      default: break;
    }
    out[lane]->value = (src >= 0 && src < 32 && (arrived >> src & 1u)) ? in[src]->value : kPoison;
  }
  return true;
}

void vote(WarpOp op, uint32_t arrived, const LaneIn* const in[32], LaneOut* const out[32]) {
  uint32_t ballot = 0;
  for (uint32_t bits = arrived; bits; bits &= bits - 1) {
    const int lane = __builtin_ctz(bits);
    if (in[lane]->value) ballot |= 1u << lane;
  }
  uint64_t result = ballot;
  if (op == WarpOp::Any) result = ballot != 0;
  if (op == WarpOp::All) result = ballot == arrived;
  for (uint32_t bits = arrived; bits; bits &= bits - 1) out[__builtin_ctz(bits)]->value = result;
}

// Widens n 16-bit values to float. f16 uses the F16C instruction when the CPU has it (exact,
// like the software path, and about 10x faster: this is on the emulator's hottest path).
__attribute__((target("f16c,avx"))) void f16_to_float_f16c(const uint16_t* in, float* out, int n) {
  for (int i = 0; i < n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i))));
}
void widen(const uint16_t* in, float* out, int n, bool bf16) {
  static const bool has_f16c = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
  if (bf16) {
    for (int i = 0; i < n; ++i) out[i] = bf16_bits_to_float(in[i]);
  } else if (has_f16c) {
    f16_to_float_f16c(in, out, n);
  } else {
    for (int i = 0; i < n; ++i) out[i] = half_bits_to_float(in[i]);
  }
}

bool mma(bool bf16, uint32_t arrived, const LaneIn* const in[32], LaneOut* const out[32], std::string* error) {
  if (arrived != 0xFFFFFFFFu) {
    *error = "needs all 32 lanes of the warp";
    return false;
  }
  uint16_t Ah[16][16], Bh[16][8];
  float A[16][16], B[16][8], C[16][8];
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    const LaneIn& x = *in[lane];
    for (int r = 0; r < 4; ++r)
      for (int h = 0; h < 2; ++h)
        Ah[g + 8 * (r % 2)][t * 2 + h + 8 * (r / 2)] = static_cast<uint16_t>(x.a[r] >> (16 * h));
    for (int r = 0; r < 2; ++r)
      for (int h = 0; h < 2; ++h) Bh[t * 2 + h + 8 * r][g] = static_cast<uint16_t>(x.b[r] >> (16 * h));
    for (int i = 0; i < 4; ++i) C[g + 8 * (i / 2)][t * 2 + i % 2] = x.c[i];
  }
  widen(&Ah[0][0], &A[0][0], 256, bf16);
  widen(&Bh[0][0], &B[0][0], 128, bf16);
  // Products of two f16 (or bf16) values are exact in float (at most 22 significant bits);
  // they are summed in double and rounded once to f32. Loop order m, k, n keeps the inner loop
  // over 8 contiguous accumulators so the compiler vectorises it (this is the emulator's
  // hottest function for attention kernels).
  float D[16][8];
  for (int m = 0; m < 16; ++m) {
    double acc[8];
    for (int n = 0; n < 8; ++n) acc[n] = C[m][n];
    for (int k = 0; k < 16; ++k) {
      const float a = A[m][k];
      for (int n = 0; n < 8; ++n) acc[n] += static_cast<double>(a * B[k][n]);
    }
    for (int n = 0; n < 8; ++n) D[m][n] = static_cast<float>(acc[n]);
  }
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    for (int i = 0; i < 4; ++i) out[lane]->d[i] = D[g + 8 * (i / 2)][t * 2 + i % 2];
  }
  return true;
}

bool ldmatrix(int matrices, bool trans, uint32_t arrived, const LaneIn* const in[32], LaneOut* const out[32],
              std::string* error) {
  if (arrived != 0xFFFFFFFFu) {
    *error = "needs all 32 lanes of the warp";
    return false;
  }
  uint16_t M[4][8][8];
  for (int j = 0; j < matrices; ++j)
    for (int row = 0; row < 8; ++row) {
      const void* p = in[8 * j + row]->ptr;
      if (reinterpret_cast<uintptr_t>(p) % 16 != 0 || !p) {
        *error = "lane " + std::to_string(8 * j + row) + " gives a row address that is not 16-byte aligned";
        return false;
      }
      std::memcpy(M[j][row], p, 16);
    }
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    for (int j = 0; j < matrices; ++j) {
      const uint16_t lo = trans ? M[j][2 * t][g] : M[j][g][2 * t];
      const uint16_t hi = trans ? M[j][2 * t + 1][g] : M[j][g][2 * t + 1];
      out[lane]->r[j] = uint32_t(lo) | (uint32_t(hi) << 16);
    }
  }
  return true;
}

}  // namespace

bool compute_warp_op(WarpOp op, uint32_t arrived, const LaneIn* const in[32], LaneOut* const out[32],
                     std::string* error) {
  switch (op) {
    case WarpOp::Shfl:
    case WarpOp::ShflUp:
    case WarpOp::ShflDown:
    case WarpOp::ShflXor: return shuffle(op, arrived, in, out, error);
    case WarpOp::Ballot:
    case WarpOp::Any:
    case WarpOp::All: vote(op, arrived, in, out); return true;
    case WarpOp::SyncWarp: return true;
    case WarpOp::MmaF16: return mma(false, arrived, in, out, error);
    case WarpOp::MmaBf16: return mma(true, arrived, in, out, error);
    case WarpOp::Ldm1: return ldmatrix(1, false, arrived, in, out, error);
    case WarpOp::Ldm2: return ldmatrix(2, false, arrived, in, out, error);
    case WarpOp::Ldm4: return ldmatrix(4, false, arrived, in, out, error);
    case WarpOp::Ldm1T: return ldmatrix(1, true, arrived, in, out, error);
    case WarpOp::Ldm2T: return ldmatrix(2, true, arrived, in, out, error);
    case WarpOp::Ldm4T: return ldmatrix(4, true, arrived, in, out, error);
  }
  *error = "unknown warp collective";
  return false;
}

}  // namespace tf_emu
