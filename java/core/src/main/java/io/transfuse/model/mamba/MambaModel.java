package io.transfuse.model.mamba;

import io.transfuse.backend.Activation;
import io.transfuse.backend.Backend;
import io.transfuse.backend.Backend.WeightUse;
import io.transfuse.backend.DecoderBatch;
import io.transfuse.model.DecoderGraph;
import io.transfuse.model.DecoderLimits;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;


/**
 * The Mamba-1 language model (Gu &amp; Dao 2023, "Mamba: Linear-Time Sequence Modeling with Selective
 * State Spaces", Algorithm 2 and Figure 3), once for every backend. Per layer, over the packed tokens:
 * <pre>
 *   h      = rmsnorm(res += delta)                     (the first layer: rmsnorm(res))
 *   u, z   = h W_in,x^T + b, h W_in,z^T + b            (in_proj, split in halves)
 *   u      = silu(causal_conv1d(u))                    (per sequence, depthwise, width dConv, conv state carried)
 *   dt, B, C = u W_x^T  (split dtRank | dState | dState); dt = dt W_dt^T   (x_proj, dt_proj)
 *   y      = selective_scan(u, softplus(dt + b_dt), A = -exp(A_log), B, C, D) * silu(z)   (per sequence)
 *   delta  = y W_out^T + b                             (out_proj)
 * </pre>
 * then a final RMSNorm and the head on each sequence's last token. Prefill and decode are the same
 * graph: the conv and the scan carry each sequence's state in its slot ({@link MambaStates}), so a token
 * is a decode step; a batch of decode steps runs as a recorded step ({@link DecoderGraph}).
 *
 * <p>The in_proj and x_proj outputs are split by taking row ranges of their weights, so every activation
 * is a contiguous token-major [tokens][width] block.
 */
public final class MambaModel extends StateSpaceGraph {
    /** Positions a sequence may hold when the caller names none: the state does not grow, so this only bounds counters. */
    public static final int DEFAULT_CONTEXT = 1 << 20;

    private final MambaConfig c;
    private final MambaStates states;
    private final Layer[] layers;
    private final Tensor embedding, normF, output;
    // Workspace: res the residual stream, h the normed input / block output [maxTokens][dModel]; u, z, dt
    // [maxTokens][dInner]; dtLow [maxTokens][dtRank]; bm, cm [maxTokens][dState].
    private final Tensor res, h, delta, u, z, dt, dtLow, bm, cm;

    /**
     * Per layer: the norm; in_proj's x and z halves (and biases); conv weight [dInner][dConv] and bias;
     * x_proj's dt, B and C row blocks; dt_proj and its bias; A = -exp(A_log) and D (F32); out_proj (and bias).
     */
    private record Layer(Tensor norm, Tensor inX, Tensor inZ, Tensor inBiasX, Tensor inBiasZ, Tensor convW, Tensor convB,
                         Tensor xDt, Tensor xB, Tensor xC, Tensor dtProj, Tensor dtBias, Tensor a, Tensor d, Tensor outProj,
                         Tensor outBias) {}

    /** Builds the graph on {@code ops}, which it owns from now on (closed with it). */
    public MambaModel(MambaConfig config, MambaWeights w, Backend ops, DecoderLimits limits) {
        this(config, w, ops, limits, new MambaStates(ops, config, limits.maxSequences()));
    }

