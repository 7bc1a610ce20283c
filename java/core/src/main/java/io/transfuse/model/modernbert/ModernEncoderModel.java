package io.transfuse.model.modernbert;

import io.transfuse.backend.Activation;
import io.transfuse.backend.Backend;
import io.transfuse.backend.Backend.WeightUse;
import io.transfuse.backend.EncoderBatch;
import io.transfuse.backend.Heads;
import io.transfuse.backend.Rope;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.EncoderGraph;
import io.transfuse.model.EncoderInputs;
import io.transfuse.model.HeadPadding;
import io.transfuse.model.modernbert.ModernEncoderConfig.Layout;
import io.transfuse.model.modernbert.ModernEncoderWeights.Pair;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The encoders with relative positions and gated feed-forward blocks (ModernBERT, nomic-bert, JinaBERT v2), once for every
 * backend. Not a configuration of {@link io.transfuse.model.EncoderStack}: positions enter inside attention (RoPE on Q and
 * K, or an ALiBi bias), some layers attend through a window, and the feed-forward block is a GLU. Per layer:
 * <pre>
 *   pre-LN  (ModernBERT):  x = x + attn(LN1(x)) Wo;         x = x + (act(LN2(x) Wg) * LN2(x) Wu) Wd      (LN1 absent in layer 0)
 *   post-LN (nomic, Jina): x = LN1(x + attn(x) Wo + bo);    x = LN2(x + (act(x Wg + bg) * (x Wu + bu)) Wd + bd)
 *   attn(h) = softmax(scale q k^T + mask) v,  q, k = RoPE(h Wq, h Wk) (ModernBERT, nomic) or ALiBi -slope |i - j| (Jina),
 *             mask: |i - j| &lt; window on ModernBERT's local layers
 * </pre>
 * Embeddings: {@code LN(word[id] (+ tokenType[type]))}; ModernBERT ends with a final LN. Sequences are packed without
 * padding; positions restart at 0 in each, so a batch agrees with each text alone.
 */
public final class ModernEncoderModel implements EncoderGraph {
    private record Dense(Tensor w, Tensor b) {}

    private record Layer(Dense norm1, Dense q, Dense k, Dense v, Dense o, Dense norm2, Dense gate, Dense up, Dense down) {}

    private final ModernEncoderConfig c;
    private final Backend ops;
    private final EncoderBatch batch;
    private final Heads heads;
    private final float scale;
    private final Tensor word, tokenType, alibi;
    private final Dense embeddingNorm, finalNorm;
    private final Rope globalRope, localRope;
    private final Layer[] layers;
    private final Tensor x, h, q, k, v, att, delta, gate, up, ids, types;
    private final int[] hostIds, hostTypes;
    private final float[] hidden;
    private boolean closed;

