package io.transfuse.model.rwkv;

import io.transfuse.backend.Activation;
import io.transfuse.backend.Backend;
import io.transfuse.backend.Backend.WeightUse;
import io.transfuse.backend.DecoderBatch;
import io.transfuse.backend.Pointwise;
import io.transfuse.model.DecoderGraph;
import io.transfuse.model.DecoderLimits;
import io.transfuse.model.StateSlots;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * RWKV-6 "Finch" and RWKV-7 "Goose" (Peng et al. 2024, "Eagle and Finch"; 2025, "RWKV-7 Goose"), one graph for
 * both, as llama.cpp computes them (src/models/rwkv6*.cpp, rwkv7*.cpp). Over the packed tokens:
 * <pre>
 *   res = layernorm0(embedding)
 *   per layer:  h = layernorm1(res);  sx = shift(h) - h                         (shift: the previous token's h, carried)
 *     RWKV-6:  xx = h + sx lerp_x;  x_i = h + sx (lerp_i + tanh(xx W1_i) W2_i)  for i = w, k, v, r, g
 *              r, k, v = x_r Wr, x_k Wk, x_v Wv;  w = decay + tanh(x_w Wd1) Wd2;  g = silu(x_g Wg)
 *              y = groupnorm(wkv6(r, k, v, w, u)) * g
 *     RWKV-7:  x_i = h + sx lerp_i for i = r, w, k, v, a, g;  r, k, v = x_r Wr, x_k Wk, x_v Wv
 *              w = w0 + tanh(x_w W1) W2;  a = a0 + (x_a A1) A2;  g = sigmoid(x_g G1) G2
 *              layer 0: v_first = v;  later: vmix = v0 + (x_v V1) V2
 *              y = (groupnorm(wkv7(r, w, k, v, a, ...)) + bonus) * g             (the op fuses kk, k, v mixing and bonus)
 *     res += y Wo;  h = layernorm2(res);  sx = shift(h) - h;  k = relu(x_k Wck)^2   (x_k = h + sx lerp_k)
 *     RWKV-6: res += sigmoid(x_r Wcr) * (k Wcv)  (x_r = h + sx lerp_r);  every n layers res /= 2
 *     RWKV-7: res += k Wcv
 *   logits = layernorm_out(res) W_out on each sequence's last token
 * </pre>
 * Prefill and decode are the same graph: token shifts and WKV states live in each sequence's slot
 * ({@link RwkvStates}), so one token is a decode step.
 */
public final class RwkvModel extends DecoderGraph {
    /** Positions a sequence may hold when the caller names none: the state does not grow, so this only bounds counters. */
    public static final int DEFAULT_CONTEXT = 1 << 20;

    private final RwkvConfig c;
    private final RwkvStates states;
    private final int[] slots;
    private final Layer[] layers;
    private final Tensor embedding, embNorm, embNormBias, outNorm, outNormBias, output;
    // Workspace [maxTokens][...]: res the residual stream, h the normed input, delta a block's output, sx the shift
    // difference, xm a mixed input; r, k, v, w, g, a, vmix, vFirst, y [dModel]; low (maxTokens x max rank, flat); ffn [ffn].
    private final Tensor res, h, delta, sx, xm, r, k, v, w, g, a, vmix, vFirst, y, low, ffn;

    /** A layer's tensors on the backend (see {@link RwkvWeights.Layer}; lists split per mixed input). */
    private record Layer(Tensor attnNorm, Tensor attnNormBias, Tensor ffnNorm, Tensor ffnNormBias, Tensor receptance, Tensor key,
                         Tensor value, Tensor output, Tensor lnX, Tensor lnXBias, Tensor[] lerp, Tensor cmLerpK, Tensor cmKey,
                         Tensor cmValue, Tensor lerpX, Tensor[] mixW1, Tensor[] mixW2, Tensor decay, Tensor decayW1, Tensor decayW2,
                         Tensor first, Tensor gate, Tensor cmLerpR, Tensor cmReceptance, Tensor w0, Tensor w1, Tensor w2, Tensor a0,
                         Tensor a1, Tensor a2, Tensor v0, Tensor v1, Tensor v2, Tensor g1, Tensor g2, Tensor kK, Tensor kA, Tensor rK) {}

    /** Builds the graph on {@code ops}, which it owns from now on (closed with it). */
    public RwkvModel(RwkvConfig config, RwkvWeights wts, Backend ops, DecoderLimits limits) {
        this(config, wts, ops, limits, new RwkvStates(ops, config, limits.maxSequences()));
    }

    private RwkvModel(RwkvConfig config, RwkvWeights wts, Backend ops, DecoderLimits limits, RwkvStates states) {
        super(ops, config.source(), config.dModel(), (int) wts.head().dim(0), limits.context(), limits, states);
        this.c = config;
        this.states = states;
        this.slots = new int[limits.maxSequences()];
        DType act = ops.activationType();
        int dm = c.dModel();
        embedding = ops.weight(wts.embedding(), WeightUse.STREAMED);
        output = ops.weight(wts.head(), WeightUse.DECODE);
        embNorm = ops.upload(wts.embNorm(), act);
        embNormBias = ops.upload(wts.embNormBias(), act);
        outNorm = ops.upload(wts.outNorm(), act);
        outNormBias = ops.upload(wts.outNormBias(), act);
        layers = new Layer[c.layers()];
        boolean v6 = c.version() == 6;
        for (int l = 0; l < layers.length; l++) {
            RwkvWeights.Layer L = wts.layers()[l];
            int mixes = v6 ? 5 : 6;
            Tensor[] lerp = new Tensor[mixes], mixW1 = v6 ? new Tensor[5] : null, mixW2 = v6 ? new Tensor[5] : null;
            for (int i = 0; i < mixes; i++) lerp[i] = ops.upload(L.lerpFused().rows(i, 1), act);
            if (v6) {
                int mr = c.mixRank();
                for (int i = 0; i < 5; i++) {
                    mixW1[i] = weight(L.mixW1().rows((long) i * mr, mr));
                    mixW2[i] = weight(L.mixW2().reshape(5L * dm, mr).rows((long) i * dm, dm));
                }
            }
            layers[l] = new Layer(up(L.attnNorm()), up(L.attnNormBias()), up(L.ffnNorm()), up(L.ffnNormBias()), weight(L.receptance()),
                    weight(L.key()), weight(L.value()), weight(L.output()), up(L.lnX()), up(L.lnXBias()), lerp, up(L.cmLerpK()),
                    weight(L.cmKey()), weight(L.cmValue()), up(L.lerpX()), mixW1, mixW2, up(L.decay()), weight(L.decayW1()),
                    weight(L.decayW2()), L.first() == null ? null : ops.upload(L.first(), DType.F32), weight(L.gate()), up(L.cmLerpR()),
                    weight(L.cmReceptance()), up(L.w0()), weight(L.w1()), weight(L.w2()), up(L.a0()), weight(L.a1()), weight(L.a2()),
                    up(L.v0()), weight(L.v1()), weight(L.v2()), weight(L.g1()), weight(L.g2()), up(L.kK()), up(L.kA()), up(L.rK()));
        }
        int n = limits.maxTokens();
        int rank = Math.max(Math.max(c.mixRank(), c.decayRank()), Math.max(Math.max(c.aRank(), c.vRank()), c.gateRank()));
        res = ops.allocate("residual stream", act, n, dm);
        h = ops.allocate("normed activations", act, n, dm);
        delta = ops.allocate("block outputs", act, n, dm);
        sx = ops.allocate("token-shift differences", act, n, dm);
        xm = ops.allocate("mixed inputs", act, n, dm);
        r = ops.allocate("receptance", act, n, dm);
        k = ops.allocate("keys", act, n, dm);
        v = ops.allocate("values", act, n, dm);
        w = ops.allocate("decays", act, n, dm);
        g = ops.allocate("gates", act, n, dm);
        y = ops.allocate("WKV outputs", act, n, dm);
        a = v6 ? null : ops.allocate("in-context learning rates", act, n, dm);
        vmix = v6 ? null : ops.allocate("value-residual mix", act, n, dm);
        vFirst = v6 ? null : ops.allocate("first layer values", act, n, dm);
        low = ops.allocate("low-rank activations", act, (long) n * rank, 1);
        ffn = ops.allocate("channel-mix keys", act, n, c.ffn());
    }

    private Tensor weight(Tensor t) { return t == null ? null : ops.weight(t, WeightUse.DECODE); }

    private Tensor up(Tensor t) { return t == null ? null : ops.upload(t, ops.activationType()); }

    public RwkvConfig config() { return c; }

    @Override
    protected void compute(DecoderBatch b) {
        int n = b.tokens();
        Tensor res = this.res.rows(0, n), h = this.h.rows(0, n), delta = this.delta.rows(0, n);
        ops.gatherRows(res, embedding, b.ids());
        ops.layerNorm(res, null, res, embNorm, embNormBias, c.eps());
        for (int l = 0; l < layers.length; l++) {
            Layer L = layers[l];
            if (l == 0) {
                ops.layerNorm(h, null, res, L.attnNorm, L.attnNormBias, c.eps());
            } else {
                addBlockOutput(res, delta, l - 1);
                ops.layerNorm(h, null, res, L.attnNorm, L.attnNormBias, c.eps());
            }
            shift(b, h, l, 0);
            if (c.version() == 6) timeMix6(b, L, l, n);
            else timeMix7(b, L, l, n);
            ops.matmul(delta, this.y.rows(0, n), L.output);
            ops.layerNorm(h, res, delta, L.ffnNorm, L.ffnNormBias, c.eps());
            shift(b, h, l, 1);
            channelMix(L, n, delta);
        }
        addBlockOutput(res, delta, layers.length - 1);
        ops.layerNorm(h, null, res, outNorm, outNormBias, c.eps());
        head(h, output, b);
    }

    /** res += delta, the channel mix of layer l; RWKV-6 halves the stream after every rescaleEvery layers. */
    private void addBlockOutput(Tensor res, Tensor delta, int l) {
        ops.add(res, res, delta);
        if (c.rescaleEvery() > 0 && (l + 1) % c.rescaleEvery() == 0) ops.pointwise(res, Pointwise.HALVE);
    }

    /** sx = shift(h) - h per sequence, with the shift state k (0: time mix, 1: channel mix) of layer l. */
    private void shift(DecoderBatch b, Tensor h, int l, int k) {
        Tensor sx = this.sx.rows(0, h.rows());
        for (int s = 0; s < b.sequences(); s++) {
            ops.tokenShift(sx.rows(b.start(s), b.count(s)), h.rows(b.start(s), b.count(s)), states.shift(l, k, slots[s]), b.startPos(s) == 0);
        }
    }

    private void timeMix6(DecoderBatch b, Layer L, int l, int n) {
        Tensor h = this.h.rows(0, n), sx = this.sx.rows(0, n), xm = this.xm.rows(0, n);
        // xx and the low-rank outputs borrow y and delta, free until the WKV and the output projection
        Tensor xx = this.y.rows(0, n), mixed = this.delta.rows(0, n);
        ops.tokenMix(xx, h, sx, L.lerpX, null);
        Tensor[] outs = {this.w.rows(0, n), this.k.rows(0, n), this.v.rows(0, n), this.r.rows(0, n), this.g.rows(0, n)};
        Tensor[] proj = {null, L.key, L.value, L.receptance, L.gate};
        for (int i = 0; i < 5; i++) {
            Tensor lo = lowRank(n, c.mixRank());
            ops.matmul(lo, xx, L.mixW1[i]);
            ops.pointwise(lo, Pointwise.TANH);
            ops.matmul(mixed, lo, L.mixW2[i]);
            ops.tokenMix(xm, h, sx, mixed, L.lerp[i]);
            if (i == 0) {
                Tensor dl = lowRank(n, c.decayRank());
                ops.matmul(dl, xm, L.decayW1);
                ops.pointwise(dl, Pointwise.TANH);
                ops.linear(outs[0], dl, L.decayW2, L.decay, Activation.IDENTITY);
            } else {
                ops.matmul(outs[i], xm, proj[i]);
            }
        }
        Tensor y = this.y.rows(0, n);
        for (int s = 0; s < b.sequences(); s++) {
            int r0 = b.start(s), cnt = b.count(s);
            ops.wkv6(y.rows(r0, cnt), states.wkv(l, slots[s]), outs[3].rows(r0, cnt), outs[1].rows(r0, cnt), outs[2].rows(r0, cnt),
                    outs[0].rows(r0, cnt), L.first, L.lnX, L.lnXBias, RwkvConfig.GROUP_NORM_EPS, b.startPos(s) == 0);
        }
        ops.glu(y, outs[4], y, Activation.SILU);
    }

    private void timeMix7(DecoderBatch b, Layer L, int l, int n) {
        Tensor h = this.h.rows(0, n), sx = this.sx.rows(0, n), xm = this.xm.rows(0, n);
        Tensor r = this.r.rows(0, n), w = this.w.rows(0, n), k = this.k.rows(0, n), a = this.a.rows(0, n), g = this.g.rows(0, n);
        Tensor v = (l == 0 ? this.vFirst : this.v).rows(0, n), vmix = this.vmix.rows(0, n);
        ops.tokenMix(xm, h, sx, L.lerp[0], null);
        ops.matmul(r, xm, L.receptance);
        ops.tokenMix(xm, h, sx, L.lerp[1], null);
        Tensor lo = lowRank(n, c.decayRank());
        ops.matmul(lo, xm, L.w1);
        ops.pointwise(lo, Pointwise.TANH);
        ops.linear(w, lo, L.w2, L.w0, Activation.IDENTITY);
        ops.tokenMix(xm, h, sx, L.lerp[2], null);
        ops.matmul(k, xm, L.key);
        ops.tokenMix(xm, h, sx, L.lerp[3], null);
        ops.matmul(v, xm, L.value);
        if (l > 0) {
            lo = lowRank(n, c.vRank());
            ops.matmul(lo, xm, L.v1);
            ops.linear(vmix, lo, L.v2, L.v0, Activation.IDENTITY);
        }
        ops.tokenMix(xm, h, sx, L.lerp[4], null);
        lo = lowRank(n, c.aRank());
        ops.matmul(lo, xm, L.a1);
        ops.linear(a, lo, L.a2, L.a0, Activation.IDENTITY);
        ops.tokenMix(xm, h, sx, L.lerp[5], null);
        lo = lowRank(n, c.gateRank());
        ops.matmul(lo, xm, L.g1);
        ops.pointwise(lo, Pointwise.SIGMOID);
        ops.matmul(g, lo, L.g2);
        Tensor y = this.y.rows(0, n), vFirst = this.vFirst.rows(0, n);
        for (int s = 0; s < b.sequences(); s++) {
            int r0 = b.start(s), cnt = b.count(s);
            ops.wkv7(y.rows(r0, cnt), states.wkv(l, slots[s]), r.rows(r0, cnt), w.rows(r0, cnt), k.rows(r0, cnt), v.rows(r0, cnt),
                    a.rows(r0, cnt), l == 0 ? null : vFirst.rows(r0, cnt), l == 0 ? null : vmix.rows(r0, cnt), L.kK, L.kA, L.rK, L.lnX,
                    L.lnXBias, RwkvConfig.GROUP_NORM_EPS, b.startPos(s) == 0);
        }
        ops.glu(y, g, y, Activation.IDENTITY);
    }

    /** delta = the channel mix of h (sx its shift difference): RWKV-6 sigmoid(x_r Wr) * (relu(x_k Wk)^2 Wv), RWKV-7 without r. */
    private void channelMix(Layer L, int n, Tensor delta) {
        Tensor h = this.h.rows(0, n), sx = this.sx.rows(0, n), xm = this.xm.rows(0, n), ffn = this.ffn.rows(0, n);
        ops.tokenMix(xm, h, sx, L.cmLerpK, null);
        ops.matmul(ffn, xm, L.cmKey);
        ops.pointwise(ffn, Pointwise.RELU_SQUARED);
        ops.matmul(delta, ffn, L.cmValue);
        if (c.version() == 6) {
            Tensor r = this.r.rows(0, n);
            ops.tokenMix(xm, h, sx, L.cmLerpR, null);
            ops.matmul(r, xm, L.cmReceptance);
            ops.pointwise(r, Pointwise.SIGMOID);
            ops.glu(delta, r, delta, Activation.IDENTITY);
        }
    }

    /** A contiguous [n][rank] view of the low-rank buffer (maxTokens * maxRank values, cut to each rank). */
    private Tensor lowRank(int n, int rank) {
        return low.rows(0, (long) n * rank).reshape(n, rank);
    }

    /** A recorded decode step reads and writes the state slots of its sequences, and zeroes those that start afresh. */
    @Override
    protected Object replayKey(DecoderBatch b) {
        List<Integer> key = new ArrayList<>();
        for (int s = 0; s < b.sequences(); s++) key.add(slots[s] * 2 + (b.startPos(s) == 0 ? 1 : 0));
        return key;
    }

    @Override
    protected void admitted(int s, Sequence sequence) {
        slots[s] = ((StateSlots.Slot) sequence).slot;
    }
}
