package io.transfuse.model.bert;

import io.transfuse.backend.Backend;
import io.transfuse.backend.Activation;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.Dequantize;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The BERT encoder (Devlin et al. 2019), post-LN: embeddings
 * {@code x = LN(word[id] + position[offset + i] + tokenType[type])}, then per layer
 * {@code x = LN(x + Wo · attention(Wq x + bq, Wk x + bk, Wv x + bv) + bo)} and
 * {@code x = LN(x + W2 · gelu(W1 x + b1) + b2)}. Attention is bidirectional within each sequence of a
 * padded batch; padded rows are computed but never attended to. Returns the last hidden state.
 *
 * <p>Q, K and V are one fused [3·hidden][hidden] matmul (their weights are concatenated once at load,
 * a copy in the model's arena). Activations live in a workspace sized at construction for
 * {@code maxTokens} rows (batch × padded length); nothing is allocated per call. Not thread-safe.
 */
public final class BertModel implements EncoderGraph {
    private final BertConfig c;
    private final BertWeights w;
    private final Backend ops;
    private final int maxTokens;
    private final Tensor[] qkv, wo, wUp, wDown; // matmul weights as the backend prepared them
    private final MemorySegment[] qkvBias;
    private final MemorySegment embNormW, embNormB;
    private final MemorySegment[][] f32; // per layer: attnOutBias, attnNormW, attnNormB, interBias, outBias, outNormW, outNormB
    // Workspace: x the hidden state [T][H]; tmp [T][H]; qkvBuf [T][3H]; ctx [T][H]; inter [T][I]; ids/positions/types int32 [T].
    private final MemorySegment x, tmp, qkvBuf, ctx, inter, ids, positions, types, lengths;
    private final int maxBatch;

    public BertModel(BertConfig config, BertWeights weights, Backend ops, TrackedArena arena, int maxTokens) {
        if (maxTokens < config.maxSequence()) throw new IllegalArgumentException("maxTokens must hold one sequence of " + config.maxSequence());
        this.c = config;
        this.w = weights;
        this.ops = ops;
        this.maxTokens = maxTokens;
        this.maxBatch = maxTokens;
        int h = c.hidden();
        qkv = new Tensor[c.layers()];
        qkvBias = new MemorySegment[c.layers()];
        f32 = new MemorySegment[c.layers()][];
        wo = new Tensor[c.layers()];
        wUp = new Tensor[c.layers()];
        wDown = new Tensor[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            BertWeights.Layer L = w.layers()[l];
            // The fused copy is staged in a scratch arena: the backend may prepare it into another layout.
            try (TrackedArena scratch = new TrackedArena("BERT layer " + l + " QKV staging")) {
                Tensor fused = stackRows("layer " + l + " fused QKV", scratch, L.query(), L.key(), L.value());
                Tensor prepared = ops.prepareMatmulWeight(fused, arena);
                qkv[l] = prepared != fused ? prepared : stackRows(fused.name(), arena, fused);
            }
            wo[l] = ops.prepareMatmulWeight(L.attentionOutput(), arena);
            wUp[l] = ops.prepareMatmulWeight(L.intermediate(), arena);
            wDown[l] = ops.prepareMatmulWeight(L.output(), arena);
            qkvBias[l] = arena.allocateFloats(3L * h);
            MemorySegment.copy(Dequantize.toF32(L.queryBias(), arena), 0, qkvBias[l], 0, 4L * h);
            MemorySegment.copy(Dequantize.toF32(L.keyBias(), arena), 0, qkvBias[l], 4L * h, 4L * h);
            MemorySegment.copy(Dequantize.toF32(L.valueBias(), arena), 0, qkvBias[l], 8L * h, 4L * h);
            f32[l] = new MemorySegment[] {
                    Dequantize.toF32(L.attentionOutputBias(), arena), Dequantize.toF32(L.attentionNormWeight(), arena),
                    Dequantize.toF32(L.attentionNormBias(), arena), Dequantize.toF32(L.intermediateBias(), arena),
                    Dequantize.toF32(L.outputBias(), arena), Dequantize.toF32(L.outputNormWeight(), arena),
                    Dequantize.toF32(L.outputNormBias(), arena)};
        }
        embNormW = Dequantize.toF32(w.embeddingNormWeight(), arena);
        embNormB = Dequantize.toF32(w.embeddingNormBias(), arena);
        x = arena.allocateFloats((long) maxTokens * h);
        tmp = arena.allocateFloats((long) maxTokens * h);
        qkvBuf = arena.allocateFloats((long) maxTokens * 3 * h);
        ctx = arena.allocateFloats((long) maxTokens * h);
        inter = arena.allocateFloats((long) maxTokens * c.intermediate());
        ids = arena.allocate((long) maxTokens * 4);
        positions = arena.allocate((long) maxTokens * 4);
        types = arena.allocate((long) maxTokens * 4);
        lengths = arena.allocate((long) maxBatch * 4);
    }

    @Override
    public BertConfig config() { return c; }

    @Override
    public int maxTokens() { return maxTokens; }

    @Override
    public MemorySegment forward(int[][] tokenIds, int[][] typeIds, int seqLen) {
        int batch = tokenIds.length, h = c.hidden(), t = batch * seqLen;
        if (batch == 0 || seqLen <= 0 || (long) batch * seqLen > maxTokens) {
            throw new IllegalArgumentException("batch " + batch + " x seqLen " + seqLen + " exceeds the workspace of " + maxTokens + " rows");
        }
        if (seqLen > c.maxSequence()) throw new IllegalArgumentException("seqLen " + seqLen + " exceeds the model's " + c.maxSequence() + " positions");
        for (int b = 0; b < batch; b++) {
            int len = tokenIds[b].length;
            if (len > seqLen) throw new IllegalArgumentException("sequence " + b + " has " + len + " tokens, more than seqLen " + seqLen);
            lengths.setAtIndex(ValueLayout.JAVA_INT, b, len);
            for (int i = 0; i < seqLen; i++) {
                long r = (long) b * seqLen + i;
                int id = i < len ? tokenIds[b][i] : 0, type = i < len && typeIds != null ? typeIds[b][i] : 0;
                if (id < 0 || id >= c.vocabSize()) throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, " + c.vocabSize() + ")");
                if (type < 0 || type >= c.typeVocabSize()) throw new IllegalArgumentException("token type " + type + " is outside [0, " + c.typeVocabSize() + ")");
                ids.setAtIndex(ValueLayout.JAVA_INT, r, id);
                types.setAtIndex(ValueLayout.JAVA_INT, r, type);
                positions.setAtIndex(ValueLayout.JAVA_INT, r, c.positionOffset() + i);
            }
        }
        // Embeddings: word + position + token type, then LayerNorm.
        ops.embedding(x, w.wordEmbeddings().data(), w.wordEmbeddings().dtype(), ids, t, h);
        ops.embedding(tmp, w.positionEmbeddings().data(), w.positionEmbeddings().dtype(), positions, t, h);
        ops.add(x, x, tmp, (long) t * h);
        ops.embedding(tmp, w.tokenTypeEmbeddings().data(), w.tokenTypeEmbeddings().dtype(), types, t, h);
        ops.layerNorm(x, x, null, tmp, embNormW, embNormB, t, h, c.layerNormEps());
        for (int l = 0; l < c.layers(); l++) layer(l, batch, seqLen);
        return x;
    }

    private void layer(int l, int batch, int seqLen) {
        MemorySegment[] b = f32[l];
        int h = c.hidden(), t = batch * seqLen;
        float eps = c.layerNormEps();
        // Self-attention: fused QKV projection, bidirectional attention, output projection, residual + LN.
        ops.matmulBias(qkvBuf, x, qkv[l].data(), qkv[l].dtype(), t, h, 3 * h, qkvBias[l], Activation.IDENTITY);
        ops.attentionBidirectional(ctx, qkvBuf, qkvBuf.asSlice(4L * h), qkvBuf.asSlice(8L * h), lengths,
                batch, seqLen, c.heads(), c.headDim(), 3 * h);
        ops.matmul(tmp, ctx, wo[l].data(), wo[l].dtype(), t, h, h);
        ops.layerNorm(x, tmp, b[0], x, b[1], b[2], t, h, eps);
        // Feed-forward: W2 · gelu(W1 x + b1) + b2, residual + LN.
        ops.matmulBias(inter, x, wUp[l].data(), wUp[l].dtype(), t, h, c.intermediate(), b[3], Activation.GELU_ERF);
        ops.matmul(tmp, inter, wDown[l].data(), wDown[l].dtype(), t, c.intermediate(), h);
        ops.layerNorm(x, tmp, b[4], x, b[5], b[6], t, h, eps);
    }

    /** The blocks' rows stacked into one [sum of rows][in] tensor of their common type (a copy in arena). */
    private static Tensor stackRows(String name, TrackedArena arena, Tensor... blocks) {
        DType type = blocks[0].dtype();
        long rows = 0;
        for (Tensor b : blocks) {
            if (b.dtype() != type || b.dim(1) != blocks[0].dim(1)) {
                throw new ModelFormatException(name + ": " + blocks[0].describe() + " and " + b.describe()
                        + " cannot be stacked (different types or widths)");
            }
            rows += b.dim(0);
        }
        MemorySegment out = arena.allocate(type.bytesFor(rows * blocks[0].dim(1)));
        long at = 0;
        for (Tensor b : blocks) {
            long bytes = type.bytesFor(b.elementCount());
            MemorySegment.copy(b.data(), 0, out, at, bytes);
            at += bytes;
        }
        return new Tensor(name, type, new long[] {rows, blocks[0].dim(1)}, out);
    }
}
