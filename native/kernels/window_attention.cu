// window_attention.cu: launcher of Swin's window attention (design in window_attention.cuh).
#include "window_attention.cuh"
#include "norm_elementwise_io.cuh"
#include "transfuse.h"

namespace tf_win {
namespace {

template <typename T>
int launch(const WindowParams& p, int head_dim, void* stream) {
  const dim3 grid((p.grid_h / p.window) * (p.grid_w / p.window), p.n_heads);
  const int n = p.window * p.window;
  constexpr int kSmall = kWinThreads<kWinRowsSmall>, kLarge = kWinThreads<kWinRowsLarge>;
  if (n <= kWinRowsSmall && head_dim == 32)
    return TF_LAUNCH((window_attention_kernel<32, kWinRowsSmall, T>), grid, kSmall, 0, stream, p);
  if (n <= kWinRowsSmall && head_dim == 64)
    return TF_LAUNCH((window_attention_kernel<64, kWinRowsSmall, T>), grid, kSmall, 0, stream, p);
  if (n <= kWinRowsLarge && head_dim == 32)
    return TF_LAUNCH((window_attention_kernel<32, kWinRowsLarge, T>), grid, kLarge, 0, stream, p);
  return tf_ew::kErrInvalidArgument;
}

}  // namespace
}  // namespace tf_win

extern "C" int tf_window_attention(const void* q, const void* k, const void* v, void* o, const float* bias,
                                   const float* logit_scale, int grid_h,
                                   int grid_w, int window, int shift, int n_heads, int head_dim, long stride,
                                   float scale, int dtype, void* stream) {
  using tf_ew::aligned;
  using tf_ew::kErrInvalidArgument;
  if (!q || !k || !v || !o || !bias) return kErrInvalidArgument;
  if (window < 1 || window * window > tf_win::kWinRowsLarge || grid_h < window || grid_w < window) return kErrInvalidArgument;
  if (grid_h % window != 0 || grid_w % window != 0 || shift < 0 || shift >= window) return kErrInvalidArgument;
  if (n_heads < 1 || n_heads > 65535 || stride < long(n_heads) * head_dim || stride % 8 != 0) return kErrInvalidArgument;
  if (!aligned(q, 16) || !aligned(k, 16) || !aligned(v, 16) || !aligned(o, 16)) return kErrInvalidArgument;
  const tf_win::WindowParams p{q, k, v, o, bias, logit_scale, grid_h, grid_w, window, shift, n_heads, stride, scale};
  switch (dtype) {
    case tf_ew::kF16: return tf_win::launch<__half>(p, head_dim, stream);
    case tf_ew::kBF16: return tf_win::launch<__nv_bfloat16>(p, head_dim, stream);
    default: return kErrInvalidArgument;
  }
}
