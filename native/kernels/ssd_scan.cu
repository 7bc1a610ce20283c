// ssd_scan.cu: launchers for the Mamba-2 SSD scan and its decode step (design in ssd_scan.cuh).
#include "ssd_scan.cuh"
#include "transfuse.h"

namespace tf_ssd {
namespace {

bool valid_shape(int heads, int head_dim, int groups, int dstate) {
  return heads > 0 && head_dim > 0 && groups > 0 && heads % groups == 0 && dstate > 0 && dstate <= kMaxState;
}

template <typename T>
SsdArgs<T> args(void* out, float* state, const void* x, const void* dt, const float* A, const void* B, const void* C,
                const float* D, const float* dt_bias, int batch, int seqlen, int heads, int head_dim, int groups,
                int dstate) {
  SsdArgs<T> a{};
  a.out = static_cast<T*>(out);
  a.state = state;
  a.x = static_cast<const T*>(x);
  a.dt = static_cast<const T*>(dt);
  a.A = A;
  a.B = static_cast<const T*>(B);
  a.C = static_cast<const T*>(C);
  a.D = D;
  a.dt_bias = dt_bias;
  a.batch = batch;
  a.seqlen = seqlen;
  a.heads = heads;
  a.head_dim = head_dim;
  a.groups = groups;
  a.dstate = dstate;
  return a;
}

}  // namespace
}  // namespace tf_ssd

extern "C" int tf_ssd_scan(void* out, float* state, const void* x, const void* dt, const float* A, const void* B,
                           const void* C, const float* D, const float* dt_bias, int fresh, int seqlen, int heads,
                           int head_dim, int groups, int dstate, int dtype, void* stream) {
  if (!tf_ssd::valid_shape(heads, head_dim, groups, dstate) || seqlen < 0 || !state || !x || !dt || !A || !B || !C ||
      (seqlen > 0 && !out))
    return tf_ew::kErrInvalidArgument;
  if (seqlen == 0) return 0;
  return tf_ew::dispatch_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    tf_ssd::SsdArgs<T> a = tf_ssd::args<T>(out, state, x, dt, A, B, C, D, dt_bias, 1, seqlen, heads, head_dim, groups, dstate);
    a.fresh = fresh;
    const dim3 grid(heads, (head_dim + tf_ssd::kPBlock - 1) / tf_ssd::kPBlock);
    return TF_LAUNCH((tf_ssd::ssd_chunk_scan_kernel<T>), grid, tf_ssd::kThreads, 0, stream, a);
  });
}

extern "C" int tf_ssd_state_update(void* out, float* state, const void* x, const void* dt, const float* A, const void* B,
                                   const void* C, const float* D, const float* dt_bias, int batch, int heads, int head_dim,
                                   int groups, int dstate, int dtype, void* stream) {
  if (!tf_ssd::valid_shape(heads, head_dim, groups, dstate) || batch < 0 || !out || !state || !x || !dt || !A || !B || !C)
    return tf_ew::kErrInvalidArgument;
  if (batch == 0) return 0;
  return tf_ew::dispatch_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    const tf_ssd::SsdArgs<T> a =
        tf_ssd::args<T>(out, state, x, dt, A, B, C, D, dt_bias, batch, 1, heads, head_dim, groups, dstate);
    const dim3 grid((heads * head_dim + tf_ssd::kStepWarps - 1) / tf_ssd::kStepWarps, batch);
    return TF_LAUNCH((tf_ssd::ssd_state_update_kernel<T>), grid, tf_ssd::kStepWarps * 32, 0, stream, a);
  });
}
