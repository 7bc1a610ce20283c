// encoder_epilogue.cu: launcher of the encoder GEMM epilogue, tf_bias_act (design in encoder_epilogue.cuh).
#include "encoder_epilogue.cuh"
#include "transfuse.h"
#include <type_traits>

namespace tf_encoder {
namespace {

template <typename F>
int dispatch_act(int act, F&& f) {
  switch (act) {
    case kIdentity: return f(std::integral_constant<int, kIdentity>{});
    case tf_gated::kSilu: return f(std::integral_constant<int, tf_gated::kSilu>{});
    case tf_gated::kGeluTanh: return f(std::integral_constant<int, tf_gated::kGeluTanh>{});
    case tf_gated::kGeluErf: return f(std::integral_constant<int, tf_gated::kGeluErf>{});
    case tf_gated::kRelu: return f(std::integral_constant<int, tf_gated::kRelu>{});
    default: return kErrInvalidArgument;
  }
}

template <typename T>
int launch(void* out, const void* x, const void* bias, const void* residual, int rows, int n, int group_rows, int act,
           void* stream) {
  constexpr int V = vec16<T>();
  auto* o = static_cast<T*>(out);
  auto* xi = static_cast<const T*>(x);
  auto* b = static_cast<const T*>(bias);
  auto* r = static_cast<const T*>(residual);
  const bool vec = n % V == 0 && aligned(out, 16) && aligned(x, 16) && (!bias || aligned(bias, 16)) &&
                   (!residual || aligned(residual, 16));
  const int nvec = vec ? n / V : n;
  const int threads = nvec >= 256 ? 256 : ((nvec + 31) / 32) * 32;
  int xblocks = (nvec + threads * 4 - 1) / (threads * 4);  // ~4 vectors per thread, wide rows loop
  if (xblocks > 64) xblocks = 64;
  const dim3 grid(xblocks, rows < 65535 ? rows : 65535);
  return dispatch_act(act, [&](auto act_c) {
    constexpr int ACT = decltype(act_c)::value;
    // The four bias/residual combinations, each with the vector and the scalar path.
    auto go = [&](auto has_bias, auto has_res) {
      constexpr bool HB = decltype(has_bias)::value, HR = decltype(has_res)::value;
      if (vec) return TF_LAUNCH((bias_act_kernel<T, V, ACT, HB, HR>), grid, threads, 0, stream, o, xi, b, r, rows, n, group_rows);
      return TF_LAUNCH((bias_act_kernel<T, 1, ACT, HB, HR>), grid, threads, 0, stream, o, xi, b, r, rows, n, group_rows);
    };
    using Yes = std::true_type;
    using No = std::false_type;
    if (b && r) return go(Yes{}, Yes{});
    if (b) return go(Yes{}, No{});
    if (r) return go(No{}, Yes{});
    return go(No{}, No{});
  });
}

}  // namespace
}  // namespace tf_encoder

extern "C" int tf_bias_act(void* out, const void* x, const void* bias, const void* residual, int rows, int n,
                           int group_rows, int act, int dtype, void* stream) {
  if (rows < 0 || n <= 0 || !out || !x) return tf_ew::kErrInvalidArgument;
  if (group_rows <= 0) group_rows = rows > 0 ? rows : 1;
  if (rows == 0) return 0;
  return tf_ew::dispatch_dtype(dtype, [&](auto t) {
    return tf_encoder::launch<decltype(t)>(out, x, bias, residual, rows, n, group_rows, act, stream);
  });
}
