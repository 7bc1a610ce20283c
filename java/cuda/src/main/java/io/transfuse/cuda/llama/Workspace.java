package io.transfuse.cuda.llama;

import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.cuda.memory.DeviceBuffer;
import io.transfuse.cuda.runtime.ElemType;
import io.transfuse.model.LlamaConfig;

import java.lang.foreign.MemorySegment;

/**
 * The activations of one forward call, planned at load for {@code maxTokens} tokens over at most
 * {@code maxBatch} sequences: nothing is allocated per token. Reuse by liveness: {@code xb} holds
 * every normed input (consumed by the next GEMMs before the next norm writes it), {@code delta} every
 * block output (added into {@code res} by the next fused norm). Inputs (ids, positions, block tables)
 * are staged in one pinned host buffer and uploaded before each call or graph replay.
 */
final class Workspace {
    final DeviceBuffer res, xb, delta, q, k, v, attn, gateUp, hidden, logits, decodeScratch;
    final DeviceBuffer ids, positions, seqIds, cuSeqlens, contextLens, blockTable;
    final MemorySegment hostInts, hostLogits;
    final int maxTokens, maxBatch, maxBlocksPerSeq;

    Workspace(DeviceArena a, LlamaConfig c, ElemType t, int headDim, int maxTokens, int maxBatch, int maxBlocksPerSeq,
              long decodeScratchBytes) {
        this.maxTokens = maxTokens;
        this.maxBatch = maxBatch;
        this.maxBlocksPerSeq = maxBlocksPerSeq;
        long n = maxTokens, e = t.bytes();
        res = a.allocate("residual stream", n * c.dim() * e);
        xb = a.allocate("normed activations", n * c.dim() * e);
        delta = a.allocate("block outputs", n * c.dim() * e);
        q = a.allocate("queries", n * c.heads() * headDim * e);
        k = a.allocate("keys", n * c.kvHeads() * headDim * e);
        v = a.allocate("values", n * c.kvHeads() * headDim * e);
        attn = a.allocate("attention outputs", n * c.heads() * headDim * e);
        gateUp = a.allocate("gate and up projections", n * 2L * c.hiddenDim() * e);
        hidden = a.allocate("SwiGLU outputs", n * c.hiddenDim() * e);
        logits = a.allocate("logits", (long) maxBatch * c.vocabSize() * Float.BYTES);
        decodeScratch = a.allocate("flash-decoding split workspace", Math.max(16, decodeScratchBytes));
        ids = a.allocate("token ids", n * Integer.BYTES);
        positions = a.allocate("positions", n * Integer.BYTES);
        seqIds = a.allocate("sequence index of each token", n * Integer.BYTES);
        cuSeqlens = a.allocate("cumulative sequence lengths", (maxBatch + 1L) * Integer.BYTES);
        contextLens = a.allocate("context lengths", (long) maxBatch * Integer.BYTES);
        blockTable = a.allocate("block table", (long) maxBatch * maxBlocksPerSeq * Integer.BYTES);
        hostInts = a.allocatePinned((3L * n + 2L * maxBatch + 1 + (long) maxBatch * maxBlocksPerSeq) * Integer.BYTES);
        hostLogits = a.allocatePinned((long) maxBatch * c.vocabSize() * Float.BYTES);
    }
}
