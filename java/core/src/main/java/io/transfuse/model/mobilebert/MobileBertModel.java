package io.transfuse.model.mobilebert;

import io.transfuse.backend.Activation;
import io.transfuse.backend.Backend;
import io.transfuse.backend.Backend.WeightUse;
import io.transfuse.backend.EncoderBatch;
import io.transfuse.backend.Heads;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.EncoderGraph;
import io.transfuse.model.EncoderInputs;
import io.transfuse.model.HeadPadding;
import io.transfuse.model.mobilebert.MobileBertWeights.Pair;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.MemorySegment;

/**
 * MobileBERT (Sun et al. 2020, "MobileBERT: a Compact Task-Agnostic BERT"), once for every backend, as Hugging Face's
 * MobileBertModel computes it. It is not a configuration of {@link io.transfuse.model.EncoderStack}: its layer narrows
 * the residual stream through bottlenecks, runs several feed-forward blocks and normalises with NoNorm, so it is a
 * graph of its own over the same op set, batch and pooling. Per layer, with N(.) the NoNorm {@code x * w + b}:
 * <pre>
 *   b   = N(x Wb + bb)                  (bottleneck.input: the layer input, width t = intra_bottleneck_size)
 *   s   = N(x Ws + bs)                  (bottleneck.attention, shared by key and query; else key/query read b or x)
 *   a   = N(attention(q = s Wq, k = s Wk, v = x Wv) Wo + bo + b)
 *   a   = N(relu(a W1 + b1) W2 + b2 + a)     for each of the num_feedforward_networks - 1 stacked FFNs
 *   o   = N(relu(a Wi + bi) Wo2 + bo2 + a)   (intermediate, output)
 *   x   = N(o Wob + bob + x)            (output.bottleneck: back to the hidden width)
 * </pre>
 * Embeddings: the trigram input {@code [e(t+1), e(t), e(t-1)]} (zero past either end of the sequence) projected by
 * embedding_transformation to the hidden width, plus position and token-type rows, then N. Sequences are packed
 * without padding (a token's neighbours are its own sequence's), so a batch agrees with each text alone.
 * With normalization_type "layer_norm" (the teacher) every N is a LayerNorm: HF builds the embeddings' and the layer's last
 * output norm with torch's default epsilon 1e-5 and the others with layer_norm_eps ({@link #norm}).
 */
public final class MobileBertModel implements EncoderGraph {
    private record Dense(Tensor w, Tensor b) {}

    /** nn.LayerNorm's default epsilon: HF's MobileBertEmbeddings and MobileBertOutput build their norms without layer_norm_eps. */
    private static final float TORCH_DEFAULT_EPS = 1e-5f;

    private record Layer(Dense bottleneckIn, Dense bottleneckInNorm, Dense shared, Dense sharedNorm, Dense q, Dense k, Dense v, Dense o,
                         Dense attentionNorm, Dense[] ffnIn, Dense[] ffnOut, Dense[] ffnNorm, Dense outBottleneck, Dense outBottleneckNorm) {}

    private final MobileBertConfig c;
    private final Backend ops;
    private final EncoderBatch batch;
    private final Heads heads;
    private final float scale;
    private final Tensor word, position, tokenType;
    private final Dense[] transformation; // [next, current, previous] column blocks (trigram), or the one projection, or none
    private final Dense embeddingNorm;
    private final Layer[] layers;
    private final Tensor x, eNext, eCur, ePrev, emb, tmpH, layerIn, shared, q, k, v, att, a, tmpT, inter, ids, types;
    private final int[] hostIds, hostTypes, hostNext, hostPrev;
    private final float[] zeros, hidden;
    private boolean closed;

