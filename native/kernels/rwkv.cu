// rwkv.cu: launchers for the RWKV kernels (design in rwkv.cuh; the chunked WKV-6 for prefill in rwkv_chunked.cuh).
#include "rwkv.cuh"
#include "rwkv_chunked.cuh"
#include "transfuse.h"

#include <type_traits>

namespace {
int ew_blocks(size_t n) {
  const size_t b = (n + tf_rwkv::kEwThreads - 1) / tf_rwkv::kEwThreads;
  return int(b < 4096 ? (b == 0 ? 1 : b) : 4096);
}
}  // namespace

extern "C" int tf_rwkv_token_shift(void* out, void* state, const void* x, int tokens, int dim, int fresh, int dtype, void* stream) {
  if (tokens < 0 || dim <= 0 || !out || !state || !x) return tf_ew::kErrInvalidArgument;
  if (tokens == 0) return 0;
  return tf_ew::dispatch_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    return TF_LAUNCH((tf_rwkv::token_shift_kernel<T>), dim3((dim + tf_rwkv::kEwThreads - 1) / tf_rwkv::kEwThreads),
                     tf_rwkv::kEwThreads, 0, stream, static_cast<T*>(out), static_cast<T*>(state), static_cast<const T*>(x), tokens,
                     dim, fresh);
  });
}

extern "C" int tf_rwkv_token_mix(void* out, const void* x, const void* sx, const void* mix, int mix_rows, const void* bias, int tokens,
                                 int dim, int dtype, void* stream) {
  if (tokens < 0 || dim <= 0 || !out || !x || !sx || !mix || (mix_rows != 1 && mix_rows != tokens)) return tf_ew::kErrInvalidArgument;
  if (tokens == 0) return 0;
  return tf_ew::dispatch_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    return TF_LAUNCH((tf_rwkv::token_mix_kernel<T>), dim3(ew_blocks(size_t(tokens) * dim)), tf_rwkv::kEwThreads, 0, stream,
                     static_cast<T*>(out), static_cast<const T*>(x), static_cast<const T*>(sx), static_cast<const T*>(mix), mix_rows,
                     static_cast<const T*>(bias), tokens, dim);
  });
}

extern "C" int tf_rwkv_pointwise(void* x, long n, int fn, int dtype, void* stream) {
  if (n < 0 || !x || fn < 0 || fn > 3) return tf_ew::kErrInvalidArgument;
  if (n == 0) return 0;
  return tf_ew::dispatch_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    return TF_LAUNCH((tf_rwkv::pointwise_kernel<T>), dim3(ew_blocks(size_t(n))), tf_rwkv::kEwThreads, 0, stream,
                     static_cast<T*>(x), size_t(n), fn);
  });
}

extern "C" int tf_rwkv_wkv6(void* out, float* state, const void* r, const void* k, const void* v, const void* w, const float* u,
                            const void* ln_w, const void* ln_b, int tokens, int heads, int head_size, float eps, int dtype,
                            void* stream) {
  if (tokens < 0 || heads <= 0 || !out || !state || !r || !k || !v || !w || !u || !ln_w || !ln_b) return tf_ew::kErrInvalidArgument;
  if (head_size != 32 && head_size != 64) return tf_ew::kErrInvalidArgument;
  if (tokens == 0) return 0;
  return tf_ew::dispatch_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    auto go = [&](auto s) {
      constexpr int S = decltype(s)::value;
      // prefill of a chunk or more: the chunked form (same result, a few barriers per chunk instead of per token)
      if (tokens >= tf_rwkv::kWkvChunk)
        return TF_LAUNCH((tf_rwkv::wkv6_chunked_kernel<S, T>), dim3(heads), S, 0, stream, static_cast<T*>(out), state,
                         static_cast<const T*>(r), static_cast<const T*>(k), static_cast<const T*>(v), static_cast<const T*>(w), u,
                         static_cast<const T*>(ln_w), static_cast<const T*>(ln_b), tokens, heads, eps);
      return TF_LAUNCH((tf_rwkv::wkv6_kernel<S, T>), dim3(heads), S, 0, stream, static_cast<T*>(out), state,
                       static_cast<const T*>(r), static_cast<const T*>(k), static_cast<const T*>(v), static_cast<const T*>(w), u,
                       static_cast<const T*>(ln_w), static_cast<const T*>(ln_b), tokens, heads, eps);
    };
    return head_size == 32 ? go(std::integral_constant<int, 32>{}) : go(std::integral_constant<int, 64>{});
  });
}

extern "C" int tf_rwkv_wkv7(void* out, float* state, const void* r, const void* w, const void* k, const void* v, const void* a,
                            const void* v_first, const void* v_mix, const void* k_k, const void* k_a, const void* r_k,
                            const void* ln_w, const void* ln_b, int tokens, int heads, int head_size, float eps, int dtype,
                            void* stream) {
  if (tokens < 0 || heads <= 0 || !out || !state || !r || !w || !k || !v || !a || !k_k || !k_a || !r_k || !ln_w || !ln_b
      || (v_first == nullptr) != (v_mix == nullptr))
    return tf_ew::kErrInvalidArgument;
  if (head_size != 32 && head_size != 64) return tf_ew::kErrInvalidArgument;
  if (tokens == 0) return 0;
  return tf_ew::dispatch_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    auto go = [&](auto s) {
      constexpr int S = decltype(s)::value;
      return TF_LAUNCH((tf_rwkv::wkv7_kernel<S, T>), dim3(heads), S, 0, stream, static_cast<T*>(out), state,
                       static_cast<const T*>(r), static_cast<const T*>(w), static_cast<const T*>(k), static_cast<const T*>(v),
                       static_cast<const T*>(a), static_cast<const T*>(v_first), static_cast<const T*>(v_mix),
                       static_cast<const T*>(k_k), static_cast<const T*>(k_a), static_cast<const T*>(r_k),
                       static_cast<const T*>(ln_w), static_cast<const T*>(ln_b), tokens, heads, eps);
    };
    return head_size == 32 ? go(std::integral_constant<int, 32>{}) : go(std::integral_constant<int, 64>{});
  });
}
