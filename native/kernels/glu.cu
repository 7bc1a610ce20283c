// glu.cu: launchers for the GLU epilogue and the fused decode gate/up GEMV (design in glu.cuh).
#include "glu.cuh"
#include "transfuse.h"
#include <type_traits>

namespace tf_gated {
namespace {

// kWithIdentity: whether TF_ACT_IDENTITY is accepted (tf_glu: yes; tf_glu_gemv: SiLU / GELU only).
template <bool kWithIdentity = false, typename F>
int dispatch_act(int act, F&& f) {
  switch (act) {
    case kSilu: return f(std::integral_constant<int, kSilu>{});
    case kGeluTanh: return f(std::integral_constant<int, kGeluTanh>{});
    case kGeluErf: return f(std::integral_constant<int, kGeluErf>{});
    case kRelu: return f(std::integral_constant<int, kRelu>{});
    case kIdentity:
      if constexpr (kWithIdentity) return f(std::integral_constant<int, kIdentity>{});
      return kErrInvalidArgument;
    default: return kErrInvalidArgument;
  }
}

template <typename T>
int launch_glu(void* out, const void* gate, const void* up, int tokens, int ffn, long in_stride, int act,
               void* stream) {
  constexpr int V = vec16<T>();
  auto* o = static_cast<T*>(out);
  auto* g = static_cast<const T*>(gate);
  auto* u = static_cast<const T*>(up);
  // 16-byte accesses need every row start aligned: the base pointers, and whole vectors per row.
  const bool vec = ffn % V == 0 && in_stride % V == 0 && aligned(out, 16) && aligned(gate, 16) && aligned(up, 16);
  const int nvec = vec ? ffn / V : ffn;
  const int threads = nvec >= 256 ? 256 : ((nvec + 31) / 32) * 32;
  // Enough x-blocks for ~4 vectors per thread, capped so very wide rows loop instead.
  int xblocks = (nvec + threads * 4 - 1) / (threads * 4);
  if (xblocks > 64) xblocks = 64;
  const dim3 grid(xblocks, tokens < 65535 ? tokens : 65535);
  return dispatch_act<true>(act, [&](auto act_c) {
    constexpr int ACT = decltype(act_c)::value;
    if (vec) return TF_LAUNCH((glu_kernel<T, V, ACT>), grid, threads, 0, stream, o, g, u, tokens, ffn, in_stride);
    return TF_LAUNCH((glu_kernel<T, 1, ACT>), grid, threads, 0, stream, o, g, u, tokens, ffn, in_stride);
  });
}

template <typename TW, typename TX>
int launch_gemv(void* out, const void* w_gate, const void* w_up, const void* x, int ffn, int dim, int act,
                void* stream) {
  constexpr int V = vec16<TW>();
  auto* o = static_cast<TX*>(out);
  auto* wg = static_cast<const TW*>(w_gate);
  auto* wu = static_cast<const TW*>(w_up);
  auto* xi = static_cast<const TX*>(x);
  // x is read V elements at a time too: V * sizeof(TX) bytes, aligned when x is 16-byte aligned.
  const bool vec = dim % V == 0 && aligned(w_gate, 16) && aligned(w_up, 16) && aligned(x, 16);
  const int blocks = (ffn + kGemvWarps - 1) / kGemvWarps;
  return dispatch_act(act, [&](auto act_c) {
    constexpr int ACT = decltype(act_c)::value;
    if (vec) return TF_LAUNCH((glu_gemv_kernel<TW, TX, V, ACT>), blocks, kGemvWarps * 32, 0, stream, o, wg, wu, xi,
                              ffn, dim);
    return TF_LAUNCH((glu_gemv_kernel<TW, TX, 1, ACT>), blocks, kGemvWarps * 32, 0, stream, o, wg, wu, xi, ffn, dim);
  });
}

}  // namespace
}  // namespace tf_gated

extern "C" int tf_glu(void* out, const void* gate, const void* up, int tokens, int ffn, long in_stride, int act,
                      int dtype, void* stream) {
  if (tokens < 0 || ffn <= 0 || in_stride < ffn || !out || !gate || !up) return tf_ew::kErrInvalidArgument;
  if (tokens == 0) return 0;
  return tf_ew::dispatch_dtype(dtype, [&](auto t) {
    return tf_gated::launch_glu<decltype(t)>(out, gate, up, tokens, ffn, in_stride, act, stream);
  });
}

extern "C" int tf_glu_gemv(void* out, const void* w_gate, const void* w_up, const void* x, int ffn, int dim, int act,
                           int w_dtype, int x_dtype, void* stream) {
  using namespace tf_ew;
  if (ffn < 0 || dim <= 0 || !out || !w_gate || !w_up || !x) return kErrInvalidArgument;
  if (x_dtype != kF32 && x_dtype != w_dtype) return kErrInvalidArgument;
  if (ffn == 0) return 0;
  return dispatch_dtype(w_dtype, [&](auto w) {
    using TW = decltype(w);
    if (x_dtype == kF32) return tf_gated::launch_gemv<TW, float>(out, w_gate, w_up, x, ffn, dim, act, stream);
    return tf_gated::launch_gemv<TW, TW>(out, w_gate, w_up, x, ffn, dim, act, stream);
  });
}
