// emu_gemm.cpp: the emulated runtime's GEMM (tf_emu_gemm in transfuse.h section 3), a reference
// implementation with cuBLAS's semantics (cublasGemmStridedBatchedEx): column-major matrices,
// op(X) = X or X^T, leading dimensions, C = alpha * op(A) op(B) + beta * C, fp32 accumulation
// whatever the element types, and C not read when beta == 0 (so it may hold NaN, as on cuBLAS).
//
// How: per batch entry, op(A) is widened to fp32 rows [m][k] and op(B) to fp32 columns [n][k]
// once (O((m + n) k) conversions), then every C element is one contiguous dot product that the
// compiler vectorises (8 independent partial sums). Plain loops on the calling thread: the
// emulated runtime runs the model graphs of tests and CI, where matrices are small.
#include <cstdint>
#include <cstring>
#include <vector>

#include "tf_emu_fp16.h"
#include "transfuse.h"

namespace {

float load(const void* base, int dtype, size_t index) {
  switch (dtype) {
    case TF_DTYPE_F32: return static_cast<const float*>(base)[index];
    case TF_DTYPE_F16: return tf_emu::half_bits_to_float(static_cast<const uint16_t*>(base)[index]);
    default: return tf_emu::bf16_bits_to_float(static_cast<const uint16_t*>(base)[index]);
  }
}

void store(void* base, int dtype, size_t index, float v) {
  switch (dtype) {
    case TF_DTYPE_F32: static_cast<float*>(base)[index] = v; break;
    case TF_DTYPE_F16: static_cast<uint16_t*>(base)[index] = tf_emu::float_to_half_bits(v); break;
    default: static_cast<uint16_t*>(base)[index] = tf_emu::float_to_bf16_bits(v); break;
  }
}

size_t elem_bytes(int dtype) { return dtype == TF_DTYPE_F32 ? 4 : 2; }

// rows[r][p] = op(X)[r][p] for an op(X) of rows x k, X column-major with leading dimension ld.
// trans == N: op(X)[r][p] = x[r + p * ld]; trans == T: op(X)[r][p] = x[p + r * ld].
void widen(std::vector<float>& rows, const void* x, int dtype, int trans, int n_rows, int k, long ld) {
  rows.resize((size_t)n_rows * k);
  for (int r = 0; r < n_rows; ++r)
    for (int p = 0; p < k; ++p)
      rows[(size_t)r * k + p] = load(x, dtype, trans ? (size_t)p + (size_t)r * ld : (size_t)r + (size_t)p * ld);
}

float dot(const float* a, const float* b, int k) {
  float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int p = 0;
  for (; p + 8 <= k; p += 8)
    for (int l = 0; l < 8; ++l) part[l] += a[p + l] * b[p + l];
  float s = 0.f;
  for (; p < k; ++p) s += a[p] * b[p];
  for (int l = 0; l < 8; ++l) s += part[l];
  return s;
}

bool valid_dtype(int d) { return d == TF_DTYPE_F32 || d == TF_DTYPE_F16 || d == TF_DTYPE_BF16; }
long max1(long v) { return v > 1 ? v : 1; }

}  // namespace

extern "C" int tf_emu_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const void* a, int a_dtype,
                           long lda, long long stride_a, const void* b, int b_dtype, long ldb, long long stride_b,
                           float beta, void* c, int c_dtype, long ldc, long long stride_c, int batch) {
  if (m < 0 || n < 0 || k < 0 || batch < 0) return 1;
  if (!valid_dtype(a_dtype) || !valid_dtype(b_dtype) || !valid_dtype(c_dtype)) return 1;
  // cuBLAS's leading-dimension rules: at least the stored rows of each matrix.
  if (lda < max1(trans_a ? k : m) || ldb < max1(trans_b ? n : k) || ldc < max1(m)) return 1;
  if (m == 0 || n == 0 || batch == 0) return 0;
  std::vector<float> arows, bcols;
  for (int bi = 0; bi < batch; ++bi) {
    const char* ab = static_cast<const char*>(a) + (size_t)(bi * stride_a) * elem_bytes(a_dtype);
    const char* bb = static_cast<const char*>(b) + (size_t)(bi * stride_b) * elem_bytes(b_dtype);
    char* cb = static_cast<char*>(c) + (size_t)(bi * stride_c) * elem_bytes(c_dtype);
    widen(arows, ab, a_dtype, trans_a, m, k, lda);
    // Columns of op(B) [k][n] are rows of op(B)^T, i.e. op'(B) with the transpose flag flipped.
    widen(bcols, bb, b_dtype, !trans_b, n, k, ldb);
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < m; ++i) {
        const size_t ci = (size_t)i + (size_t)j * ldc;
        float v = alpha * dot(&arows[(size_t)i * k], &bcols[(size_t)j * k], k);
        if (beta != 0.f) v += beta * load(cb, c_dtype, ci);
        store(cb, c_dtype, ci, v);
      }
  }
  return 0;
}