    /** Builds the graph on {@code ops}, which it owns from now on; padded or split weights live in {@code hostArena}. */
    public MobileBertModel(MobileBertConfig config, MobileBertWeights w, Backend ops, int maxTokens, int maxSequences, TrackedArena hostArena) {
        if (maxTokens < config.maxPositions()) throw new IllegalArgumentException("maxTokens must hold one sequence of " + config.maxPositions());
        this.c = config;
        this.ops = ops;
        DType act = ops.activationType();
        int d = c.headDim(), D = ops.attentionHeadDim(d, false), H = c.heads();
        heads = new Heads(H, H, D);
        scale = (float) (1.0 / Math.sqrt(d));
        word = ops.weight(w.word(), WeightUse.STREAMED);
        position = ops.upload(w.position(), act);
        tokenType = ops.upload(w.tokenType(), act);
        int e = c.embeddingSize();
        if (w.transformation() == null) {
            transformation = new Dense[0];
        } else if (c.trigramInput()) {
            transformation = new Dense[3];
            for (int i = 0; i < 3; i++) {
                Tensor block = columnBlock(w.transformation().weight(), (long) i * e, e, hostArena);
                transformation[i] = new Dense(ops.weight(block, WeightUse.BATCHED), i == 0 ? ops.upload(w.transformation().bias(), act) : null);
            }
        } else {
            transformation = new Dense[] {linear(w.transformation())};
        }
        embeddingNorm = vector(w.embeddingNorm());
        layers = new Layer[c.layers()];
        for (int l = 0; l < layers.length; l++) {
            MobileBertWeights.Layer L = w.layers()[l];
            int f = L.ffns().length;
            Dense[] fi = new Dense[f], fo = new Dense[f], fn = new Dense[f];
            for (int i = 0; i < f; i++) {
                fi[i] = linear(L.ffns()[i].in());
                fo[i] = linear(L.ffns()[i].out());
                fn[i] = vector(L.ffns()[i].norm());
            }
            // The feed-forward blocks' last one is the layer's own intermediate/output pair.
            Dense[] ffnIn = append(fi, linear(L.intermediate())), ffnOut = append(fo, linear(L.output())), ffnNorm = append(fn, vector(L.outputNorm()));
            layers[l] = new Layer(linear(L.bottleneckIn()), vector(L.bottleneckInNorm()), linear(L.sharedBottleneck()),
                    vector(L.sharedBottleneckNorm()), padded(L.query(), d, D, true, hostArena), padded(L.key(), d, D, true, hostArena),
                    padded(L.value(), d, D, true, hostArena), padded(L.attentionOutput(), d, D, false, hostArena), vector(L.attentionNorm()),
                    ffnIn, ffnOut, ffnNorm, linear(L.outBottleneck()), vector(L.outBottleneckNorm()));
        }
        batch = new EncoderBatch(ops, maxTokens, Math.min(maxTokens, Math.max(1, maxSequences)), 0);
        int h = c.hidden(), t = c.trueHidden();
        x = ops.allocate("hidden state", act, maxTokens, h);
        eCur = ops.allocate("token embeddings", act, maxTokens, e);
        eNext = c.trigramInput() ? ops.allocate("next token embeddings", act, maxTokens, e) : null;
        ePrev = c.trigramInput() ? ops.allocate("previous token embeddings", act, maxTokens, e) : null;
        emb = transformation.length > 0 ? ops.allocate("projected embeddings", act, maxTokens, h) : eCur;
        tmpH = ops.allocate("hidden-width terms", act, maxTokens, h);
        layerIn = c.useBottleneck() ? ops.allocate("bottleneck input", act, maxTokens, t) : null;
        shared = ops.allocate("shared key/query bottleneck", act, maxTokens, t);
        q = ops.allocate("queries", act, maxTokens, heads.qWidth());
        k = ops.allocate("keys", act, maxTokens, heads.qWidth());
        v = ops.allocate("values", act, maxTokens, heads.qWidth());
        att = ops.allocate("attention outputs", act, maxTokens, heads.qWidth());
        a = ops.allocate("attention block output", act, maxTokens, t);
        tmpT = ops.allocate("block terms", act, maxTokens, t);
        inter = ops.allocate("feed-forward hidden", act, maxTokens, c.intermediate());
        ids = ops.allocate("token ids", DType.I32, 3L * maxTokens, 1);
        types = ops.allocate("token types", DType.I32, maxTokens, 1);
        hostIds = new int[maxTokens];
        hostTypes = new int[maxTokens];
        hostNext = new int[maxTokens];
        hostPrev = new int[maxTokens];
        zeros = new float[e];
        hidden = new float[Math.multiplyExact(maxTokens, h)];
    }

    public MobileBertConfig config() { return c; }

