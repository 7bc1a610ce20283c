package io.transfuse.model.mamba;

import io.transfuse.backend.Activation;
import io.transfuse.backend.Backend;
import io.transfuse.backend.Backend.WeightUse;
import io.transfuse.backend.DecoderBatch;
import io.transfuse.model.DecoderLimits;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;


/**
 * The Mamba-2 language model (Dao &amp; Gu 2024, "Transformers are SSMs", section 7 and Figure 6: the Mamba-2
 * block), once for every backend. Per layer, over the packed tokens:
 * <pre>
 *   h        = rmsnorm(res += delta)                          (the first layer: rmsnorm(res))
 *   z, x, B, C, dt = h W_in^T (+ b)                           (in_proj, split by rows: dInner, dInner, G N, G N, heads)
 *   x, B, C  = silu(causal_conv1d(x, B, C))                   (per sequence, depthwise, width dConv, conv states carried)
 *   y        = ssd(x, softplus(dt + dt_bias), A = -exp(A_log), B, C, D)   (per sequence, per head, state carried)
 *   y        = rmsnorm_per_group(y * silu(z)) * w_norm        (gated RMSNorm, G groups)
 *   delta    = y W_out^T (+ b)                                (out_proj)
 * </pre>
 * then a final RMSNorm and the head on each sequence's last token. Prefill and decode are the same graph:
 * the convs and the scan carry each sequence's state in its slot ({@link MambaStates}); the backend runs a
 * many-token scan in the chunked form and a one-token scan as the recurrence.
 *
 * <p>in_proj's outputs and the conv's channels are split by taking row ranges of their weights (the conv is
 * depthwise, so a conv over x, B and C is three convs), so every activation is a contiguous token-major
 * [tokens][width] block.
 */
public final class Mamba2Model extends StateSpaceGraph {
    /** Positions a sequence may hold when the caller names none: the state does not grow, so this only bounds counters. */
    public static final int DEFAULT_CONTEXT = MambaModel.DEFAULT_CONTEXT;

    private final Mamba2Config c;
    private final MambaStates states;
    private final Layer[] layers;
    private final Tensor embedding, normF, output;
    // Workspace: res the residual stream, h the normed input / block output [maxTokens][dModel]; z, x, y
    // [maxTokens][dInner]; bm, cm [maxTokens][groups * dState]; dt [maxTokens][heads].
    private final Tensor res, h, delta, z, x, y, bm, cm, dt;

    /**
     * Per layer: the norm; in_proj's z, x, B, C, dt row blocks (and biases); the conv's x, B, C row blocks
     * [channels][dConv] (and biases); dt_bias, A = -exp(A_log), D (F32, [heads]); the gated norm; out_proj.
     */
    private record Layer(Tensor norm, Tensor[] in, Tensor[] inBias, Tensor[] conv, Tensor[] convBias, Tensor dtBias, Tensor a,
                         Tensor d, Tensor gateNorm, Tensor outProj, Tensor outBias) {}

    /** Builds the graph on {@code ops}, which it owns from now on (closed with it). */
    public Mamba2Model(Mamba2Config config, Mamba2Weights w, Backend ops, DecoderLimits limits) {
        this(config, w, ops, limits, new MambaStates(ops, config.source(), "Mamba-2", config.layers(), limits.maxSequences(),
                new int[] {config.dInner(), config.bcWidth(), config.bcWidth()}, config.dConv(),
                config.heads() * config.headDim(), config.dState()));
    }

