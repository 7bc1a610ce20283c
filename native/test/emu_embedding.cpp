// emu_embedding.cpp: embedding gather on the emulator against a plain-loop reference. A gather is
// exact (a copy, or a widening to fp32), so the comparison is exact; ids outside [0, vocab) must
// give zero rows.
#include "tf_test.h"
#include "transfuse.h"
#include "dtype_buffer.h"

#include <cstring>
#include <vector>


TF_TEST(embedding_all_dtypes_shapes_and_bad_ids) {
  uint64_t seed = 7;
  const int vocab = 50;
  for (int dt : kDtypes)
    for (bool widen : {false, true})
      for (int dim : {1, 3, 8, 12, 64, 100, 1000}) {
        const int tokens = 9;
        DBuf table(dt, size_t(vocab) * dim);
        fill(table, seed++, -3.f, 3.f);
        std::vector<int32_t> ids(tokens);
        tf_test::Rng r(seed++);
        for (int t = 0; t < tokens; ++t) ids[t] = int32_t(r.below(vocab));
        ids[2] = -1;      // out of range: zero row
        ids[5] = vocab;   // out of range: zero row
        ids[6] = vocab - 1;
        const int out_dt = widen ? TF_DTYPE_F32 : dt;
        DBuf out(out_dt, size_t(tokens) * dim);
        fill(out, seed++, 5.f, 6.f);
        const int err = tf_embedding(out.data(), ids.data(), table.data(), tokens, dim, vocab, dt, out_dt, nullptr);
        char what[128];
        std::snprintf(what, sizeof what, "embedding %s -> %s dim=%d", dtype_name(dt), dtype_name(out_dt), dim);
        if (err) { tf_test::fail(__FILE__, __LINE__, std::string(what) + " launch error"); continue; }
        std::vector<double> ref(size_t(tokens) * dim);
        for (int t = 0; t < tokens; ++t)
          for (int j = 0; j < dim; ++j)
            ref[size_t(t) * dim + j] = ids[t] >= 0 && ids[t] < vocab ? table.get(size_t(ids[t]) * dim + j) : 0.0;
        const std::vector<float> got = out.values();
        expect_close(what, got.data(), ref.data(), ref.size(), 0.0, 0.0);
      }
}

TF_TEST(embedding_rejects_bad_arguments) {
  DBuf table(TF_DTYPE_F16, 16), out(TF_DTYPE_BF16, 16);
  int32_t id = 0;
  // f16 table to bf16 output is not a supported conversion (only same type or f32).
  EXPECT(tf_embedding(out.data(), &id, table.data(), 1, 16, 1, TF_DTYPE_F16, TF_DTYPE_BF16, nullptr) != 0);
  EXPECT(tf_embedding(out.data(), &id, table.data(), 1, 16, 0, TF_DTYPE_F16, TF_DTYPE_F16, nullptr) != 0);
  EXPECT_EQ(tf_embedding(out.data(), &id, table.data(), 0, 16, 1, TF_DTYPE_F16, TF_DTYPE_F16, nullptr), 0);
}