    @Override
    public String describe() {
        return "hidden " + c.hidden() + ", " + c.layers() + " layers, " + c.heads() + " heads, bottleneck " + c.trueHidden() + ", "
                + c.ffnCount() + " FFNs per layer, embeddings " + c.embeddingSize() + (c.trigramInput() ? " (trigram)" : "") + (c.layerNorm() ? ", LayerNorm" : "")
                + " (mobilebert, on " + ops.name() + ")";
    }

    @Override public int dimension() { return c.hidden(); }

    @Override public int maxSequenceLength() { return c.maxPositions(); }

    @Override public int maxBatchTokens() { return batch.maxTokens(); }

    @Override public int maxBatchSequences() { return batch.maxSequences(); }

    @Override
    public float[] forward(int[][] tokenIds, int[][] typeIds) {
        if (closed) throw new IllegalStateException("encoder " + c.source() + " was closed");
        int n = EncoderInputs.pack(batch, tokenIds, typeIds, c.maxPositions(), c.vocabSize(), c.typeVocabSize(), hostIds, hostTypes);
        // The trigram's neighbours stay inside the sequence: ids at the ends are placeholders whose rows are zeroed below.
        for (int b = 0; b < batch.sequences(); b++) {
            int s0 = batch.start(b), len = batch.length(b);
            for (int i = 0; i < len; i++) {
                hostNext[s0 + i] = i + 1 < len ? hostIds[s0 + i + 1] : 0;
                hostPrev[s0 + i] = i > 0 ? hostIds[s0 + i - 1] : 0;
            }
        }
        embed(n);
        for (Layer L : layers) layer(L, n);
        ops.read(x.rows(0, n), hidden, 0, n * c.hidden());
        return hidden;
    }

    private void embed(int n) {
        int e = c.embeddingSize();
        ops.write(ids, hostIds, 0, n);
        ops.write(types, hostTypes, 0, n);
        Tensor cur = eCur.rows(0, n), out = emb.rows(0, n), tmp = tmpH.rows(0, n);
        ops.gatherRows(cur, word, ids.rows(0, n).reshape(n));
        if (c.trigramInput()) {
            Tensor next = eNext.rows(0, n), prev = ePrev.rows(0, n);
            ops.write(ids.rows(n, n), hostNext, 0, n);
            ops.write(ids.rows(2L * n, n), hostPrev, 0, n);
            ops.gatherRows(next, word, ids.rows(n, n).reshape(n));
            ops.gatherRows(prev, word, ids.rows(2L * n, n).reshape(n));
            for (int b = 0; b < batch.sequences(); b++) {
                ops.write(eNext.row(batch.start(b) + batch.length(b) - 1), zeros, 0, e);
                ops.write(ePrev.row(batch.start(b)), zeros, 0, e);
            }
            // [next, current, previous] W^T + bias as three products of the weight's column blocks.
            ops.linear(out, next, transformation[0].w, transformation[0].b, Activation.IDENTITY);
            ops.matmul(tmp, cur, transformation[1].w);
            ops.add(out, out, tmp);
            ops.matmul(tmp, prev, transformation[2].w);
            ops.add(out, out, tmp);
        } else if (transformation.length == 1) {
            ops.linear(out, cur, transformation[0].w, transformation[0].b, Activation.IDENTITY);
        }
        ops.gatherRows(tmp, position, batch.positions());
        ops.add(out, out, tmp);
        ops.gatherRows(tmp, tokenType, types.rows(0, n).reshape(n));
        ops.add(out, out, tmp);
        norm(x.rows(0, n), null, out, embeddingNorm, TORCH_DEFAULT_EPS);
    }

