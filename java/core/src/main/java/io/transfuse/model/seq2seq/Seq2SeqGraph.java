package io.transfuse.model.seq2seq;

import io.transfuse.backend.Activation;
import io.transfuse.backend.Backend;
import io.transfuse.backend.Backend.WeightUse;
import io.transfuse.backend.DecoderBatch;
import io.transfuse.backend.Heads;
import io.transfuse.backend.KeySpans;
import io.transfuse.backend.KvLayer;
import io.transfuse.backend.Rope;
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
 *   FFN: act(x W1 + b1) W2 + b2, or T5 v1.1's act(x wi_0) * (x wi_1) wo; act (ReLU, GELU, ...) is
 *        the linear epilogue or the GLU's.
 * </pre>
 * The encoder's self-attention and the cross-attention are {@link Backend#attentionRelBias} over key spans
 * ({@link KeySpans}): the encoder's tokens see their own source, cross-attention its request's encoder rows; the
 * decoder's self-attention is {@link Backend#attentionRelBiasPaged} over the row's own KV pages (keys up to itself).
 *
 * <p>Use: {@link #addSources} encodes a batch of requests' sources in one pass (their cross-attention K/V are computed
 * once, here, and kept in source slots until {@link #releaseSource}), {@link #addRow} binds a decoder row to a source,
 * then {@link #step} appends one token to each of any set of rows, each continuing the history of a parent row (itself
 * for greedy decoding; the hypothesis it extends for beam search), and returns their logits; {@link #releaseRow} ends a
 * row. Sources and rows come and go between steps, so requests join and leave a running batch (continuous batching,
 * {@link Seq2SeqScheduler}). {@link #encode} and {@link #startRows} are the one-batch form (they release everything
 * first). A row's self-attention K/V live in the paged KV cache ({@link DecoderRowBlocks}: blocks of 16 positions, one
 * block table per row, written by {@link Backend#ropeKv} without rotation and read by
 * {@link Backend#attentionRelBiasPaged}); a fork shares the parent's blocks and copies at most the partly filled last
 * one, so forking or reordering hypotheses no longer moves any row's history.
 *
 * <p>Not thread-safe: one caller drives one graph at a time (the scheduler's running caller, or a test).
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
    private final Tensor tgtPos, dx, dh, ddelta, dq, dk, dv, datt, dff, dffGate, logits, copyIndex;
    private final KeySpans encSpans, crossSpans;
    private final DecoderRowBlocks selfKv;
    private final DecoderBatch batch;
    private final RowRanges crossRows;
    // host state: source slots (their cross-attention rows) and decoder rows
    private final boolean[] sourceBound, rowBound;
    private final int[] srcStart, srcLen, passStart, rowSource, rowLen, rowCap;

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
            lmHead = ops.weight(w.lmHead(), WeightUse.DECODE);
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
            for (int l = 0; l < decoder.length; l++) {
                crossK[l] = ops.allocate("cross-attention keys " + l, act, S, inner);
                crossV[l] = ops.allocate("cross-attention values " + l, act, S, inner);
            }
            selfKv = new DecoderRowBlocks(ops, c.source().toString(), decoder.length, inner, act, R, limits.maxTarget());
            batch = new DecoderBatch(ops, R, R, selfKv.maxBlocks());
            tgtPos = ops.allocate("target position ids", DType.I32, R, 1);
            dx = ops.allocate("decoder residual stream", act, R, d);
            dh = ops.allocate("decoder normed activations", act, R, d);
            ddelta = ops.allocate("decoder block outputs", act, R, d);
            dq = ops.allocate("decoder queries", act, R, inner);
            dk = ops.allocate("decoder new keys", act, R, inner);
            dv = ops.allocate("decoder new values", act, R, inner);
            datt = ops.allocate("decoder attention outputs", act, R, inner);
            dff = ops.allocate("decoder FFN hidden", act, R, c.decoderFfn());
            dffGate = c.gated() ? ops.allocate("decoder FFN gate", act, R, c.decoderFfn()) : null;
            logits = ops.allocate("logits", DType.F32, R, c.vocab());
            copyIndex = ops.allocate("KV block slots 0..15 (copy on write)", DType.I32, DecoderRowBlocks.BLOCK_SIZE, 1);
            int[] identity = new int[DecoderRowBlocks.BLOCK_SIZE];
            for (int i = 0; i < identity.length; i++) identity[i] = i;
            ops.write(copyIndex, identity, 0, identity.length);
            encSpans = new KeySpans(ops, "encoder self-attention", S);
            crossSpans = new KeySpans(ops, "cross-attention", R);
            crossRows = new RowRanges(S);
            sourceBound = new boolean[limits.maxSources()];
            srcStart = new int[limits.maxSources()];
            srcLen = new int[limits.maxSources()];
            passStart = new int[limits.maxSources()];
            rowBound = new boolean[R];
            rowSource = new int[R];
            rowLen = new int[R];
            rowCap = new int[R];
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
     * The one-batch form: releases every row and source, then {@link #addSources} (the sources take slots 0 .. n-1).
     * Not while a scheduler serves requests on this graph.
     */
    public void encode(List<int[]> sourceIds) {
        releaseAll();
        addSources(sourceIds);
    }

    /** Releases every decoder row and source slot (the KV block pool is empty afterwards). */
    public void releaseAll() {
        for (int r = 0; r < rowBound.length; r++) if (rowBound[r]) releaseRow(r);
        for (int s = 0; s < sourceBound.length; s++) if (sourceBound[s]) releaseSource(s);
    }

    /** Whether {@link #addSources} of {@code count} sources of {@code tokens} tokens in all would find room now. */
    public boolean fits(int count, int tokens) {
        int free = 0;
        for (boolean b : sourceBound) if (!b) free++;
        return count <= free && tokens <= limits.maxSourceTokens() && crossRows.fits(tokens);
    }

    /**
     * Runs the encoder over {@code sourceIds} (each a request's token ids, eos included as the tokenizer adds it) packed
     * into one pass, and computes every decoder layer's cross-attention keys and values from its output, kept until
     * {@link #releaseSource}. Returns the sources' slots (lowest free first). Fails without side effects when the
     * sources are bad or there is no room ({@link #fits}).
     */
    public int[] addSources(List<int[]> sourceIds) {
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
        if (!fits(n, total)) {
            throw new IllegalStateException("no room for " + n + " more sources of " + total + " tokens: source slots or cross-attention rows "
                    + "are held by unfinished requests (" + crossRows.used() + " of " + limits.maxSourceTokens() + " rows in use)");
        }
        int base = crossRows.take(total);
        int[] ids = new int[total], pos = new int[total], slots = new int[n];
        encSpans.clear();
        for (int s = 0; s < passStart.length; s++) passStart[s] = -1;
        int at = 0;
        for (int s = 0, slot = 0; s < n; s++, slot++) {
            while (sourceBound[slot]) slot++;
            int[] src = sourceIds.get(s);
            slots[s] = slot;
            sourceBound[slot] = true;
            srcStart[slot] = base + at;
            srcLen[slot] = src.length;
            passStart[slot] = at;
            for (int i = 0; i < src.length; i++) {
                ids[at + i] = src[i];
                pos[at + i] = i + (c.flavour() == Flavour.BART ? 2 : 0);
                encSpans.add(at, src.length, i);
            }
            at += src.length;
        }
        ops.write(srcIds, ids, 0, total);
        ops.write(srcPos, pos, 0, total);
        try {
            encSpans.commit();
            runEncoder(total, base);
        } catch (RuntimeException e) { // the slots stay free
            for (int slot : slots) releaseSource(slot);
            throw e;
        }
        return slots;
    }

    /** Releases source slot s and its cross-attention rows; no bound row may read it. */
    public void releaseSource(int s) {
        checkSource(s);
        for (int r = 0; r < rowBound.length; r++) {
            if (rowBound[r] && rowSource[r] == s) throw new IllegalStateException("source " + s + " is still read by decoder row " + r);
        }
        sourceBound[s] = false;
        crossRows.give(srcStart[s], srcLen[s]);
        passStart[s] = -1;
    }

    /** Encoder output rows of source s, which the last encoder pass encoded (for tests: d_model wide, the activation type). */
    public Tensor encoderOutput(int s) {
        checkSource(s);
        if (passStart[s] < 0) throw new IllegalArgumentException("source " + s + " was not encoded by the last encoder pass");
        return encOut.rows(passStart[s], srcLen[s]);
    }

    /** The encoder over the pass's n tokens; cross-attention K/V into rows [base, base + n). */
    private void runEncoder(int n, int base) {
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
            ops.linear(crossK[l].rows(base, n), out, A.wk, A.bk, Activation.IDENTITY);
            ops.linear(crossV[l].rows(base, n), out, A.wv, A.bv, Activation.IDENTITY);
        }
    }

    // ---- decoder ----------------------------------------------------------------------------------

    /**
     * The one-batch form: releases every row, then binds rows 0 .. rowSources.length-1 ({@link #addRow}) to the given
     * sources, each holding at most {@code maxTokens} tokens.
     */
    public void startRows(int[] rowSources, int maxTokens) {
        boolean any = false;
        for (boolean b : sourceBound) any |= b;
        if (!any) throw new IllegalStateException("startRows before encode");
        if (rowSources.length == 0 || rowSources.length > limits.maxRows()) {
            throw new IllegalArgumentException("startRows takes 1.." + limits.maxRows() + " rows, got " + rowSources.length);
        }
        checkCapacity(maxTokens);
        for (int s : rowSources) checkSource(s);
        for (int r = 0; r < rowBound.length; r++) if (rowBound[r]) releaseRow(r);
        for (int s : rowSources) addRow(s, maxTokens);
    }

    /**
     * Binds a free decoder row (the lowest) to source slot {@code source}: empty, holding at most {@code maxTokens}
     * tokens (the decoder start token included; at most {@link Seq2SeqLimits#maxTarget}). Returns the row.
     */
    public int addRow(int source, int maxTokens) {
        checkSource(source);
        checkCapacity(maxTokens);
        for (int r = 0; r < rowBound.length; r++) {
            if (!rowBound[r]) {
                rowBound[r] = true;
                rowSource[r] = source;
                rowLen[r] = 0;
                rowCap[r] = maxTokens;
                return r;
            }
        }
        throw new IllegalStateException("all " + rowBound.length + " decoder rows are bound (Seq2SeqLimits.maxRows)");
    }

    /** Ends row r: its KV blocks go back to the pool (those no other row shares). */
    public void releaseRow(int r) {
        checkRow(r);
        selfKv.release(r);
        rowBound[r] = false;
        rowLen[r] = 0;
    }

    /** Empties row r (its search ended, its request goes on): its KV blocks go back to the pool; it stays bound. */
    public void emptyRow(int r) {
        checkRow(r);
        selfKv.release(r);
        rowLen[r] = 0;
    }

    /** Decoder rows not bound. */
    public int freeRows() {
        int n = 0;
        for (boolean b : rowBound) if (!b) n++;
        return n;
    }

    /** Source slots not bound. */
    public int freeSources() {
        int n = 0;
        for (boolean b : sourceBound) if (!b) n++;
        return n;
    }

    /** Self-attention KV blocks held by rows (0 once every row is released). */
    public int heldKvBlocks() { return selfKv.heldBlocks(); }

    /** Row r's KV block table (for tests). */
    public int[] kvBlockTable(int row) { return selfKv.table(checkRow(row)); }

    /** Tokens row r holds. */
    public int length(int row) { return rowLen[checkRow(row)]; }

    /** The source slot row r reads. */
    public int source(int row) { return rowSource[checkRow(row)]; }

    /**
     * One decoder step: row {@code rows[i]} becomes row {@code parents[i]}'s history (as it was before this step) plus
     * {@code tokens[i]}, for every i at once; rows not named keep theirs. Returns the logits of each named row's new
     * token, [rows.length][vocab]. Greedy decoding passes rows as their own parents; a beam search passes the
     * hypotheses it keeps as parents (a parent may appear several times: a fork), and its first step is every row
     * with parent row 0 of an empty history. Rows and parents must be bound and read the same source.
     */
    public float[][] step(int[] rows, int[] parents, int[] tokens) {
        int n = rows.length;
        int[] pos = checkStep(rows, parents, tokens);
        // block tables: each stepped row shares its parent's blocks, copying a shared partial last block
        DecoderRowBlocks.Copy[] copies = selfKv.step(rows, parents, pos);
        int[] newSource = new int[n], posIds = new int[n];
        for (int i = 0; i < n; i++) newSource[i] = rowSource[parents[i]];
        batch.clear();
        crossSpans.clear();
        for (int i = 0; i < n; i++) {
            batch.add(tokens, i, 1, pos[i], selfKv.table(rows[i]));
            posIds[i] = pos[i] + (c.flavour() == Flavour.BART ? 2 : 0);
            crossSpans.add(srcStart[newSource[i]], srcLen[newSource[i]], 0);
        }
        batch.commit();
        crossSpans.commit();
        ops.write(tgtPos, posIds, 0, n);
        copyBlocks(copies);
        for (int i = 0; i < n; i++) {
            rowLen[rows[i]] = pos[i] + 1;
            rowSource[rows[i]] = newSource[i];
        }
        runDecoder(n);
        float[][] out = new float[n][c.vocab()];
        for (int i = 0; i < n; i++) ops.read(logits.row(i), out[i], 0, c.vocab());
        return out;
    }

    /**
     * Checks {@link #step}'s arguments against the rows' state (lengths, limits, vocabulary) without running anything;
     * returns each new token's position. Throws IllegalArgumentException naming the fault.
     */
    public int[] checkStep(int[] rows, int[] parents, int[] tokens) {
        int n = rows.length;
        if (n == 0 || parents.length != n || tokens.length != n) {
            throw new IllegalArgumentException("step: rows, parents and tokens must be non-empty and of one length, got " + n + ", "
                    + parents.length + ", " + tokens.length);
        }
        boolean[] seen = new boolean[rowBound.length];
        int[] pos = new int[n];
        for (int i = 0; i < n; i++) {
            int r = checkRow(rows[i]), p = checkRow(parents[i]);
            if (seen[r]) throw new IllegalArgumentException("step: row " + r + " appears twice");
            seen[r] = true;
            checkToken("step token", i, tokens[i]);
            pos[i] = rowLen[p];
            if (pos[i] + 1 > rowCap[r]) {
                throw new IllegalArgumentException("step: row " + p + " already holds " + pos[i] + " tokens, the most row " + r
                        + " holds (" + rowCap[r] + ", as addRow or startRows asked)");
            }
            if (pos[i] + 1 > c.positionLimit()) {
                throw new IllegalArgumentException("step: position " + pos[i] + " is beyond " + c.source() + "'s " + c.positionLimit()
                        + " positions (max_position_embeddings)");
            }
        }
        return pos;
    }

    /**
     * Copy on write: the filled slots of each shared partial block into the stepping row's own block, every layer. Each
     * copy is a row gather from the source block's view with the identity index (source and destination are distinct
     * blocks, so the views do not overlap).
     */
    private void copyBlocks(DecoderRowBlocks.Copy[] copies) {
        int bs = DecoderRowBlocks.BLOCK_SIZE;
        for (int l = 0; l < decoder.length; l++) {
            KvLayer kv = selfKv.layer(l);
            for (DecoderRowBlocks.Copy cp : copies) {
                Tensor slots = copyIndex.rows(0, cp.count()).reshape(cp.count());
                ops.gatherRows(kv.keys().rows((long) cp.to() * bs, cp.count()), kv.keys().rows((long) cp.from() * bs, cp.count()), slots);
                ops.gatherRows(kv.values().rows((long) cp.to() * bs, cp.count()), kv.values().rows((long) cp.from() * bs, cp.count()), slots);
            }
        }
    }

    private void runDecoder(int n) {
        Tensor x = dx.rows(0, n), h = dh.rows(0, n), delta = ddelta.rows(0, n), q = dq.rows(0, n), k = dk.rows(0, n), v = dv.rows(0, n),
                att = datt.rows(0, n), ff = dff.rows(0, n), gate = dffGate == null ? null : dffGate.rows(0, n);
        Tensor pos = tgtPos.rows(0, n).reshape(n);
        boolean t5 = c.flavour() == Flavour.T5;
        embed(x, h, batch.ids(), pos, decPositions, decEmbNorm);
        for (int l = 0; l < decoder.length; l++) {
            Layer L = decoder[l];
            Tensor in;
            if (t5) {
                ops.rmsNorm(h, l == 0 ? null : x, l == 0 ? x : delta, L.selfNorm.weight, c.eps());
                in = h;
            } else {
                in = x;
            }
            project(q, k, v, in, in, L.self);
            KvLayer kv = selfKv.layer(l);
            ops.ropeKv(q, k, v, kv, Rope.NONE, heads, batch); // no rotation: stores the new K/V at each row's position
            ops.attentionRelBiasPaged(att, q, kv, batch, decBias, radius, heads, scale);
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

    private Tensor weight(Tensor t) { return ops.weight(t, WeightUse.DECODE); }

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
        if (s < 0 || s >= sourceBound.length || !sourceBound[s]) {
            throw new IllegalArgumentException("source " + s + " is not one of the encoded sources (slots 0.." + (sourceBound.length - 1) + ")");
        }
    }

    private void checkCapacity(int maxTokens) {
        if (maxTokens < 1 || maxTokens > limits.maxTarget()) {
            throw new IllegalArgumentException("a row holds 1.." + limits.maxTarget() + " tokens (Seq2SeqLimits.maxTarget), asked for " + maxTokens);
        }
    }

    private int checkRow(int r) {
        if (r < 0 || r >= rowBound.length || !rowBound[r]) {
            throw new IllegalArgumentException("row " + r + " is not a bound decoder row (rows 0.." + (rowBound.length - 1) + ")");
        }
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
