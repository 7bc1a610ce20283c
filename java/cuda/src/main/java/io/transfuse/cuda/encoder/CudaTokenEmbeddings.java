package io.transfuse.cuda.encoder;

import io.transfuse.backend.Activation;
import io.transfuse.cuda.kernels.KernelLibrary;
import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.cuda.memory.DeviceBuffer;
import io.transfuse.cuda.runtime.ElemType;
import io.transfuse.cuda.runtime.GpuRuntime;
import io.transfuse.cuda.runtime.GpuStream;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * BERT-style input embeddings on the device, written straight into an encoder's residual stream:
 * <pre>
 *   x[t] = LN(word[ids[t]] + position[positionOffset + i] + tokenType[types[t]])   (i = t's index in its sequence)
 * </pre>
 * with tf_embedding gathers, tf_bias_act residual adds and tf_layernorm. The token-type table is
 * optional (DistilBERT has none); {@code positionOffset} is 0 for BERT and padding_idx + 1 = 2 for
 * RoBERTa / XLM-R. Ids are checked in Java before upload. Owns its device memory until closed.
 */
public final class CudaTokenEmbeddings implements AutoCloseable {
    private final int dim, vocab, positions, types, positionOffset, maxTokens;
    private final float eps;
    private final ElemType t;
    private final GpuRuntime rt;
    private final DeviceArena arena;
    private final DeviceBuffer word, position, tokenType, norm, normBias, idsDev, posDev, typeDev;
    private final MemorySegment hostInts;

    /** @param tokenType [types][dim] or null for none */
    public CudaTokenEmbeddings(GpuRuntime runtime, String name, Tensor word, Tensor position, Tensor tokenType, Tensor norm,
                               Tensor normBias, float eps, int positionOffset, ElemType dtype, int maxTokens) {
        if (word == null || position == null || norm == null || normBias == null) {
            throw new IllegalArgumentException(name + ": word and position embeddings and the LayerNorm weight and bias are required");
        }
        if (word.rank() != 2 || position.rank() != 2 || (tokenType != null && tokenType.rank() != 2)) {
            throw new IllegalArgumentException(name + ": embedding tables must be [rows][dim]: word " + word.describe() + ", position "
                    + position.describe() + (tokenType != null ? ", token type " + tokenType.describe() : ""));
        }
        this.dim = (int) word.dim(1);
        if (position.dim(1) != dim || (tokenType != null && tokenType.dim(1) != dim) || norm.elementCount() != dim || normBias.elementCount() != dim) {
            throw new IllegalArgumentException(name + ": every embedding table and the LayerNorm must have width " + dim + " (the word table's): position "
                    + position.describe() + (tokenType != null ? ", token type " + tokenType.describe() : "") + ", norm " + norm.describe()
                    + ", norm bias " + normBias.describe());
        }
        if (dtype == ElemType.F32) throw new IllegalArgumentException(name + ": embeddings are uploaded as f16 or bf16, not f32");
        if (positionOffset < 0 || positionOffset >= position.dim(0)) throw new IllegalArgumentException(name + ": position offset " + positionOffset + " outside the table");
        if (maxTokens < 1) throw new IllegalArgumentException(name + ": max tokens must be positive, got " + maxTokens);
        this.vocab = (int) word.dim(0);
        this.positions = (int) position.dim(0);
        this.types = tokenType == null ? 0 : (int) tokenType.dim(0);
        this.positionOffset = positionOffset;
        this.maxTokens = maxTokens;
        this.eps = eps;
        this.t = dtype;
        this.rt = runtime;
        this.arena = new DeviceArena(runtime, "CUDA embeddings " + name);
        try {
            this.word = CudaEncoderLayer.matrix(arena, name + " word embeddings", dtype, word, vocab, dim);
            this.position = CudaEncoderLayer.matrix(arena, name + " position embeddings", dtype, position, positions, dim);
            this.tokenType = tokenType == null ? null : CudaEncoderLayer.matrix(arena, name + " token type embeddings", dtype, tokenType, types, dim);
            this.norm = CudaEncoderLayer.vector(arena, name + " embedding LayerNorm weight", dtype, norm, dim);
            this.normBias = CudaEncoderLayer.vector(arena, name + " embedding LayerNorm bias", dtype, normBias, dim);
            long intBytes = (long) maxTokens * Integer.BYTES;
            idsDev = arena.allocate(name + " token ids", intBytes);
            posDev = arena.allocate(name + " position ids", intBytes);
            typeDev = arena.allocate(name + " token type ids", intBytes);
            hostInts = arena.allocatePinned(3 * intBytes);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Writes the embeddings of {@code tokenIds} (packed as {@code batch}, which must be the batch set
     * on {@code ws}) into the residual stream of {@code ws}. {@code typeIds}: one per token, or null for
     * all type 0; without a token-type table only type 0 is accepted.
     */
    public void embed(GpuStream s, EncoderWorkspace ws, EncoderBatch batch, int[] tokenIds, int[] typeIds) {
        int n = batch.tokens();
        if (ws.batch() != batch) throw new IllegalArgumentException("embed: the batch is not the one set on the workspace (call setBatch first)");
        if (ws.config.dim() != dim || ws.dtype != t) throw new IllegalArgumentException("embed: workspace of " + ws.config.dim() + " " + ws.dtype + " does not match embeddings of " + dim + " " + t);
        if (n > maxTokens) throw new IllegalArgumentException(n + " tokens exceed the " + maxTokens + " the embeddings were planned for");
        if (tokenIds.length != n) throw new IllegalArgumentException("embed: " + tokenIds.length + " token ids for a batch of " + n + " tokens");
        if (typeIds != null && typeIds.length != n) throw new IllegalArgumentException("embed: " + typeIds.length + " token type ids for a batch of " + n + " tokens");
        int[] pos = new int[n], tt = new int[n];
        for (int b = 0; b < batch.size(); b++) {
            for (int i = 0; i < batch.length(b); i++) {
                int at = batch.offset(b) + i, p = positionOffset + i;
                if (p >= positions) throw new IllegalArgumentException("sequence " + b + " is longer than the " + (positions - positionOffset) + " positions of the model");
                pos[at] = p;
            }
        }
        for (int i = 0; i < n; i++) {
            if (tokenIds[i] < 0 || tokenIds[i] >= vocab) throw new IllegalArgumentException("token id " + tokenIds[i] + " at " + i + " is outside the vocabulary of " + vocab);
            int type = typeIds == null ? 0 : typeIds[i];
            if (type != 0 && (type < 0 || type >= this.types)) throw new IllegalArgumentException("token type " + type + " at " + i + " is outside the " + this.types + " token types");
            tt[i] = type;
        }
        long bytes = (long) n * Integer.BYTES;
        put(s, tokenIds, 0, idsDev, bytes);
        put(s, pos, bytes, posDev, bytes);
        put(s, tt, 2 * bytes, typeDev, bytes);
        KernelLibrary kk = rt.kernels();
        long x = ws.x.address(), tmp = ws.proj.address();
        kk.embedding(s, x, idsDev.address(), word.address(), n, dim, vocab, t);
        kk.embedding(s, tmp, posDev.address(), position.address(), n, dim, positions, t);
        kk.biasAct(s, x, tmp, 0, x, n, dim, 0, Activation.IDENTITY, t);
        if (tokenType != null) {
            kk.embedding(s, tmp, typeDev.address(), tokenType.address(), n, dim, types, t);
            kk.biasAct(s, x, tmp, 0, x, n, dim, 0, Activation.IDENTITY, t);
        }
        kk.layernorm(s, x, 0, x, norm.address(), normBias.address(), n, dim, eps, t);
    }

    private void put(GpuStream s, int[] values, long at, DeviceBuffer dst, long bytes) {
        long to = dst.address(0, bytes);  // first: after close this names the released buffer
        MemorySegment.copy(values, 0, hostInts, ValueLayout.JAVA_INT, at, values.length);
        rt.copyHostToDevice(s, hostInts.asSlice(at, bytes), to, bytes);
    }

    /** Device bytes held. */
    public long deviceBytes() { return arena.bytes(); }

    @Override
    public void close() { arena.close(); }
}
