// conv1d.cu: launchers for the causal depthwise conv1d and its decode step (design in conv1d.cuh).
#include "conv1d.cuh"
#include "transfuse.h"

extern "C" int tf_causal_conv1d(void* out, void* conv_state_out, const void* x, const void* weight, const void* bias,
                                int batch, int dim, int seqlen, int width, int silu, int dtype, void* stream) {
  if (batch < 0 || dim <= 0 || seqlen < 0 || width < 1 || width > tf_conv::kMaxWidth || !x || !weight ||
      (seqlen > 0 && !out))
    return tf_ew::kErrInvalidArgument;
  if (batch == 0) return 0;
  return tf_ew::dispatch_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    tf_conv::ConvArgs<T> a{};
    a.out = static_cast<T*>(out);
    a.state = width > 1 ? static_cast<T*>(conv_state_out) : nullptr;
    a.x = static_cast<const T*>(x);
    a.weight = static_cast<const T*>(weight);
    a.bias = static_cast<const T*>(bias);
    a.batch = batch;
    a.dim = dim;
    a.seqlen = seqlen;
    a.width = width;
    a.silu = silu;
    return TF_LAUNCH((tf_conv::causal_conv1d_kernel<T>), dim3(dim, batch), tf_conv::kConvThreads, 0, stream, a);
  });
}

extern "C" int tf_causal_conv1d_update(void* out, void* conv_state, const void* x, const void* weight,
                                       const void* bias, int batch, int dim, int width, int silu, int dtype,
                                       void* stream) {
  if (batch < 0 || dim <= 0 || width < 1 || width > tf_conv::kMaxWidth || !out || !x || !weight ||
      (width > 1 && !conv_state))
    return tf_ew::kErrInvalidArgument;
  if (batch == 0) return 0;
  return tf_ew::dispatch_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    tf_conv::ConvArgs<T> a{};
    a.out = static_cast<T*>(out);
    a.state = static_cast<T*>(conv_state);
    a.x = static_cast<const T*>(x);
    a.weight = static_cast<const T*>(weight);
    a.bias = static_cast<const T*>(bias);
    a.batch = batch;
    a.dim = dim;
    a.width = width;
    a.silu = silu;
    const int blocks = (batch * dim + tf_conv::kConvThreads - 1) / tf_conv::kConvThreads;
    return TF_LAUNCH((tf_conv::causal_conv1d_update_kernel<T>), blocks, tf_conv::kConvThreads, 0, stream, a);
  });
}
