package io.transfuse.backend;

import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

/** The Java-side argument checks of {@link Backend#attentionRelBiasPaged}, shared by its implementations. */
public final class RelBiasPagedChecks {
    private RelBiasPagedChecks() {}

    /**
     * Shapes and types: q, out [tokens][heads * headDim] contiguous; the cache rows kvHeads * headDim wide, of q's
     * element type; the batch carrying block tables; the bias F32 [heads][2R + 1]. Each token's position must lie within
     * its block table ({@code maxBlocks * blockSize}). Throws IllegalArgumentException naming the argument.
     */
    public static void check(String op, Tensor out, Tensor q, KvLayer cache, DecoderBatch batch, Tensor bias, int biasRadius,
                             Heads heads) {
        int n = batch.tokens();
        OpChecks.contiguous(op, out, q);
        OpChecks.width(op, "q", q, n, heads.qWidth());
        OpChecks.width(op, "out", out, n, heads.qWidth());
        if (cache.keys().cols() != heads.kvWidth()) {
            throw new IllegalArgumentException(op + ": the KV cache rows " + cache.keys().describe() + " must be kvHeads x headDim = "
                    + heads.kvWidth());
        }
        if (cache.keys().dtype() != q.dtype() || cache.values().dtype() != q.dtype() || out.dtype() != q.dtype()) {
            throw new IllegalArgumentException(op + ": q " + q.describe() + ", out " + out.describe() + " and the cache "
                    + cache.keys().describe() + " / " + cache.values().describe() + " must have one element type");
        }
        if (batch.maxBlocks() == 0) throw new IllegalArgumentException(op + ": the batch carries no KV block tables");
        long capacity = (long) batch.maxBlocks() * cache.blockSize();
        for (int s = 0; s < batch.sequences(); s++) {
            long end = (long) batch.startPos(s) + batch.count(s);
            if (end > capacity) {
                throw new IllegalArgumentException(op + ": sequence " + s + " reaches position " + (end - 1) + ", beyond its block table's "
                        + capacity + " positions");
            }
        }
        if (bias != null) {
            if (biasRadius < 0) throw new IllegalArgumentException(op + ": bias radius must be >= 0, got " + biasRadius);
            if (bias.dtype() != DType.F32 || bias.rows() != heads.heads() || bias.cols() != 2L * biasRadius + 1) {
                throw new IllegalArgumentException(op + ": bias " + bias.describe() + " must be F32 [" + heads.heads() + "]["
                        + (2L * biasRadius + 1) + "]");
            }
        }
    }
}
