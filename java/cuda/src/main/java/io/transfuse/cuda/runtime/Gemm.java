package io.transfuse.cuda.runtime;

import io.transfuse.tensor.DType;

/**
 * One (strided-batched) GEMM with cuBLAS's semantics: column-major matrices, {@code op(A)} m x k,
 * {@code op(B)} k x n, {@code C} m x n, {@code C = alpha op(A) op(B) + beta C} for each of
 * {@code batch} entries (entry i at {@code a + i * strideA} elements, likewise b and c), fp32
 * accumulation; C is not read when beta is 0. Validated on construction (cuBLAS's rules).
 */
public record Gemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                   long a, DType aType, long lda, long strideA,
                   long b, DType bType, long ldb, long strideB, float beta,
                   long c, DType cType, long ldc, long strideC, int batch) {
    public Gemm {
        if (m < 0 || n < 0 || k < 0) throw new IllegalArgumentException("GEMM sizes must be >= 0, got m=" + m + " n=" + n + " k=" + k);
        if (batch < 1) throw new IllegalArgumentException("GEMM batch must be >= 1, got " + batch);
        if (aType == null || bType == null || cType == null) throw new IllegalArgumentException("GEMM element types must not be null");
        if (aType != bType) throw new IllegalArgumentException("GEMM A and B must have one type, got " + aType + " and " + bType);
        if (lda < Math.max(1, transA ? k : m)) throw new IllegalArgumentException("GEMM lda " + lda + " < " + Math.max(1, transA ? k : m));
        if (ldb < Math.max(1, transB ? n : k)) throw new IllegalArgumentException("GEMM ldb " + ldb + " < " + Math.max(1, transB ? n : k));
        if (ldc < Math.max(1, m)) throw new IllegalArgumentException("GEMM ldc " + ldc + " < " + Math.max(1, m));
        if (a == 0 || b == 0 || c == 0) throw new IllegalArgumentException("GEMM operand address is null");
        if (strideA < 0 || strideB < 0 || strideC < 0) throw new IllegalArgumentException("GEMM strides must be >= 0");
    }

    /**
     * The linear layer of a row-major model, {@code y[t][o] = sum_i w[o][i] x[t][i]} with w [out][in],
     * x [tokens][in], y [tokens][out]: in column-major terms {@code y^T = w^T^T x^T}, i.e. op(A) = w
     * (A = the column-major in x out view of w, transposed), B = x^T (in x tokens, not transposed).
     */
    public static Gemm linear(long y, DType yType, long x, long w, DType wType, int tokens, int in, int out) {
        return new Gemm(true, false, out, tokens, in, 1f, w, wType, in, 0, x, wType, in, 0, 0f, y, yType, out, 0, 1);
    }

}
