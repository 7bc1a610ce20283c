// emu_transpose.cpp: tf_transpose on the emulator against the definition out[c][r] = in[r][c],
// written here as a plain double loop over element bits.
//
// A transpose moves bits, so the comparison is exact (bit for bit, NaN payloads included: every input
// element is a distinct pattern). Shapes: single rows and columns (1 x N, N x 1), sizes below, at and
// around the 32 x 32 tile (31, 32, 33, 65), tall and wide rectangles, and more row tiles than a grid's
// y dimension holds (the CTAs stride on). The output starts as a sentinel pattern and one element past
// the end of out is checked to stay untouched. Run under both emulator schedules: a missing barrier
// between the tile's write and read phases (or before the next tile of a striding CTA) shows as
// stale or NaN-filled tile contents.
#include "tf_test.h"
#include "transfuse.h"
#include "dtype_buffer.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

// Raw bits of element i of a buffer of element size es (2 or 4 bytes).
uint32_t bits_at(const DBuf& b, size_t i) {
  const size_t es = DBuf::esize(b.dtype);
  uint32_t v = 0;
  std::memcpy(&v, &b.bytes[i * es], es);
  return v;
}

void run_case(int dt, int rows, int cols, uint64_t seed) {
  const size_t n = size_t(rows) * cols, es = DBuf::esize(dt);
  DBuf in(dt, n), out(dt, n + 1);
  tf_test::Rng r(seed);
  for (size_t i = 0; i < n * es; ++i) in.bytes[i] = uint8_t(r.next());  // any bit pattern, NaNs included
  std::memset(out.bytes.data(), 0xA5, out.bytes.size());
  const uint32_t sentinel = bits_at(out, n);
  char what[128];
  std::snprintf(what, sizeof what, "transpose %s rows=%d cols=%d", dtype_name(dt), rows, cols);
  const int err = tf_transpose(out.data(), in.data(), rows, cols, dt, nullptr);
  if (err) { tf_test::fail(__FILE__, __LINE__, std::string(what) + ": launch error " + std::to_string(err)); return; }
  size_t bad = 0, first = 0;
  for (int c = 0; c < cols; ++c)
    for (int rr = 0; rr < rows; ++rr) {
      const size_t o = size_t(c) * rows + rr, i = size_t(rr) * cols + c;
      if (bits_at(out, o) != bits_at(in, i) && bad++ == 0) first = o;
    }
  if (bad) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "%s: %zu of %zu elements wrong, first at out[%zu] = 0x%x", what, bad, n, first,
                  bits_at(out, first));
    tf_test::fail(__FILE__, __LINE__, buf);
  }
  if (bits_at(out, n) != sentinel) tf_test::fail(__FILE__, __LINE__, std::string(what) + ": wrote past the end of out");
}

}  // namespace

TF_TEST(transpose_shapes_all_dtypes) {
  const int shapes[][2] = {{1, 1},   {1, 37},  {37, 1},  {1, 1000}, {1000, 1}, {31, 31}, {32, 32},  {33, 33},
                           {32, 64}, {64, 32}, {65, 33}, {7, 130},  {130, 7},  {100, 3}, {3, 100},  {257, 129},
                           {96, 2048}, {2048, 96}};
  uint64_t seed = 1;
  for (int dt : kDtypes)
    for (auto [rows, cols] : shapes) run_case(dt, rows, cols, seed++);
}

// More 32-row tiles than grid.y holds (65535): each CTA transposes several tiles in turn.
TF_TEST(transpose_more_row_tiles_than_grid_y) {
  run_case(TF_DTYPE_F16, 65535 * 32 + 70, 2, 77);
}

// A transpose twice is the identity (checks the two directions agree on a Mamba-like shape).
TF_TEST(transpose_round_trip) {
  for (int dt : kDtypes) {
    const int tokens = 77, dim = 160;
    DBuf x(dt, size_t(tokens) * dim), xt(dt, x.n), back(dt, x.n);
    fill(x, 900 + dt, -3.f, 3.f);
    CHECK_EQ(tf_transpose(xt.data(), x.data(), tokens, dim, dt, nullptr), 0);
    CHECK_EQ(tf_transpose(back.data(), xt.data(), dim, tokens, dt, nullptr), 0);
    expect_close(std::string("transpose round trip ") + dtype_name(dt), back.values(), x.values(), 0.0, 0.0);
  }
}

TF_TEST(transpose_rejects_bad_arguments) {
  DBuf a(TF_DTYPE_F32, 16), b(TF_DTYPE_F32, 16);
  EXPECT(tf_transpose(a.data(), b.data(), -1, 4, TF_DTYPE_F32, nullptr) != 0);
  EXPECT(tf_transpose(a.data(), b.data(), 4, -1, TF_DTYPE_F32, nullptr) != 0);
  EXPECT(tf_transpose(a.data(), nullptr, 4, 4, TF_DTYPE_F32, nullptr) != 0);
  EXPECT(tf_transpose(a.data(), b.data(), 4, 4, 5, nullptr) != 0);  // unknown dtype
  EXPECT_EQ(tf_transpose(a.data(), b.data(), 0, 4, TF_DTYPE_F32, nullptr), 0);  // nothing to do
}