    private MambaModel(MambaConfig config, MambaWeights w, Backend ops, DecoderLimits limits, MambaStates states) {
        super(ops, config.source(), config.dModel(), (int) w.head().dim(0), limits, states);
        this.c = config;
        this.states = states;
        int di = c.dInner(), ds = c.dState(), r = c.dtRank(), dm = c.dModel();
        DType act = ops.activationType();
        embedding = ops.weight(w.embedding(), WeightUse.STREAMED);
        output = w.head() == w.embedding() ? embedding : ops.weight(w.head(), WeightUse.DECODE);
        normF = ops.upload(w.normF(), act);
        layers = new Layer[c.layers()];
        for (int l = 0; l < layers.length; l++) {
            MambaWeights.Layer L = w.layers()[l];
            Tensor inBias = L.inProjBias();
            layers[l] = new Layer(ops.upload(L.norm(), act),
                    weight(L.inProj().rows(0, di)), weight(L.inProj().rows(di, di)),
                    inBias == null ? null : ops.upload(inBias.reshape(2, di).row(0), act),
                    inBias == null ? null : ops.upload(inBias.reshape(2, di).row(1), act),
                    ops.upload(L.convWeight().reshape(di, c.dConv()), act),
                    L.convBias() == null ? null : ops.upload(L.convBias(), act),
                    weight(L.xProj().rows(0, r)), weight(L.xProj().rows(r, ds)), weight(L.xProj().rows(r + ds, ds)),
                    weight(L.dtProj()), ops.upload(L.dtBias(), DType.F32), minusExp(L.aLog(), c.dInner(), c.dState()), ops.upload(L.d(), DType.F32),
                    weight(L.outProj()), L.outProjBias() == null ? null : ops.upload(L.outProjBias(), act));
        }
        int n = limits.maxTokens();
        res = ops.allocate("residual stream", act, n, dm);
        h = ops.allocate("normed activations", act, n, dm);
        delta = ops.allocate("block outputs", act, n, dm);
        u = ops.allocate("mixer input", act, n, di);
        z = ops.allocate("mixer gate", act, n, di);
        dt = ops.allocate("time steps", act, n, di);
        dtLow = ops.allocate("low-rank time steps", act, n, r);
        bm = ops.allocate("SSM input matrix B", act, n, ds);
        cm = ops.allocate("SSM output matrix C", act, n, ds);
    }

    private Tensor weight(Tensor w) { return ops.weight(w, WeightUse.DECODE); }

    public MambaConfig config() { return c; }

    @Override
    protected void compute(DecoderBatch b) {
        int n = b.tokens(), seqs = b.sequences();
        Tensor res = this.res.rows(0, n), h = this.h.rows(0, n), delta = this.delta.rows(0, n), u = this.u.rows(0, n),
                z = this.z.rows(0, n), dt = this.dt.rows(0, n), dtLow = this.dtLow.rows(0, n), bm = this.bm.rows(0, n),
                cm = this.cm.rows(0, n);
        ops.gatherRows(res, embedding, b.ids());
        for (int l = 0; l < layers.length; l++) {
            Layer L = layers[l];
            ops.rmsNorm(h, l == 0 ? null : res, l == 0 ? res : delta, L.norm, c.eps());
            ops.linear(u, h, L.inX, L.inBiasX, Activation.IDENTITY);
            ops.linear(z, h, L.inZ, L.inBiasZ, Activation.IDENTITY);
            for (int s = 0; s < seqs; s++) {
                Tensor us = u.rows(b.start(s), b.count(s));
                ops.causalConv1d(us, us, states.conv(l, slots[s]), L.convW, L.convB, true, b.startPos(s) == 0);
            }
            ops.matmul(dtLow, u, L.xDt);
            ops.matmul(bm, u, L.xB);
            ops.matmul(cm, u, L.xC);
            ops.matmul(dt, dtLow, L.dtProj);
            for (int s = 0; s < seqs; s++) {
                int r0 = b.start(s), k = b.count(s);
                Tensor us = u.rows(r0, k);
                ops.selectiveScan(us, states.ssm(l, slots[s]), us, dt.rows(r0, k), L.a, bm.rows(r0, k), cm.rows(r0, k), L.d,
                        z.rows(r0, k), L.dtBias, true, b.startPos(s) == 0);
            }
            ops.linear(delta, u, L.outProj, L.outBias, Activation.IDENTITY);
        }
        ops.rmsNorm(h, res, delta, normF, c.eps());
        head(h, output, b);
    }
}
