package io.transfuse.cuda.encoder;

import io.transfuse.cuda.runtime.ElemType;
import io.transfuse.cuda.runtime.GpuRuntime;
import io.transfuse.cuda.runtime.GpuStream;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.bert.BertConfig;
import io.transfuse.model.bert.BertWeights;
import io.transfuse.model.bert.EncoderGraph;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * A BERT-family encoder stack (BERT, RoBERTa, MiniLM, BGE, E5) on a GPU runtime: the token
 * embeddings ({@link CudaTokenEmbeddings}) and the post-LN layers ({@link CudaEncoder}) run on the
 * device in {@code dtype} (fp32 accumulation), the last hidden state comes back as f32. The padded
 * batch {@link io.transfuse.EmbeddingModel} hands in is packed on the way in (padding never reaches
 * the device: the varlen attention sees each sequence alone) and unpacked on the way out, so pooling
 * on the host reads the same layout as from the CPU graph. Owns the runtime when
 * {@link #owningRuntime()} was called; closing frees every device byte it took.
 */
public final class CudaBertModel implements EncoderGraph {
    private final BertConfig c;
    private final GpuRuntime rt;
    private final int maxTokens;
    private final CudaTokenEmbeddings embeddings;
    private final CudaEncoder encoder;
    private final TrackedArena host;
    private final MemorySegment packed, padded;
    private boolean ownsRuntime, closed;

    /** @param maxTokens rows (batch × padded length) per call: sizes the device workspace */
    public CudaBertModel(GpuRuntime runtime, BertConfig config, BertWeights w, ElemType dtype, int maxTokens) {
        if (maxTokens < config.maxSequence()) throw new IllegalArgumentException("maxTokens must hold one sequence of " + config.maxSequence());
        this.c = config;
        this.rt = runtime;
        this.maxTokens = maxTokens;
        String name = config.source();
        this.host = new TrackedArena("CUDA encoder host buffers of " + name);
        EncoderConfig ec = EncoderConfig.of(c.hidden(), c.heads(), c.intermediate(), c.layerNormEps(), EncoderConvention.POST_LN);
        List<EncoderLayerWeights> layers = new ArrayList<>();
        for (BertWeights.Layer L : w.layers()) {
            // Mapping per EncoderLayerWeights' table (post-LN: attention.output.LayerNorm, output.LayerNorm).
            layers.add(new EncoderLayerWeights(L.query(), L.queryBias(), L.key(), L.keyBias(), L.value(), L.valueBias(),
                    L.attentionOutput(), L.attentionOutputBias(), L.attentionNormWeight(), L.attentionNormBias(),
                    L.intermediate(), L.intermediateBias(), L.output(), L.outputBias(), L.outputNormWeight(), L.outputNormBias()));
        }
        CudaTokenEmbeddings emb = null;
        try {
            emb = new CudaTokenEmbeddings(runtime, name, w.wordEmbeddings(), w.positionEmbeddings(), w.tokenTypeEmbeddings(),
                    w.embeddingNormWeight(), w.embeddingNormBias(), c.layerNormEps(), c.positionOffset(), dtype, maxTokens);
            this.encoder = new CudaEncoder(runtime, name, ec, layers, null, null, dtype, maxTokens, maxTokens);
            this.embeddings = emb;
            long bytes = (long) maxTokens * c.hidden() * Float.BYTES;
            packed = host.allocate(bytes);
            padded = host.allocate(bytes);
        } catch (RuntimeException e) {
            if (emb != null) emb.close();
            host.close();
            throw e;
        }
    }

    /** Makes {@link #close()} also close the runtime (the provider creates one per model). */
    public CudaBertModel owningRuntime() {
        ownsRuntime = true;
        return this;
    }

    @Override
    public BertConfig config() { return c; }

    @Override
    public int maxTokens() { return maxTokens; }

    /** Device bytes held (weights, embedding tables, workspace). */
    public long deviceBytes() { return embeddings.deviceBytes() + encoder.deviceBytes(); }

    @Override
    public MemorySegment forward(int[][] tokenIds, int[][] typeIds, int seqLen) {
        if (closed) throw new IllegalStateException("encoder " + c.source() + " was closed");
        int batch = tokenIds.length;
        if (batch == 0 || seqLen <= 0 || (long) batch * seqLen > maxTokens) {
            throw new IllegalArgumentException("batch " + batch + " x seqLen " + seqLen + " exceeds the workspace of " + maxTokens + " rows");
        }
        if (seqLen > c.maxSequence()) throw new IllegalArgumentException("seqLen " + seqLen + " exceeds the model's " + c.maxSequence() + " positions");
        if (typeIds != null && typeIds.length != batch) throw new IllegalArgumentException(typeIds.length + " token type arrays for " + batch + " sequences");
        // An empty sequence still runs one (padding) token: the device batch has no empty sequences, and pooling reads none of it.
        int[] lengths = new int[batch];
        for (int b = 0; b < batch; b++) {
            int len = tokenIds[b].length;
            if (len > seqLen) throw new IllegalArgumentException("sequence " + b + " has " + len + " tokens, more than seqLen " + seqLen);
            if (typeIds != null && typeIds[b] != null && typeIds[b].length != len) {
                throw new IllegalArgumentException("sequence " + b + " has " + len + " tokens but " + typeIds[b].length + " token types");
            }
            lengths[b] = Math.max(1, len);
        }
        EncoderBatch eb = EncoderBatch.of(lengths);
        int[] ids = new int[eb.tokens()], types = new int[eb.tokens()];
        for (int b = 0; b < batch; b++) {
            for (int i = 0; i < tokenIds[b].length; i++) {
                int id = tokenIds[b][i];
                if (id < 0 || id >= c.vocabSize()) throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, " + c.vocabSize() + ")");
                ids[eb.offset(b) + i] = id;
                if (typeIds != null && typeIds[b] != null) types[eb.offset(b) + i] = typeIds[b][i];
            }
        }
        GpuStream s = rt.defaultStream();
        encoder.workspace().setBatch(s, eb);
        embeddings.embed(s, encoder.workspace(), eb, ids, types); // checks the token types against the table
        encoder.forwardOnDevice();
        encoder.download(eb, packed);
        long row = (long) c.hidden() * Float.BYTES;
        for (int b = 0; b < batch; b++) {
            MemorySegment.copy(packed, eb.offset(b) * row, padded, (long) b * seqLen * row, eb.length(b) * row);
        }
        return padded;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        try {
            encoder.close();
            embeddings.close();
            host.close();
        } finally {
            if (ownsRuntime) rt.close();
        }
    }
}
