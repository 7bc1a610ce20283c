package io.transfuse.model.bert;

import io.transfuse.backend.Activation;
import io.transfuse.backend.Backend;
import io.transfuse.backend.Backend.WeightUse;
import io.transfuse.backend.EncoderBatch;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.EncoderGraph;
import io.transfuse.model.EncoderInputs;
import io.transfuse.model.EncoderStack;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The BERT encoder (Devlin et al. 2019), once for every backend: embeddings
 * {@code e = LN(word[id] + position[offset + i] + tokenType[type])} (no token-type term for DistilBERT),
 * {@code x = e} or, where the embeddings are narrower than the layers (ALBERT, small ELECTRAs),
 * {@code x = e P^T + p}; then the post-LN {@link EncoderStack} (ALBERT's shared layers run the same weights). Sequences are packed without padding; the last hidden state comes back to the
 * host for pooling. Activations live in a workspace planned at load for {@code maxTokens} rows.
 */
public final class BertModel implements EncoderGraph {
    private final BertConfig c;
    private final Backend ops;
    private final EncoderBatch batch;
    private final EncoderStack stack;
    private final Tensor word, position, tokenType, normW, normB, projection, projectionBias;
    private final Tensor x, emb, tmp, ids, types;
    private final int[] hostIds, hostTypes;
    private final float[] hidden;
    private boolean closed;

    /**
     * Builds the graph on {@code ops}, which it owns from now on (closed with it).
     *
     * @param hostArena the model's arena (host copies the backend may read in place live there)
     */
    public BertModel(BertConfig config, BertWeights w, Backend ops, int maxTokens, int maxSequences, TrackedArena hostArena) {
        if (maxTokens < config.maxSequence()) throw new IllegalArgumentException("maxTokens must hold one sequence of " + config.maxSequence());
        this.c = config;
        this.ops = ops;
        DType act = ops.activationType();
        word = ops.weight(w.wordEmbeddings(), WeightUse.STREAMED);
        position = ops.upload(w.positionEmbeddings(), act);
        tokenType = w.tokenTypeEmbeddings() == null ? null : ops.upload(w.tokenTypeEmbeddings(), act);
        normW = ops.upload(w.embeddingNormWeight(), act);
        normB = ops.upload(w.embeddingNormBias(), act);
        projection = w.projection() == null ? null : ops.weight(w.projection(), WeightUse.BATCHED);
        projectionBias = w.projectionBias() == null ? null : ops.upload(w.projectionBias(), act);
        List<EncoderStack.LayerWeights> layers = new ArrayList<>();
        Map<BertWeights.Layer, EncoderStack.LayerWeights> shared = new IdentityHashMap<>();
        for (BertWeights.Layer L : w.layers()) {
            // Post-LN: attention.output.LayerNorm closes the attention block, output.LayerNorm the FFN block.
            // The same Layer object (ALBERT's shared weights) maps to the same LayerWeights, uploaded once by the stack.
            layers.add(shared.computeIfAbsent(L, k -> new EncoderStack.LayerWeights(L.query(), L.queryBias(), L.key(), L.keyBias(), L.value(), L.valueBias(),
                    L.attentionOutput(), L.attentionOutputBias(), L.attentionNormWeight(), L.attentionNormBias(),
                    L.intermediate(), L.intermediateBias(), L.output(), L.outputBias(), L.outputNormWeight(), L.outputNormBias())));
        }
        stack = new EncoderStack(ops, c.source(), layers, EncoderStack.Norm.POST, c.activation(), c.hidden(), c.heads(), c.intermediate(),
                c.layerNormEps(), maxTokens, hostArena);
        batch = new EncoderBatch(ops, maxTokens, Math.min(maxTokens, Math.max(1, maxSequences)), c.positionOffset());
        x = ops.allocate("hidden state", act, maxTokens, c.hidden());
        emb = c.projectsEmbeddings() ? ops.allocate("embeddings", act, maxTokens, c.embeddingSize()) : x;
        tmp = ops.allocate("embedding terms", act, maxTokens, c.embeddingSize());
        ids = ops.allocate("token ids", DType.I32, maxTokens, 1);
        types = ops.allocate("token types", DType.I32, maxTokens, 1);
        hostIds = new int[maxTokens];
        hostTypes = new int[maxTokens];
        hidden = new float[Math.multiplyExact(maxTokens, c.hidden())];
    }

    public BertConfig config() { return c; }

    @Override
    public String describe() {
        return "hidden " + c.hidden() + ", " + c.layers() + " layers, " + c.heads() + " heads, intermediate " + c.intermediate()
                + (c.projectsEmbeddings() ? ", embeddings " + c.embeddingSize() : "")
                + (c.layerGroups() < c.layers() ? ", " + c.layerGroups() + " shared layer group(s)" : "")
                + " (" + c.modelType() + ", on " + ops.name() + ")";
    }

    @Override public int dimension() { return c.hidden(); }

    @Override public int maxSequenceLength() { return c.maxSequence(); }

    @Override public int maxBatchTokens() { return batch.maxTokens(); }

    @Override public int maxBatchSequences() { return batch.maxSequences(); }

    @Override
    public float[] forward(int[][] tokenIds, int[][] typeIds) {
        if (closed) throw new IllegalStateException("encoder " + c.source() + " was closed");
        int n = EncoderInputs.pack(batch, tokenIds, typeIds, c.maxSequence(), c.vocabSize(), Math.max(1, c.typeVocabSize()), hostIds, hostTypes);
        ops.write(ids, hostIds, 0, n);
        ops.write(types, hostTypes, 0, n);
        Tensor x = this.x.rows(0, n), e = this.emb.rows(0, n), tmp = this.tmp.rows(0, n);
        ops.gatherRows(e, word, ids.rows(0, n).reshape(n));
        ops.gatherRows(tmp, position, batch.positions());
        if (tokenType != null) {
            ops.add(e, e, tmp);
            ops.gatherRows(tmp, tokenType, types.rows(0, n).reshape(n));
        }
        ops.layerNorm(e, e, tmp, normW, normB, c.layerNormEps());
        if (projection != null) ops.linear(x, e, projection, projectionBias, Activation.IDENTITY);
        stack.forward(x, batch);
        ops.read(x, hidden, 0, n * c.hidden());
        return hidden;
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        ops.close();
    }
}
