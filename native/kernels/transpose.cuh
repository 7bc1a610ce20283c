// transpose.cuh: 2-D transpose of a row-major matrix, any element type.
//
// What it computes
//   out[c][r] = in[r][c] for in [rows][cols] and out [cols][rows], both row-major. Elements are moved
//   as bits (uint16_t for fp16/bf16, uint32_t for fp32), never converted, so one kernel per element
//   size serves every dtype. The graphs use it between token-major activations [tokens][dim] and the
//   channel-major Mamba kernels (conv1d, selective scan: [dim][tokens] per sequence).
//
// Tiling
//   One CTA of 32 x 8 threads per 32 x 32 tile (grid.x over column tiles; grid.y over row tiles,
//   capped at 65535 by the launcher, the CTA striding on past it). Read phase: warp ty reads tile rows
//   ty, ty + 8, ty + 16, ty + 24, each 32 consecutive elements of one input row (coalesced: 128 bytes
//   at fp32, 64 bytes = two whole 32-byte sectors at fp16/bf16), into shared memory. One barrier.
//   Write phase: warp ty writes output rows c0 + ty + 8i, each 32 consecutive elements, taken from a
//   column of the shared tile. A second barrier before the next tile of a striding CTA overwrites it.
//   Tiles on the right and bottom edges are masked element by element (any rows, cols >= 1).
// Registers vs shared memory
//   Registers: indices only (each element goes global -> shared -> global). Shared memory: the tile,
//   32 rows of 32 + pad elements, the pad chosen so that a row is an odd number of 32-bit words (33
//   words for 4-byte elements, 17 words = 34 elements for 2-byte ones): the 32 lanes reading a
//   column then hit 32 distinct banks (conflict free), and row writes are conflict free anyway.
//   4224 bytes (fp32) or 2176 bytes (fp16/bf16) per CTA.
// Bytes per FLOP
//   No arithmetic: 2 * sizeof(T) bytes of DRAM traffic per element (read once, written once), purely
//   bandwidth bound. Built for ~75-85 % of device-copy bandwidth on A100 and H100/H200 at sizes past a
//   few MB (the classic shared-memory transpose); a [tokens][dim] activation of a decode step is a
//   few KB, where the single launch dominates.
#pragma once
#include "tf_device.cuh"
#include <stdint.h>

namespace tf_xpose {

constexpr int kTile = 32;        // tile edge (elements); one warp spans a tile row
constexpr int kRowsPerPass = 8;  // blockDim.y: each thread moves kTile / kRowsPerPass elements

// Elements of padding per shared tile row: makes the row stride an odd number of 32-bit words.
template <typename Bits> constexpr int kPad = 4 / int(sizeof(Bits));

template <typename Bits>
__global__ void __launch_bounds__(kTile * kRowsPerPass) transpose_kernel(Bits* __restrict__ out,
                                                                        const Bits* __restrict__ in, int rows,
                                                                        int cols) {
  __shared__ Bits tile[kTile][kTile + kPad<Bits>];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int c0 = blockIdx.x * kTile;
  const int row_tiles = (rows + kTile - 1) / kTile;
  for (int tr = blockIdx.y; tr < row_tiles; tr += gridDim.y) {
    const int r0 = tr * kTile;
#pragma unroll
    for (int i = 0; i < kTile; i += kRowsPerPass) {
      const int r = r0 + ty + i, c = c0 + tx;
      if (r < rows && c < cols) tile[ty + i][tx] = in[size_t(r) * cols + c];
    }
    __syncthreads();  // the whole tile is in shared memory
#pragma unroll
    for (int i = 0; i < kTile; i += kRowsPerPass) {
      const int c = c0 + ty + i, r = r0 + tx;
      if (c < cols && r < rows) out[size_t(c) * rows + r] = tile[tx][ty + i];
    }
    __syncthreads();  // every column is read before the next tile overwrites it
  }
}

}  // namespace tf_xpose
