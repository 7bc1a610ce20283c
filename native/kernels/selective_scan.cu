// selective_scan.cu: launchers for the Mamba-1 selective scan and its decode step (design in
// selective_scan.cuh).
#include "selective_scan.cuh"
#include "transfuse.h"

namespace tf_scan {
namespace {

bool valid_shape(int batch, int dim, int dstate, int n_groups) {
  return batch >= 0 && dim > 0 && dstate > 0 && dstate <= kMaxDState && n_groups > 0 && dim % n_groups == 0;
}

template <typename T>
int launch_scan(const ScanArgs<T>& a, void* stream) {
  constexpr int kVecBytes = kScanItems * int(sizeof(T));
  const bool vec = a.seqlen % kScanItems == 0 && aligned(a.u, kVecBytes) && aligned(a.delta, kVecBytes) &&
                   aligned(a.B, kVecBytes) && aligned(a.C, kVecBytes) && aligned(a.out, kVecBytes) &&
                   (!a.z || aligned(a.z, kVecBytes));
  const dim3 grid(a.dim, a.batch);
  if (vec) return TF_LAUNCH((selective_scan_kernel<T, true>), grid, kScanThreads, 0, stream, a);
  return TF_LAUNCH((selective_scan_kernel<T, false>), grid, kScanThreads, 0, stream, a);
}

}  // namespace
}  // namespace tf_scan

extern "C" int tf_selective_scan(void* out, float* final_state, const void* u, const void* delta, const float* A,
                                 const void* B, const void* C, const float* D, const void* z,
                                 const float* delta_bias, const float* initial_state, int batch, int dim,
                                 int seqlen, int dstate, int n_groups, int delta_softplus, int dtype, void* stream) {
  if (!tf_scan::valid_shape(batch, dim, dstate, n_groups) || seqlen < 0 || !u || !delta || !A || !B || !C ||
      (seqlen > 0 && !out))
    return tf_ew::kErrInvalidArgument;
  if (batch == 0) return 0;
  return tf_ew::dispatch_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    tf_scan::ScanArgs<T> a{};
    a.out = static_cast<T*>(out);
    a.final_state = final_state;
    a.u = static_cast<const T*>(u);
    a.delta = static_cast<const T*>(delta);
    a.A = A;
    a.B = static_cast<const T*>(B);
    a.C = static_cast<const T*>(C);
    a.D = D;
    a.z = static_cast<const T*>(z);
    a.delta_bias = delta_bias;
    a.initial_state = initial_state;
    a.batch = batch;
    a.dim = dim;
    a.seqlen = seqlen;
    a.dstate = dstate;
    a.n_groups = n_groups;
    a.delta_softplus = delta_softplus;
    return tf_scan::launch_scan<T>(a, stream);
  });
}

extern "C" int tf_selective_state_update(void* out, float* state, const void* x, const void* delta, const float* A,
                                         const void* B, const void* C, const float* D, const void* z,
                                         const float* delta_bias, int batch, int dim, int dstate, int n_groups,
                                         int delta_softplus, int dtype, void* stream) {
  if (!tf_scan::valid_shape(batch, dim, dstate, n_groups) || !out || !state || !x || !delta || !A || !B || !C)
    return tf_ew::kErrInvalidArgument;
  if (batch == 0) return 0;
  return tf_ew::dispatch_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    tf_scan::ScanArgs<T> a{};
    a.out = static_cast<T*>(out);
    a.state = state;
    a.u = static_cast<const T*>(x);
    a.delta = static_cast<const T*>(delta);
    a.A = A;
    a.B = static_cast<const T*>(B);
    a.C = static_cast<const T*>(C);
    a.D = D;
    a.z = static_cast<const T*>(z);
    a.delta_bias = delta_bias;
    a.batch = batch;
    a.dim = dim;
    a.dstate = dstate;
    a.n_groups = n_groups;
    a.delta_softplus = delta_softplus;
    const dim3 grid((dim + tf_scan::kStepWarps - 1) / tf_scan::kStepWarps, batch);
    return TF_LAUNCH((tf_scan::selective_state_update_kernel<T>), grid, tf_scan::kStepWarps * 32, 0, stream, a);
  });
}