    /** Builds the graph on {@code ops}, which it owns from now on; head-padded weights live in {@code hostArena}. */
    public ModernEncoderModel(ModernEncoderConfig config, ModernEncoderWeights w, Backend ops, int maxTokens, int maxSequences,
                              TrackedArena hostArena) {
        this.c = config;
        this.ops = ops;
        DType act = ops.activationType();
        int d = c.headDim(), D = ops.attentionHeadDim(d, false), H = c.heads();
        heads = new Heads(H, H, D);
        scale = (float) (1.0 / Math.sqrt(d));
        word = ops.weight(w.word(), WeightUse.STREAMED);
        tokenType = w.tokenType() == null ? null : ops.upload(w.tokenType(), act);
        embeddingNorm = vector(w.embeddingNorm());
        finalNorm = vector(w.finalNorm());
        globalRope = c.alibi() ? null : rope(c.globalTheta(), hostArena);
        localRope = c.alibi() || c.window() == 0 ? globalRope : rope(c.localTheta(), hostArena);
        alibi = c.alibi() ? ops.upload(f32("ALiBi slopes", ModernEncoderConfig.alibiSlopes(H), hostArena), DType.F32) : null;
        layers = new Layer[c.layers()];
        for (int l = 0; l < layers.length; l++) {
            ModernEncoderWeights.Layer L = w.layers()[l];
            layers[l] = new Layer(vector(L.norm1()), padded(L.query(), d, D, true, hostArena), padded(L.key(), d, D, true, hostArena),
                    padded(L.value(), d, D, true, hostArena), padded(L.output(), d, D, false, hostArena), vector(L.norm2()),
                    linear(L.gate()), linear(L.up()), linear(L.down()));
        }
        batch = new EncoderBatch(ops, maxTokens, Math.min(maxTokens, Math.max(1, maxSequences)), 0);
        x = ops.allocate("hidden state", act, maxTokens, c.hidden());
        h = ops.allocate("normed activations", act, maxTokens, c.hidden());
        q = ops.allocate("queries", act, maxTokens, heads.qWidth());
        k = ops.allocate("keys", act, maxTokens, heads.qWidth());
        v = ops.allocate("values", act, maxTokens, heads.qWidth());
        att = ops.allocate("attention outputs", act, maxTokens, heads.qWidth());
        delta = ops.allocate("block outputs", act, maxTokens, c.hidden());
        gate = ops.allocate("GLU gate", act, maxTokens, c.intermediate());
        up = ops.allocate("GLU up", act, maxTokens, c.intermediate());
        ids = ops.allocate("token ids", DType.I32, maxTokens, 1);
        types = ops.allocate("token types", DType.I32, maxTokens, 1);
        hostIds = new int[maxTokens];
        hostTypes = new int[maxTokens];
        hidden = new float[Math.multiplyExact(maxTokens, c.hidden())];
    }

    public ModernEncoderConfig config() { return c; }

    @Override
    public String describe() {
        String positions = c.alibi() ? "ALiBi" : "RoPE " + c.rotaryDim() + "/" + c.headDim()
                + (c.window() > 0 ? ", window " + (c.window() - 1) * 2 + " off every " + c.globalEvery() + "th layer" : "");
        return "hidden " + c.hidden() + ", " + c.layers() + " layers, " + c.heads() + " heads, GLU " + c.intermediate() + ", " + positions
                + " (" + c.layout().name().toLowerCase(java.util.Locale.ROOT) + ", on " + ops.name() + ")";
    }

    @Override public int dimension() { return c.hidden(); }

    @Override public int maxSequenceLength() { return c.maxSequence(); }

    @Override public int maxBatchTokens() { return batch.maxTokens(); }

    @Override public int maxBatchSequences() { return batch.maxSequences(); }

    @Override
    public float[] forward(int[][] tokenIds, int[][] typeIds) {
        if (closed) throw new IllegalStateException("encoder " + c.source() + " was closed");
        // ModernBERT has no token types (ModernBertModel takes no token_type_ids): a pair's type ids from the tokenizer are dropped.
        int[][] typeRows = tokenType == null ? null : typeIds;
        int n = EncoderInputs.pack(batch, tokenIds, typeRows, c.maxSequence(), c.vocabSize(), Math.max(1, c.typeVocabSize()), hostIds, hostTypes);
        ops.write(ids, hostIds, 0, n);
        Tensor x = this.x.rows(0, n), h = this.h.rows(0, n), delta = this.delta.rows(0, n);
        ops.gatherRows(x, word, ids.rows(0, n).reshape(n));
        if (tokenType != null) {
            ops.write(types, hostTypes, 0, n);
            ops.gatherRows(delta, tokenType, types.rows(0, n).reshape(n));
            ops.add(x, x, delta);
        }
        ops.layerNorm(x, null, x, embeddingNorm.w, embeddingNorm.b, c.eps());
        for (int l = 0; l < layers.length; l++) {
            Layer L = layers[l];
            boolean pre = c.layout() == Layout.MODERNBERT;
            Tensor in = x;
            if (pre && L.norm1 != null) {
                ops.layerNorm(h, null, x, L.norm1.w, L.norm1.b, c.eps());
                in = h;
            }
            attention(l, L, in, delta, n);
            if (pre) {
                ops.add(x, x, delta);
                ops.layerNorm(h, null, x, L.norm2.w, L.norm2.b, c.eps());
                glu(L, h, delta, n);
                ops.add(x, x, delta);
            } else {
                ops.layerNorm(x, x, delta, L.norm1.w, L.norm1.b, c.eps());
                glu(L, x, delta, n);
                ops.layerNorm(x, x, delta, L.norm2.w, L.norm2.b, c.eps());
            }
        }
        if (finalNorm != null) ops.layerNorm(x, null, x, finalNorm.w, finalNorm.b, c.eps());
        ops.read(x, hidden, 0, n * c.hidden());
        return hidden;
    }

