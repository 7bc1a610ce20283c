// transpose.cu: launcher of the tiled 2-D transpose (design in transpose.cuh).
#include "transpose.cuh"
#include "norm_elementwise_io.cuh"
#include "transfuse.h"

namespace tf_xpose {
namespace {

template <typename Bits>
int launch(void* out, const void* in, int rows, int cols, void* stream) {
  const int col_tiles = (cols + kTile - 1) / kTile, row_tiles = (rows + kTile - 1) / kTile;
  const dim3 grid(col_tiles, row_tiles < 65535 ? row_tiles : 65535);
  return TF_LAUNCH((transpose_kernel<Bits>), grid, dim3(kTile, kRowsPerPass), 0, stream, static_cast<Bits*>(out),
                   static_cast<const Bits*>(in), rows, cols);
}

}  // namespace
}  // namespace tf_xpose

extern "C" int tf_transpose(void* out, const void* in, int rows, int cols, int dtype, void* stream) {
  if (rows < 0 || cols < 0 || !out || !in) return tf_ew::kErrInvalidArgument;
  return tf_ew::dispatch_dtype(dtype, [&](auto t) {
    if (rows == 0 || cols == 0) return 0;
    if constexpr (sizeof(t) == 4) return tf_xpose::launch<uint32_t>(out, in, rows, cols, stream);
    else return tf_xpose::launch<uint16_t>(out, in, rows, cols, stream);
  });
}
