package io.transfuse.backend;

import io.transfuse.tensor.Tensor;

/**
 * One layer's share of the paged KV cache, the layout of every backend: {@code keys} and {@code values}
 * [blocks * blockSize][kvHeads * headDim] of the activation type, i.e. [blocks][blockSize][kvHeads][headDim].
 * Position p of a sequence lives in block {@code table[p / blockSize]}, slot {@code p % blockSize}.
 */
public record KvLayer(Tensor keys, Tensor values, int blockSize) {
    public KvLayer {
        if (blockSize <= 0) throw new IllegalArgumentException("KV block size must be positive, got " + blockSize);
        if (keys.rows() % blockSize != 0 || keys.rows() != values.rows() || keys.cols() != values.cols()) {
            throw new IllegalArgumentException("KV cache tensors " + keys.describe() + " and " + values.describe()
                    + " must be equal and whole blocks of " + blockSize);
        }
    }

    public int blocks() { return (int) (keys.rows() / blockSize); }
}
