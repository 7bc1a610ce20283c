// embedding.cu: launcher for the embedding gather (design notes in embedding.cuh).
#include "embedding.cuh"
#include "transfuse.h"

namespace tf_embed {
namespace {

template <typename TIn, typename TOut>
int launch(void* out, const int32_t* ids, const void* table, int tokens, int dim, int vocab, void* stream) {
  constexpr int V = vec16<TIn>();
  auto* o = static_cast<TOut*>(out);
  auto* tb = static_cast<const TIn*>(table);
  // The vector path needs V-element rows that start 16-byte aligned in the table and (for the
  // widened fp32 output, V * 4 bytes per store) 16-byte aligned in out.
  const bool vec = dim % V == 0 && aligned(table, 16) && aligned(out, 16);
  int threads = 256;
  const int nvec = vec ? dim / V : dim;
  while (threads > 32 && threads / 2 >= nvec) threads /= 2;
  if (vec) return TF_LAUNCH((embedding_kernel<TIn, TOut, V>), tokens, threads, 0, stream, o, ids, tb, dim, vocab);
  return TF_LAUNCH((embedding_kernel<TIn, TOut, 1>), tokens, threads, 0, stream, o, ids, tb, dim, vocab);
}

}  // namespace
}  // namespace tf_embed

extern "C" int tf_embedding(void* out, const int32_t* ids, const void* table, int tokens, int dim, int vocab,
                            int table_dtype, int out_dtype, void* stream) {
  using namespace tf_ew;
  if (tokens < 0 || dim <= 0 || vocab <= 0 || !out || !ids || !table) return kErrInvalidArgument;
  if (tokens == 0) return 0;
  if (out_dtype != table_dtype && out_dtype != kF32) return kErrInvalidArgument;
  return dispatch_dtype(table_dtype, [&](auto t) {
    using T = decltype(t);
    if (out_dtype == kF32)
      return tf_embed::launch<T, float>(out, ids, table, tokens, dim, vocab, stream);
    return tf_embed::launch<T, T>(out, ids, table, tokens, dim, vocab, stream);
  });
}