    private void layer(Layer L, int n) {
        Tensor x = this.x.rows(0, n), a = this.a.rows(0, n), tmpT = this.tmpT.rows(0, n), tmpH = this.tmpH.rows(0, n);
        Tensor input = x, qk = x, vIn = x;
        if (c.useBottleneck()) {
            input = layerIn.rows(0, n);
            ops.linear(input, x, L.bottleneckIn.w, L.bottleneckIn.b, Activation.IDENTITY);
            norm(input, null, input, L.bottleneckInNorm, c.layerNormEps());
            if (c.useBottleneckAttention()) {
                qk = vIn = input;
            } else if (c.keyQuerySharedBottleneck()) {
                qk = shared.rows(0, n);
                ops.linear(qk, x, L.shared.w, L.shared.b, Activation.IDENTITY);
                norm(qk, null, qk, L.sharedNorm, c.layerNormEps());
            }
        }
        Tensor q = this.q.rows(0, n), k = this.k.rows(0, n), v = this.v.rows(0, n), att = this.att.rows(0, n);
        ops.linear(q, qk, L.q.w, L.q.b, Activation.IDENTITY);
        ops.linear(k, qk, L.k.w, L.k.b, Activation.IDENTITY);
        ops.linear(v, vIn, L.v.w, L.v.b, Activation.IDENTITY);
        ops.attentionVarlen(att, q, k, v, heads, batch, scale, false);
        ops.linear(tmpT, att, L.o.w, L.o.b, Activation.IDENTITY);
        norm(a, tmpT, input, L.attentionNorm, c.layerNormEps()); // a = N(attention + layer input)
        Tensor inter = this.inter.rows(0, n);
        int last = L.ffnIn.length - 1;
        for (int i = 0; i <= last; i++) {
            ops.linear(inter, a, L.ffnIn[i].w, L.ffnIn[i].b, c.relu() ? Activation.RELU : Activation.GELU_ERF);
            ops.linear(tmpT, inter, L.ffnOut[i].w, L.ffnOut[i].b, Activation.IDENTITY);
            if (i < last) {
                norm(a, tmpT, a, L.ffnNorm[i], c.layerNormEps());
            } else if (c.useBottleneck()) {
                norm(tmpT, tmpT, a, L.ffnNorm[i], TORCH_DEFAULT_EPS);
                ops.linear(tmpH, tmpT, L.outBottleneck.w, L.outBottleneck.b, Activation.IDENTITY);
                norm(x, x, tmpH, L.outBottleneckNorm, c.layerNormEps());
            } else {
                norm(x, tmpT, a, L.ffnNorm[i], TORCH_DEFAULT_EPS);
            }
        }
    }

    /** N: NoNorm ({@code x * w + b}), or a LayerNorm with {@code eps} for normalization_type "layer_norm"; the residual contract of both ops. */
    private void norm(Tensor out, Tensor residual, Tensor x, Dense n, float eps) {
        if (c.layerNorm()) ops.layerNorm(out, residual, x, n.w, n.b, eps);
        else ops.noNorm(out, residual, x, n.w, n.b);
    }

    private Dense linear(Pair p) {
        return p == null ? null : new Dense(ops.weight(p.weight(), WeightUse.BATCHED), ops.upload(p.bias(), ops.activationType()));
    }

    private Dense vector(Pair p) {
        return p == null ? null : new Dense(ops.upload(p.weight(), ops.activationType()), ops.upload(p.bias(), ops.activationType()));
    }

    /** Q/K/V (rows, per head) or the output projection (columns) padded from head dim d to the backend's D. */
    private Dense padded(Pair p, int d, int D, boolean rows, TrackedArena arena) {
        if (D == d) return linear(p);
        int H = c.heads();
        Tensor w = rows ? HeadPadding.rows(p.weight(), H, d, D, arena) : HeadPadding.columns(p.weight(), H, d, D, arena);
        Tensor b = rows ? HeadPadding.vector(p.bias(), H, d, D, arena) : p.bias();
        return new Dense(ops.weight(w, WeightUse.BATCHED), ops.upload(b, ops.activationType()));
    }

    private static Dense[] append(Dense[] a, Dense last) {
        Dense[] r = java.util.Arrays.copyOf(a, a.length + 1);
        r[a.length] = last;
        return r;
    }

    /** Columns [first, first + count) of the [rows][cols] weight w, as a contiguous copy in {@code arena}. */
    static Tensor columnBlock(Tensor w, long first, int count, TrackedArena arena) {
        long rows = w.rows(), rowBytes = w.dtype().bytesFor(count), stride = w.dtype().bytesFor(w.rowStride());
        long offset = w.dtype().bytesFor(first);
        MemorySegment out = arena.allocate(rows * rowBytes);
        for (long r = 0; r < rows; r++) MemorySegment.copy(w.data(), r * stride + offset, out, r * rowBytes, rowBytes);
        return new Tensor(w.name() + "[:, " + first + ":" + (first + count) + "]", w.dtype(), new long[] {rows, count}, out);
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        ops.close();
    }
}