    /** out = attention(in) Wo + bo for layer l. */
    private void attention(int l, Layer L, Tensor in, Tensor out, int n) {
        Tensor q = this.q.rows(0, n), k = this.k.rows(0, n), v = this.v.rows(0, n), att = this.att.rows(0, n);
        ops.linear(q, in, L.q.w, L.q.b, Activation.IDENTITY);
        ops.linear(k, in, L.k.w, L.k.b, Activation.IDENTITY);
        ops.linear(v, in, L.v.w, L.v.b, Activation.IDENTITY);
        boolean local = c.local(l);
        if (!c.alibi()) ops.rope(q, k, batch.positions(), local ? localRope : globalRope, heads);
        ops.attentionVarlenMasked(att, q, k, v, heads, batch, scale, local ? c.window() : 0, alibi);
        ops.linear(out, att, L.o.w, L.o.b, Activation.IDENTITY);
    }

    /** out = (act(in Wg + bg) * (in Wu + bu)) Wd + bd. */
    private void glu(Layer L, Tensor in, Tensor out, int n) {
        Tensor g = gate.rows(0, n), u = up.rows(0, n);
        ops.linear(g, in, L.gate.w, L.gate.b, Activation.IDENTITY);
        ops.linear(u, in, L.up.w, L.up.b, Activation.IDENTITY);
        ops.glu(g, g, u, c.relu() ? Activation.RELU : c.gluActivation()); // ReGLU: relu(gate) * up
        ops.linear(out, g, L.down.w, L.down.b, Activation.IDENTITY);
    }

    /** RoPE with base theta over the first rotaryDim values of each head, pairs as HF lays them out. */
    private Rope rope(double theta, TrackedArena arena) {
        int rot = c.rotaryDim();
        float[] inv = new float[rot / 2];
        // HF: 1 / base ** (arange(0, dim, 2).float() / dim), in fp32.
        for (int i = 0; i < inv.length; i++) inv[i] = (float) (1.0 / Math.pow(theta, (float) (2 * i) / rot));
        return new Rope(ops.upload(f32("RoPE inverse frequencies (theta " + theta + ")", inv, arena), DType.F32), rot, c.ropeLayout(), 1f);
    }

    private static Tensor f32(String name, float[] values, TrackedArena arena) {
        MemorySegment s = arena.allocate(4L * values.length);
        MemorySegment.copy(values, 0, s, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, values.length);
        return new Tensor(name, DType.F32, new long[] {values.length}, s);
    }

    private Dense linear(Pair p) {
        return new Dense(ops.weight(p.weight(), WeightUse.BATCHED), p.bias() == null ? null : ops.upload(p.bias(), ops.activationType()));
    }

    private Dense vector(Pair p) {
        return p == null ? null : new Dense(ops.upload(p.weight(), ops.activationType()), p.bias() == null ? null : ops.upload(p.bias(), ops.activationType()));
    }

    /** Q/K/V (rows, per head) or the output projection (columns) padded from head dim d to the backend's D. */
    private Dense padded(Pair p, int d, int D, boolean rows, TrackedArena arena) {
        if (D == d) return linear(p);
        int H = c.heads();
        Tensor w = rows ? HeadPadding.rows(p.weight(), H, d, D, arena) : HeadPadding.columns(p.weight(), H, d, D, arena);
        Tensor b = p.bias() == null ? null : rows ? HeadPadding.vector(p.bias(), H, d, D, arena) : p.bias();
        return new Dense(ops.weight(w, WeightUse.BATCHED), b == null ? null : ops.upload(b, ops.activationType()));
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        ops.close();
    }
}