    private Mamba2Model(Mamba2Config config, Mamba2Weights w, Backend ops, DecoderLimits limits, MambaStates states) {
        super(ops, config.source(), config.dModel(), (int) w.head().dim(0), limits, states);
        this.c = config;
        this.states = states;
        int di = c.dInner(), gn = c.bcWidth(), nh = c.heads(), dm = c.dModel();
        DType act = ops.activationType();
        embedding = ops.weight(w.embedding(), WeightUse.STREAMED);
        output = w.head() == w.embedding() ? embedding : ops.weight(w.head(), WeightUse.DECODE);
        normF = ops.upload(w.normF(), act);
        // in_proj rows: z, x, B, C, dt; conv channels: x, B, C
        long[] inRows = {0, di, 2L * di, 2L * di + gn, 2L * di + 2L * gn, c.inProjRows()};
        long[] convRows = {0, di, di + gn, c.convDim()};
        layers = new Layer[c.layers()];
        for (int l = 0; l < layers.length; l++) {
            Mamba2Weights.Layer L = w.layers()[l];
            Tensor[] in = new Tensor[5], inBias = new Tensor[5], conv = new Tensor[3], convBias = new Tensor[3];
            Tensor convW = L.convWeight().reshape(c.convDim(), c.dConv());
            for (int k = 0; k < 5; k++) {
                long r0 = inRows[k], n = inRows[k + 1] - r0;
                in[k] = ops.weight(L.inProj().rows(r0, n), WeightUse.DECODE);
                if (L.inProjBias() != null) inBias[k] = ops.upload(L.inProjBias().reshape(c.inProjRows(), 1).rows(r0, n), act);
            }
            for (int k = 0; k < 3; k++) {
                long r0 = convRows[k], n = convRows[k + 1] - r0;
                conv[k] = ops.upload(convW.rows(r0, n), act);
                if (L.convBias() != null) convBias[k] = ops.upload(L.convBias().reshape(c.convDim(), 1).rows(r0, n), act);
            }
            layers[l] = new Layer(ops.upload(L.norm(), act), in, inBias, conv, convBias, ops.upload(L.dtBias(), DType.F32),
                    minusExp(L.aLog(), c.heads()), ops.upload(L.d(), DType.F32), ops.upload(L.gateNorm(), act),
                    ops.weight(L.outProj(), WeightUse.DECODE), L.outProjBias() == null ? null : ops.upload(L.outProjBias(), act));
        }
        int n = limits.maxTokens();
        res = ops.allocate("residual stream", act, n, dm);
        h = ops.allocate("normed activations", act, n, dm);
        delta = ops.allocate("block outputs", act, n, dm);
        z = ops.allocate("mixer gate", act, n, di);
        x = ops.allocate("mixer input", act, n, di);
        y = ops.allocate("SSD output", act, n, di);
        bm = ops.allocate("SSM input matrix B", act, n, gn);
        cm = ops.allocate("SSM output matrix C", act, n, gn);
        dt = ops.allocate("time steps", act, n, nh);
    }

    public Mamba2Config config() { return c; }

    @Override
    protected void compute(DecoderBatch b) {
        int n = b.tokens(), seqs = b.sequences();
        Tensor res = this.res.rows(0, n), h = this.h.rows(0, n), delta = this.delta.rows(0, n), z = this.z.rows(0, n),
                x = this.x.rows(0, n), y = this.y.rows(0, n), bm = this.bm.rows(0, n), cm = this.cm.rows(0, n), dt = this.dt.rows(0, n);
        Tensor[] proj = {z, x, bm, cm, dt}, convIn = {x, bm, cm};
        ops.gatherRows(res, embedding, b.ids());
        for (int l = 0; l < layers.length; l++) {
            Layer L = layers[l];
            ops.rmsNorm(h, l == 0 ? null : res, l == 0 ? res : delta, L.norm, c.eps());
            for (int k = 0; k < 5; k++) ops.linear(proj[k], h, L.in[k], L.inBias[k], Activation.IDENTITY);
            for (int s = 0; s < seqs; s++) {
                int r0 = b.start(s), cnt = b.count(s), slot = slots[s];
                boolean fresh = b.startPos(s) == 0;
                for (int k = 0; k < 3; k++) {
                    Tensor t = convIn[k].rows(r0, cnt);
                    ops.causalConv1d(t, t, states.conv(l, k, slot), L.conv[k], L.convBias[k], true, fresh);
                }
                ops.ssdScan(y.rows(r0, cnt), states.ssm(l, slot), x.rows(r0, cnt), dt.rows(r0, cnt), L.a, bm.rows(r0, cnt),
                        cm.rows(r0, cnt), L.d, L.dtBias, fresh);
            }
            ops.gatedRmsNorm(y, y, z, L.gateNorm, c.dInner() / c.groups(), c.eps());
            ops.linear(delta, y, L.outProj, L.outBias, Activation.IDENTITY);
        }
        ops.rmsNorm(h, res, delta, normF, c.eps());
        head(h, output, b);
    }
}
