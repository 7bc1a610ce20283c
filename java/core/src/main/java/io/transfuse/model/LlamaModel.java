package io.transfuse.model;

import io.transfuse.backend.Backend;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The Llama decoder (Touvron et al. 2023): token embedding, then per layer
 * {@code x += Wo · attention(rope(Wq · norm(x)), rope(Wk · norm(x)), Wv · norm(x))} and
 * {@code x += Wdown · (silu(Wgate · norm(x)) * (Wup · norm(x)))}, then a final RMSNorm and the
 * output head. Attention is causal and grouped-query over the session's KV cache.
 *
 * <p>Activations live in a workspace allocated at construction for {@code chunk} tokens; longer
 * inputs are processed in chunks. Nothing is allocated per token. Not thread-safe.
 */
public final class LlamaModel implements Decoder {
    private final LlamaConfig c;
    private final LlamaWeights w;
    private final Backend ops;
    private final int chunk;
    // Workspace: x is the residual stream; the others are scratch of the sizes their names say.
    private final MemorySegment x, xb, xb2, q, hb, hb2, logits, ids, invFreq;
    private final MemorySegment[] attnNorm, ffnNorm;
    private final MemorySegment outputNorm;

    public LlamaModel(LlamaConfig config, LlamaWeights weights, Backend ops, TrackedArena arena, int chunk) {
        this.c = config;
        this.w = weights;
        this.ops = ops;
        this.chunk = chunk;
        x = arena.allocateFloats((long) chunk * c.dim());
        xb = arena.allocateFloats((long) chunk * c.dim());
        xb2 = arena.allocateFloats((long) chunk * c.dim());
        q = arena.allocateFloats((long) chunk * c.dim());
        hb = arena.allocateFloats((long) chunk * c.hiddenDim());
        hb2 = arena.allocateFloats((long) chunk * c.hiddenDim());
        logits = arena.allocateFloats(c.vocabSize());
        ids = arena.allocate((long) chunk * Integer.BYTES);
        invFreq = arena.allocateFloats(c.headDim() / 2);
        MemorySegment.copy(c.ropeInverseFrequencies(), 0, invFreq, ValueLayout.JAVA_FLOAT, 0, c.headDim() / 2);
        // Norm weights are tiny: keep them as F32 whatever the file stores.
        attnNorm = new MemorySegment[c.layers()];
        ffnNorm = new MemorySegment[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            attnNorm[l] = Dequantize.toF32(w.layers()[l].attnNorm(), arena);
            ffnNorm[l] = Dequantize.toF32(w.layers()[l].ffnNorm(), arena);
        }
        outputNorm = Dequantize.toF32(w.outputNorm(), arena);
    }

    public LlamaConfig config() { return c; }

    @Override public String source() { return c.source(); }

    @Override public int vocabSize() { return c.vocabSize(); }

    @Override public int contextLength() { return c.contextLength(); }

    @Override
    public KvCache newState(int capacity, TrackedArena arena) { return new KvCache(c, capacity, arena); }

    @Override
    public void forward(int[] tokens, int from, int count, int startPos, SequenceState state, float[] out) {
        MemorySegment.copy(forward(tokens, from, count, startPos, (KvCache) state), ValueLayout.JAVA_FLOAT, 0, out, 0, c.vocabSize());
    }

    /**
     * Runs {@code tokens[from, from + count)} at positions {@code startPos..} and returns the
     * logits of the last one (F32 [vocab], valid until the next call).
     */
    public MemorySegment forward(int[] tokens, int from, int count, int startPos, KvCache cache) {
        if (startPos + count > cache.capacity()) {
            throw new IllegalArgumentException("positions up to " + (startPos + count) + " exceed the context of " + cache.capacity());
        }
        for (int done = 0; done < count; done += chunk) {
            int n = Math.min(chunk, count - done);
            MemorySegment.copy(tokens, from + done, ids, ValueLayout.JAVA_INT, 0, n);
            layers(n, startPos + done, cache);
        }
        int last = (count - 1) % chunk;
        ops.rmsnorm(xb, x.asSlice((long) last * c.dim() * Float.BYTES, (long) c.dim() * Float.BYTES), outputNorm, 1, c.dim(), c.rmsEps());
        matmul(logits, xb, w.output(), 1, c.dim(), c.vocabSize());
        return logits;
    }

    /** The n tokens in {@code ids} through every layer, leaving the residual stream in x. */
    private void layers(int n, int pos, KvCache cache) {
        int dim = c.dim(), kvDim = c.kvDim(), hidden = c.hiddenDim(), hd = c.headDim();
        ops.embedding(x, w.tokenEmbedding().data(), w.tokenEmbedding().dtype(), ids, n, dim);
        for (int l = 0; l < c.layers(); l++) {
            LlamaWeights.Layer L = w.layers()[l];
            MemorySegment k = cache.rows(cache.keys(l), pos, n), v = cache.rows(cache.values(l), pos, n);
            // attention block
            ops.rmsnorm(xb, x, attnNorm[l], n, dim, c.rmsEps());
            matmul(q, xb, L.wq(), n, dim, dim);
            matmul(k, xb, L.wk(), n, dim, kvDim);
            matmul(v, xb, L.wv(), n, dim, kvDim);
            ops.rope(q, n, c.heads(), hd, pos, invFreq, c.ropeLayout());
            ops.rope(k, n, c.kvHeads(), hd, pos, invFreq, c.ropeLayout());
            ops.attention(xb2, q, cache.keys(l), cache.values(l), n, pos, c.heads(), c.kvHeads(), hd);
            matmul(xb, xb2, L.wo(), n, dim, dim);
            ops.add(x, x, xb, (long) n * dim);
            // feed-forward block (SwiGLU)
            ops.rmsnorm(xb, x, ffnNorm[l], n, dim, c.rmsEps());
            matmul(hb, xb, L.wGate(), n, dim, hidden);
            matmul(hb2, xb, L.wUp(), n, dim, hidden);
            ops.siluGlu(hb, hb, hb2, (long) n * hidden);
            matmul(xb, hb, L.wDown(), n, hidden, dim);
            ops.add(x, x, xb, (long) n * dim);
        }
    }

    private void matmul(MemorySegment out, MemorySegment in, Tensor weight, int n, int inDim, int outDim) {
        ops.matmul(out, in, weight.data(), weight.dtype(), n, inDim, outDim);
    }

}
