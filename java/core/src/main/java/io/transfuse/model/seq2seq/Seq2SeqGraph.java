package io.transfuse.model.seq2seq;

import io.transfuse.backend.Activation;
import io.transfuse.backend.Backend;
import io.transfuse.backend.Backend.WeightUse;
import io.transfuse.backend.Heads;
import io.transfuse.backend.KeySpans;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.seq2seq.Seq2SeqConfig.Flavour;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Dequantize;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * The encoder-decoder Transformer (Vaswani et al. 2017) as T5, BART and Marian lay it out, once for every backend.
 * <pre>
 *   T5 (pre-RMSNorm, no biases, relative position bias B from block 0 shared by all blocks, no 1/sqrt(d)):
 *     encoder:  x = E[src];  per block  x += SelfAttn(N1(x), B_bi);  x += FFN(N2(x));      enc = Nf(x)
 *     decoder:  y = E[tgt];  per block  y += SelfAttn(N1(y), B_causal);  y += CrossAttn(N2(y), enc);  y += FFN(N3(y))
 *               logits = Nf(y) (* d^-0.5 when tied) W_head^T
 *   BART / Marian (post-LayerNorm, biases, q scaled by head_dim^-0.5):
 *     encoder:  x = LNe(E[src] s + P[pos]);  per block  x = LN1(x + SelfAttn(x));  x = LN2(x + FFN(x));   enc = x
 *     decoder:  y = LNe(E[tgt] s + P[pos]);  per block  y = LN1(y + SelfAttn(y));  y = LN2(y + CrossAttn(y, enc));
 *               y = LN3(y + FFN(y));  logits = y W_head^T + final_logits_bias
 *     (BART: learned P at position + 2 and the LNe layernorm_embedding; Marian: sinusoidal P, no LNe; s = sqrt(d)
 *      when scale_embedding)
 *   FFN: act(x W1 + b1) W2 + b2, or T5 v1.1's act(x wi_0) * (x wi_1) wo; ReLU runs as a 1x1 convolution's epilogue.
 * </pre>
 * Every attention is {@link Backend#attentionRelBias} over key spans ({@link KeySpans}): the encoder's tokens see their
 * own source, a decoder row's token its own row's keys up to itself, cross-attention its request's encoder rows.
 *
 * <p>Use: {@link #encode} a batch of sources (their cross-attention K/V are computed once, here, and kept), {@link #startRows}
 * to bind decoder rows to sources, then {@link #step} appends one token to each of any set of rows, each continuing
 * the history of a parent row (itself for greedy decoding; the hypothesis it extends for beam search), and returns
 * their logits. A row's self-attention K/V live in its slot of a per-layer cache [rows][maxTarget]; a step writes the
 * new K/V to staging rows and one row gather per layer builds the next cache from the previous one, copying each
 * stepped row's parent's keys and placing its new key (double-buffered: the gather reads one buffer and writes the
 * other). That copy is what forking or reordering hypotheses costs, and the price of having no scatter op: the cache
 * rows in use are moved once per layer per step.
 *
 * <p>Not thread-safe: one caller drives one graph (the engine or a beam search serialises steps).
 */
public final class Seq2SeqGraph implements AutoCloseable {
    private final Backend ops;
    private final Seq2SeqConfig c;
    private final Seq2SeqLimits limits;
    private final TrackedArena hostCopies;
    private final Heads heads;
    private final float scale;
    private final int radius;
    private final DType act;
    private final Tensor embedding, lmHead, finalBias, encPositions, decPositions, encBias, decBias;
    private final Norm encEmbNorm, decEmbNorm, encFinal, decFinal;
    private final Layer[] encoder, decoder;
    // encoder workspace [maxSourceTokens][..]
    private final Tensor srcIds, srcPos, ex, eh, edelta, eq, ek, ev, eatt, eff, effGate, encOut;
    private final Tensor[] crossK, crossV;
    // decoder workspace [maxRows][..]
    private final Tensor tgtIds, tgtPos, dx, dh, ddelta, dq, datt, dff, dffGate, logits, gatherIndex;
    private final Tensor[][] selfK, selfV; // [layer][buffer]
    private final KeySpans encSpans, selfSpans, crossSpans;
    private final int staging; // first staging row of every self cache: maxRows * maxTarget
    private int current;       // which buffer of selfK/selfV holds the rows' keys
    // host state of the current batch
    private int sources, rowsInUse, cap;
    private final int[] srcStart, srcLen, rowSource, rowLen;

    private record Norm(Tensor weight, Tensor bias) {}

    private record Attention(Tensor wq, Tensor bq, Tensor wk, Tensor bk, Tensor wv, Tensor bv, Tensor wo, Tensor bo) {}

    private record Ffn(Tensor up, Tensor upBias, Tensor gate, Tensor down, Tensor downBias, int width) {}

    private record Layer(Attention self, Norm selfNorm, Attention cross, Norm crossNorm, Ffn ffn, Norm ffnNorm) {}

    /** Builds the graph on {@code ops}, which it owns from now on (closed with it). */
    public Seq2SeqGraph(Seq2SeqConfig config, Seq2SeqWeights w, Backend ops, Seq2SeqLimits limits) {
        this.ops = ops;
        this.c = config;
        this.limits = limits;
        this.hostCopies = new TrackedArena("host copies of " + config.source());
        try {
            this.act = ops.activationType();
            this.heads = new Heads(c.heads(), c.heads(), c.headDim());
            this.scale = c.flavour() == Flavour.T5 ? 1f : (float) (1.0 / Math.sqrt(c.headDim()));
            this.radius = c.maxDistance();
            boolean t5 = c.flavour() == Flavour.T5;
            float embScale = c.scaleEmbedding() ? (float) Math.sqrt(c.dim()) : 1f;
            embedding = embScale == 1f ? ops.weight(w.embedding(), WeightUse.STREAMED)
                    : ops.upload(scaled(w.embedding(), embScale), act);
            lmHead = ops.weight(w.lmHead(), WeightUse.STREAMED);
            finalBias = w.finalLogitsBias() == null ? null : ops.upload(w.finalLogitsBias().reshape(c.vocab()), DType.F32);
            int posRows = c.flavour() == Flavour.BART ? c.maxPositions() + 2 : c.maxPositions();
            encPositions = switch (c.flavour()) {
                case T5 -> null;
                case BART -> ops.upload(w.encoderPositions(), act);
                case MARIAN -> ops.upload(sinusoidal(posRows, c.dim()), act);
            };
            decPositions = switch (c.flavour()) {
                case T5 -> null;
                case BART -> ops.upload(w.decoderPositions(), act);
                case MARIAN -> encPositions;
            };
            encBias = t5 ? f32Table("encoder relative bias", T5RelativeBias.table(w.encoderRelativeBias(), true, c.buckets(), c.heads(),
                    radius)) : null;
            decBias = t5 ? f32Table("decoder relative bias", T5RelativeBias.table(w.decoderRelativeBias(), false, c.buckets(), c.heads(),
                    radius)) : null;
            encEmbNorm = norm(w.encoderEmbeddingNorm(), 1f);
            decEmbNorm = norm(w.decoderEmbeddingNorm(), 1f);
            encFinal = norm(w.encoderFinalNorm(), 1f);
            // T5 with tied embeddings scales the decoder output by d^-0.5 before the head: folded into the final RMSNorm's weight
            decFinal = norm(w.decoderFinalNorm(), t5 && c.tied() ? (float) Math.pow(c.dim(), -0.5) : 1f);
            encoder = new Layer[c.encoderLayers()];
            decoder = new Layer[c.decoderLayers()];
            for (int l = 0; l < encoder.length; l++) encoder[l] = layer(w.encoder()[l], c.encoderFfn());
            for (int l = 0; l < decoder.length; l++) decoder[l] = layer(w.decoder()[l], c.decoderFfn());

            int S = limits.maxSourceTokens(), R = limits.maxRows(), d = c.dim(), inner = c.inner();
            srcIds = ops.allocate("source token ids", DType.I32, S, 1);
            srcPos = ops.allocate("source position ids", DType.I32, S, 1);
            ex = ops.allocate("encoder residual stream", act, S, d);
            eh = ops.allocate("encoder normed activations", act, S, d);
            edelta = ops.allocate("encoder block outputs", act, S, d);
            eq = ops.allocate("encoder queries", act, S, inner);
            ek = ops.allocate("encoder keys", act, S, inner);
            ev = ops.allocate("encoder values", act, S, inner);
            eatt = ops.allocate("encoder attention outputs", act, S, inner);
            eff = ops.allocate("encoder FFN hidden", act, S, c.encoderFfn());
            effGate = c.gated() ? ops.allocate("encoder FFN gate", act, S, c.encoderFfn()) : null;
            encOut = ops.allocate("encoder output", act, S, d);
            crossK = new Tensor[decoder.length];
            crossV = new Tensor[decoder.length];
            selfK = new Tensor[decoder.length][2];
            selfV = new Tensor[decoder.length][2];
            staging = Math.multiplyExact(R, limits.maxTarget());
            for (int l = 0; l < decoder.length; l++) {
                crossK[l] = ops.allocate("cross-attention keys " + l, act, S, inner);
                crossV[l] = ops.allocate("cross-attention values " + l, act, S, inner);
                for (int b = 0; b < 2; b++) {
                    selfK[l][b] = ops.allocate("self-attention key cache " + l + "." + b, act, staging + R, inner);
                    selfV[l][b] = ops.allocate("self-attention value cache " + l + "." + b, act, staging + R, inner);
                }
            }
            tgtIds = ops.allocate("target token ids", DType.I32, R, 1);
            tgtPos = ops.allocate("target position ids", DType.I32, R, 1);
            dx = ops.allocate("decoder residual stream", act, R, d);
            dh = ops.allocate("decoder normed activations", act, R, d);
            ddelta = ops.allocate("decoder block outputs", act, R, d);
            dq = ops.allocate("decoder queries", act, R, inner);
            datt = ops.allocate("decoder attention outputs", act, R, inner);
            dff = ops.allocate("decoder FFN hidden", act, R, c.decoderFfn());
            dffGate = c.gated() ? ops.allocate("decoder FFN gate", act, R, c.decoderFfn()) : null;
            logits = ops.allocate("logits", DType.F32, R, c.vocab());
            gatherIndex = ops.allocate("self-attention cache gather", DType.I32, staging, 1);
            encSpans = new KeySpans(ops, "encoder self-attention", S);
            selfSpans = new KeySpans(ops, "decoder self-attention", R);
            crossSpans = new KeySpans(ops, "cross-attention", R);
            srcStart = new int[limits.maxSources()];
            srcLen = new int[limits.maxSources()];
            rowSource = new int[R];
            rowLen = new int[R];
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    public Seq2SeqConfig config() { return c; }

    public Seq2SeqLimits limits() { return limits; }

    public Backend backend() { return ops; }

    // ---- encoder ----------------------------------------------------------------------------------

    /**
     * Runs the encoder over {@code sourceIds} (each a request's token ids, eos included as the tokenizer adds it) packed
     * into one pass, and computes every decoder layer's cross-attention keys and values from its output. Rows bound
     * earlier are released.
     */
    public void encode(List<int[]> sourceIds) {
        int n = sourceIds.size();
        if (n == 0 || n > limits.maxSources()) {
            throw new IllegalArgumentException("encode takes 1.." + limits.maxSources() + " sources at once, got " + n);
        }
        int total = 0;
        for (int s = 0; s < n; s++) {
            int[] ids = sourceIds.get(s);
            if (ids.length == 0) throw new IllegalArgumentException("source " + s + " is empty");
            if (ids.length > c.positionLimit()) {
                throw new IllegalArgumentException("source " + s + " has " + ids.length + " tokens; " + c.source() + " takes at most "
                        + c.positionLimit() + " (max_position_embeddings)");
            }
            for (int i = 0; i < ids.length; i++) checkToken("source " + s, i, ids[i]);
            total += ids.length;
            if (total > limits.maxSourceTokens()) {
                throw new IllegalArgumentException("the sources bring more than the " + limits.maxSourceTokens() + " tokens one encode pass "
                        + "holds (Seq2SeqLimits.maxSourceTokens)");
            }
        }
        int[] ids = new int[total], pos = new int[total];
        encSpans.clear();
        int at = 0;
        for (int s = 0; s < n; s++) {
            int[] src = sourceIds.get(s);
            srcStart[s] = at;
            srcLen[s] = src.length;
            for (int i = 0; i < src.length; i++) {
                ids[at + i] = src[i];
                pos[at + i] = i + (c.flavour() == Flavour.BART ? 2 : 0);
                encSpans.add(at, src.length, i);
            }
            at += src.length;
        }
        sources = n;
        rowsInUse = 0;
        ops.write(srcIds, ids, 0, total);
        ops.write(srcPos, pos, 0, total);
        encSpans.commit();
        runEncoder(total);
    }

    /** Encoder output rows of source s (for tests: d_model wide, the activation type). */
    public Tensor encoderOutput(int s) {
        checkSource(s);
        return encOut.rows(srcStart[s], srcLen[s]);
    }

    private void runEncoder(int n) {
        Tensor x = ex.rows(0, n), h = eh.rows(0, n), delta = edelta.rows(0, n), q = eq.rows(0, n), k = ek.rows(0, n), v = ev.rows(0, n),
                att = eatt.rows(0, n), ff = eff.rows(0, n), gate = effGate == null ? null : effGate.rows(0, n), out = encOut.rows(0, n);
        Tensor ids = srcIds.rows(0, n).reshape(n), pos = srcPos.rows(0, n).reshape(n);
        embed(x, h, ids, pos, encPositions, encEmbNorm);
        for (int l = 0; l < encoder.length; l++) {
            Layer L = encoder[l];
            if (c.flavour() == Flavour.T5) {
                ops.rmsNorm(h, l == 0 ? null : x, l == 0 ? x : delta, L.selfNorm.weight, c.eps());
                project(q, k, v, h, h, L.self);
                ops.attentionRelBias(att, q, k, v, encSpans, encBias, radius, heads, scale);
                ops.linear(delta, att, L.self.wo, L.self.bo, Activation.IDENTITY);
                ops.rmsNorm(h, x, delta, L.ffnNorm.weight, c.eps());
                ffn(delta, ff, gate, h, L.ffn);
            } else {
                project(q, k, v, x, x, L.self);
                ops.attentionRelBias(att, q, k, v, encSpans, null, 0, heads, scale);
                ops.linear(delta, att, L.self.wo, L.self.bo, Activation.IDENTITY);
                ops.layerNorm(x, x, delta, L.selfNorm.weight, L.selfNorm.bias, c.eps());
                ffn(delta, ff, gate, x, L.ffn);
                ops.layerNorm(l == encoder.length - 1 ? out : x, x, delta, L.ffnNorm.weight, L.ffnNorm.bias, c.eps());
            }
        }
        if (c.flavour() == Flavour.T5) ops.rmsNorm(out, x, delta, encFinal.weight, c.eps());
        for (int l = 0; l < decoder.length; l++) {
            Attention A = decoder[l].cross;
            ops.linear(crossK[l].rows(0, n), out, A.wk, A.bk, Activation.IDENTITY);
            ops.linear(crossV[l].rows(0, n), out, A.wv, A.bv, Activation.IDENTITY);
        }
    }

    // ---- decoder ----------------------------------------------------------------------------------

    /**
     * Binds decoder rows 0 .. rowSources.length-1 to the sources of the last {@link #encode} (row r reads source
     * {@code rowSources[r]}), each empty, holding at most {@code maxTokens} tokens (the decoder start token included;
     * at most {@link Seq2SeqLimits#maxTarget}).
     */
    public void startRows(int[] rowSources, int maxTokens) {
        if (sources == 0) throw new IllegalStateException("startRows before encode");
        if (rowSources.length == 0 || rowSources.length > limits.maxRows()) {
            throw new IllegalArgumentException("startRows takes 1.." + limits.maxRows() + " rows, got " + rowSources.length);
        }
        if (maxTokens < 1 || maxTokens > limits.maxTarget()) {
            throw new IllegalArgumentException("a row holds 1.." + limits.maxTarget() + " tokens (Seq2SeqLimits.maxTarget), asked for " + maxTokens);
        }
        for (int r = 0; r < rowSources.length; r++) {
            checkSource(rowSources[r]);
            rowSource[r] = rowSources[r];
            rowLen[r] = 0;
        }
        rowsInUse = rowSources.length;
        cap = maxTokens;
    }

    /** Rows bound by {@link #startRows}. */
    public int rows() { return rowsInUse; }

    /** Tokens row r holds. */
    public int length(int row) { return rowLen[checkRow(row)]; }

    /**
     * One decoder step: row {@code rows[i]} becomes row {@code parents[i]}'s history (as it was before this step) plus
     * {@code tokens[i]}, for every i at once; rows not named keep theirs. Returns the logits of each named row's new
     * token, [rows.length][vocab]. Greedy decoding passes rows as their own parents; a beam search passes the
     * hypotheses it keeps as parents (a parent may appear several times: a fork), and its first step is every row
     * with parent row 0 of an empty history.
     */
    public float[][] step(int[] rows, int[] parents, int[] tokens) {
        int n = rows.length;
        if (n == 0 || parents.length != n || tokens.length != n) {
            throw new IllegalArgumentException("step: rows, parents and tokens must be non-empty and of one length, got " + n + ", "
                    + parents.length + ", " + tokens.length);
        }
        boolean[] seen = new boolean[rowsInUse];
        int[] pos = new int[n];
        for (int i = 0; i < n; i++) {
            int r = checkRow(rows[i]), p = checkRow(parents[i]);
            if (seen[r]) throw new IllegalArgumentException("step: row " + r + " appears twice");
            seen[r] = true;
            checkToken("step token", i, tokens[i]);
            pos[i] = rowLen[p];
            if (pos[i] + 1 > cap) {
                throw new IllegalArgumentException("step: row " + p + " already holds " + pos[i] + " tokens, the most a row holds ("
                        + cap + ", as startRows asked)");
            }
            if (pos[i] + 1 > c.positionLimit()) {
                throw new IllegalArgumentException("step: position " + pos[i] + " is beyond " + c.source() + "'s " + c.positionLimit()
                        + " positions (max_position_embeddings)");
            }
        }
        // the next cache: identity for untouched rows; a stepped row takes its parent's keys and its new key
        int used = rowsInUse * cap;
        int[] index = new int[used];
        for (int j = 0; j < used; j++) index[j] = j;
        int[] posIds = new int[n];
        selfSpans.clear();
        crossSpans.clear();
        for (int i = 0; i < n; i++) {
            int r = rows[i], p = parents[i];
            for (int j = 0; j < pos[i]; j++) index[r * cap + j] = p * cap + j;
            index[r * cap + pos[i]] = staging + i;
            posIds[i] = pos[i] + (c.flavour() == Flavour.BART ? 2 : 0);
            selfSpans.add(r * cap, pos[i] + 1, pos[i]);
            int s = rowSource[p];
            crossSpans.add(srcStart[s], srcLen[s], 0);
        }
        ops.write(gatherIndex, index, 0, used);
        ops.write(tgtIds, tokens, 0, n);
        ops.write(tgtPos, posIds, 0, n);
        selfSpans.commit();
        crossSpans.commit();
        runDecoder(n, used);
        current ^= 1;
        int[] newSource = new int[n];
        for (int i = 0; i < n; i++) newSource[i] = rowSource[parents[i]];
        for (int i = 0; i < n; i++) {
            rowLen[rows[i]] = pos[i] + 1;
            rowSource[rows[i]] = newSource[i];
        }
        float[][] out = new float[n][c.vocab()];
        for (int i = 0; i < n; i++) ops.read(logits.row(i), out[i], 0, c.vocab());
        return out;
    }

    private void runDecoder(int n, int used) {
        Tensor x = dx.rows(0, n), h = dh.rows(0, n), delta = ddelta.rows(0, n), q = dq.rows(0, n), att = datt.rows(0, n),
                ff = dff.rows(0, n), gate = dffGate == null ? null : dffGate.rows(0, n);
        Tensor ids = tgtIds.rows(0, n).reshape(n), pos = tgtPos.rows(0, n).reshape(n), index = gatherIndex.rows(0, used).reshape(used);
        int cur = current, next = current ^ 1;
        boolean t5 = c.flavour() == Flavour.T5;
        embed(x, h, ids, pos, decPositions, decEmbNorm);
        for (int l = 0; l < decoder.length; l++) {
            Layer L = decoder[l];
            Tensor in;
            if (t5) {
                ops.rmsNorm(h, l == 0 ? null : x, l == 0 ? x : delta, L.selfNorm.weight, c.eps());
                in = h;
            } else {
                in = x;
            }
            Tensor kStage = selfK[l][cur].rows(staging, n), vStage = selfV[l][cur].rows(staging, n);
            project(q, kStage, vStage, in, in, L.self);
            Tensor keys = selfK[l][next].rows(0, used), values = selfV[l][next].rows(0, used);
            ops.gatherRows(keys, selfK[l][cur], index);
            ops.gatherRows(values, selfV[l][cur], index);
            ops.attentionRelBias(att, q, keys, values, selfSpans, decBias, radius, heads, scale);
            ops.linear(delta, att, L.self.wo, L.self.bo, Activation.IDENTITY);
            if (t5) {
                ops.rmsNorm(h, x, delta, L.crossNorm.weight, c.eps());
                ops.linear(q, h, L.cross.wq, L.cross.bq, Activation.IDENTITY);
            } else {
                ops.layerNorm(x, x, delta, L.selfNorm.weight, L.selfNorm.bias, c.eps());
                ops.linear(q, x, L.cross.wq, L.cross.bq, Activation.IDENTITY);
            }
            ops.attentionRelBias(att, q, crossK[l], crossV[l], crossSpans, null, 0, heads, scale);
            ops.linear(delta, att, L.cross.wo, L.cross.bo, Activation.IDENTITY);
            if (t5) {
                ops.rmsNorm(h, x, delta, L.ffnNorm.weight, c.eps());
                ffn(delta, ff, gate, h, L.ffn);
            } else {
                ops.layerNorm(x, x, delta, L.crossNorm.weight, L.crossNorm.bias, c.eps());
                ffn(delta, ff, gate, x, L.ffn);
                ops.layerNorm(x, x, delta, L.ffnNorm.weight, L.ffnNorm.bias, c.eps());
            }
        }
        Tensor hidden = x;
        if (t5) {
            ops.rmsNorm(h, x, delta, decFinal.weight, c.eps());
            hidden = h;
        }
        Tensor out = logits.rows(0, n);
        ops.matmul(out, hidden, lmHead);
        if (finalBias != null) ops.biasAct(out, finalBias, Activation.IDENTITY);
    }

    // ---- shared pieces ------------------------------------------------------------------------------

    /** x = E[ids] (scaled) + P[pos] (BART/Marian), then the embedding LayerNorm (BART); h is scratch. */
    private void embed(Tensor x, Tensor h, Tensor ids, Tensor pos, Tensor positions, Norm norm) {
        ops.gatherRows(x, embedding, ids);
        if (positions != null) {
            ops.gatherRows(h, positions, pos);
            ops.add(x, x, h);
        }
        if (norm != null) ops.layerNorm(x, null, x, norm.weight, norm.bias, c.eps());
    }

    private void project(Tensor q, Tensor k, Tensor v, Tensor xq, Tensor xkv, Attention a) {
        ops.linear(q, xq, a.wq, a.bq, Activation.IDENTITY);
        ops.linear(k, xkv, a.wk, a.bk, Activation.IDENTITY);
        ops.linear(v, xkv, a.wv, a.bv, Activation.IDENTITY);
    }

    /** out = FFN(x); ff (and gate, T5 v1.1) are scratch of the FFN width. */
    private void ffn(Tensor out, Tensor ff, Tensor gate, Tensor x, Ffn f) {
        if (f.gate != null) {
            ops.linear(ff, x, f.up, null, Activation.IDENTITY);
            ops.linear(gate, x, f.gate, null, Activation.IDENTITY);
            ops.glu(ff, ff, gate, c.ffnAct());
        } else {
            ops.linear(ff, x, f.up, f.upBias, c.ffnAct());
        }
        ops.linear(out, ff, f.down, f.downBias, Activation.IDENTITY);
    }

    private Layer layer(Seq2SeqWeights.Layer w, int ffnWidth) {
        Ffn ffn = new Ffn(weight(w.ffn().up()), vector(w.ffn().upBias()),
                w.ffn().gate() == null ? null : weight(w.ffn().gate()), weight(w.ffn().down()), vector(w.ffn().downBias()), ffnWidth);
        return new Layer(attention(w.self()), norm(w.selfNorm(), 1f), w.cross() == null ? null : attention(w.cross()),
                w.crossNorm() == null ? null : norm(w.crossNorm(), 1f), ffn, norm(w.ffnNorm(), 1f));
    }

    private Attention attention(Seq2SeqWeights.Attention a) {
        return new Attention(weight(a.wq()), vector(a.bq()), weight(a.wk()), vector(a.bk()), weight(a.wv()), vector(a.bv()),
                weight(a.wo()), vector(a.bo()));
    }

    private Tensor weight(Tensor t) { return ops.weight(t, WeightUse.STREAMED); }

    private Tensor vector(Tensor t) { return t == null ? null : ops.upload(t, act); }

    private Norm norm(Seq2SeqWeights.Norm n, float factor) {
        if (n == null) return null;
        Tensor weight = factor == 1f ? n.weight() : scaled(n.weight(), factor);
        return new Norm(ops.upload(weight, act), vector(n.bias()));
    }

    /** {@code t * factor} as an F32 host tensor (kept while the graph lives: the backend may read it in place). */
    private Tensor scaled(Tensor t, float factor) {
        Tensor f = Dequantize.toF32Tensor(t, hostCopies);
        MemorySegment s = f.data();
        for (long i = 0; i < f.elementCount(); i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, s.getAtIndex(ValueLayout.JAVA_FLOAT, i) * factor);
        return f;
    }

    /**
     * Marian's sinusoidal positions as Hugging Face's MarianSinusoidalPositionalEmbedding lays them out: row p,
     * column j &lt; d/2: sin(p / 10000^(2j/d)); column d/2 + j: cos(p / 10000^(2j/d)) (odd d: the sine half has one more).
     */
    private Tensor sinusoidal(int rows, int d) {
        MemorySegment s = hostCopies.allocateFloats((long) rows * d);
        int sines = (d + 1) / 2;
        for (int p = 0; p < rows; p++) {
            for (int j = 0; j < d; j++) {
                int k = j < sines ? j : j - sines;       // index in the sine or the cosine half
                int e = j < sines ? 2 * k : 2 * k + 1;  // the position_enc column it comes from
                double angle = p / Math.pow(10000.0, 2.0 * (e / 2) / d);
                s.setAtIndex(ValueLayout.JAVA_FLOAT, (long) p * d + j, (float) (j < sines ? Math.sin(angle) : Math.cos(angle)));
            }
        }
        return new Tensor("sinusoidal positions", DType.F32, new long[] {rows, d}, s);
    }

    private Tensor f32Table(String name, float[] values) {
        MemorySegment s = hostCopies.allocateFloats(values.length);
        MemorySegment.copy(values, 0, s, ValueLayout.JAVA_FLOAT, 0, values.length);
        return ops.upload(new Tensor(name, DType.F32, new long[] {c.heads(), values.length / c.heads()}, s), DType.F32);
    }

    private void checkToken(String what, int i, int id) {
        if (id < 0 || id >= c.vocab()) {
            throw new IllegalArgumentException(what + ": token " + i + " = " + id + " is outside the vocabulary [0, " + c.vocab() + ")");
        }
    }

    private void checkSource(int s) {
        if (s < 0 || s >= sources) throw new IllegalArgumentException("source " + s + " of the " + sources + " encoded");
    }

    private int checkRow(int r) {
        if (r < 0 || r >= rowsInUse) throw new IllegalArgumentException("row " + r + " of the " + rowsInUse + " rows bound by startRows");
        return r;
    }

    @Override
    public void close() {
        try {
            ops.close();
        } finally {
            hostCopies.close();
        }
    }
}
