package io.transfuse.model;

import io.transfuse.backend.Backend;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The Mamba-1 language model (Gu &amp; Dao 2023, "Mamba: Linear-Time Sequence Modeling with
 * Selective State Spaces", Algorithm 2 and Figure 3), per layer:
 * <pre>
 *   h      = rmsnorm(x)
 *   u, z   = W_in,x h, W_in,z h                    (in_proj, split in halves)
 *   u      = silu(causal_conv1d(u))                 (depthwise, width dConv, conv state carried)
 *   dt, B, C = W_x u  (split dtRank | dState | dState); dt = W_dt dt   (x_proj, dt_proj)
 *   y      = selective_scan(u, softplus(dt + b_dt), A = -exp(A_log), B, C, D) * silu(z)
 *   x     += W_out y                                (out_proj)
 * </pre>
 * then a final RMSNorm and the head. Prefill and decode are the same graph: the conv and scan
 * ops carry their per-sequence state ({@link MambaState}), so one token is a decode step.
 *
 * <p>The in_proj and x_proj outputs are split by slicing their weight rows (contiguous in the
 * file), so every activation is a contiguous [tokens][width] block. Activations live in a
 * workspace for {@code chunk} tokens allocated here; nothing is allocated per token. Not thread-safe.
 */
public final class MambaModel implements Decoder {
    /** Positions a sequence may hold when the caller names none: the state does not grow, so this only bounds counters. */
    public static final int DEFAULT_CONTEXT = 1 << 20;

    private final MambaConfig c;
    private final MambaWeights w;
    private final Backend ops;
    private final int chunk, vocabRows;
    // Workspace: x is the residual stream, h the normed input / block output; u, z, dt are
    // [chunk][dInner]; dtLow [chunk][dtRank]; bm, cm [chunk][dState].
    private final MemorySegment x, h, u, z, dt, dtLow, bm, cm, logits, ids;
    // Per layer, as F32 (small): norm, conv weight and bias, dt bias, A = -exp(A_log), D; biases of
    // in_proj (x, z halves) and out_proj when use_bias.
    private final MemorySegment[] norm, convW, convB, dtBias, a, dSkip, inBiasX, inBiasZ, outBias;
    private final MemorySegment normF;

    public MambaModel(MambaConfig config, MambaWeights weights, Backend ops, TrackedArena arena, int chunk) {
        if (chunk <= 0) throw new IllegalArgumentException("chunk must be positive, got " + chunk);
        this.c = config;
        this.w = weights;
        this.ops = ops;
        this.chunk = chunk;
        this.vocabRows = (int) weights.head().dim(0);
        int di = c.dInner();
        x = arena.allocateFloats((long) chunk * c.dModel());
        h = arena.allocateFloats((long) chunk * c.dModel());
        u = arena.allocateFloats((long) chunk * di);
        z = arena.allocateFloats((long) chunk * di);
        dt = arena.allocateFloats((long) chunk * di);
        dtLow = arena.allocateFloats((long) chunk * c.dtRank());
        bm = arena.allocateFloats((long) chunk * c.dState());
        cm = arena.allocateFloats((long) chunk * c.dState());
        logits = arena.allocateFloats(vocabRows);
        ids = arena.allocate((long) chunk * Integer.BYTES);
        int n = c.layers();
        norm = new MemorySegment[n];
        convW = new MemorySegment[n];
        convB = new MemorySegment[n];
        dtBias = new MemorySegment[n];
        a = new MemorySegment[n];
        dSkip = new MemorySegment[n];
        inBiasX = new MemorySegment[n];
        inBiasZ = new MemorySegment[n];
        outBias = new MemorySegment[n];
        for (int l = 0; l < n; l++) {
            MambaWeights.Layer L = w.layers()[l];
            norm[l] = Dequantize.toF32(L.norm(), arena);
            convW[l] = Dequantize.toF32(L.convWeight(), arena); // [dInner][1][dConv] is [dInner][dConv]
            convB[l] = L.convBias() == null ? null : Dequantize.toF32(L.convBias(), arena);
            dtBias[l] = Dequantize.toF32(L.dtBias(), arena);
            a[l] = Dequantize.toF32(L.aLog(), arena);
            for (long i = 0; i < (long) di * c.dState(); i++) {
                a[l].setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) -Math.exp(a[l].getAtIndex(ValueLayout.JAVA_FLOAT, i)));
            }
            dSkip[l] = Dequantize.toF32(L.d(), arena);
            if (L.inProjBias() != null) {
                MemorySegment b = Dequantize.toF32(L.inProjBias(), arena);
                inBiasX[l] = b.asSlice(0, (long) di * Float.BYTES);
                inBiasZ[l] = b.asSlice((long) di * Float.BYTES, (long) di * Float.BYTES);
            }
            outBias[l] = L.outProjBias() == null ? null : Dequantize.toF32(L.outProjBias(), arena);
        }
        normF = Dequantize.toF32(w.normF(), arena);
    }

    public MambaConfig config() { return c; }

    @Override public String source() { return c.source(); }

    /** The head's rows: vocab_size, or more when the checkpoint pads its embedding. */
    @Override public int vocabSize() { return vocabRows; }

    @Override public int contextLength() { return DEFAULT_CONTEXT; }

    @Override
    public MambaState newState(int capacity, TrackedArena arena) { return new MambaState(c, capacity, arena); }

    @Override
    public void forward(int[] tokens, int from, int count, int startPos, SequenceState state, float[] out) {
        MemorySegment.copy(forward(tokens, from, count, startPos, (MambaState) state), ValueLayout.JAVA_FLOAT, 0, out, 0, vocabRows);
    }

    /**
     * Runs {@code tokens[from, from + count)} at positions {@code startPos..} and returns the
     * logits of the last one (F32 [vocabSize()], valid until the next call). A recurrent state
     * cannot rewind: startPos is 0 (a new sequence; the state is cleared) or where the state stopped.
     */
    public MemorySegment forward(int[] tokens, int from, int count, int startPos, MambaState state) {
        if (count <= 0) throw new IllegalArgumentException("count must be positive, got " + count);
        if (startPos != 0 && startPos != state.position()) {
            throw new IllegalArgumentException("a Mamba state continues at position " + state.position()
                    + " or restarts at 0; cannot run from position " + startPos);
        }
        if ((long) startPos + count > state.capacity()) {
            throw new IllegalArgumentException("positions up to " + ((long) startPos + count) + " exceed the context of " + state.capacity());
        }
        if (startPos == 0) state.reset();
        for (int done = 0; done < count; done += chunk) {
            int n = Math.min(chunk, count - done);
            MemorySegment.copy(tokens, from + done, ids, ValueLayout.JAVA_INT, 0, n);
            layers(n, state);
            state.advance(n);
        }
        int last = (count - 1) % chunk;
        long row = (long) c.dModel() * Float.BYTES;
        ops.rmsnorm(h, x.asSlice(last * row, row), normF, 1, c.dModel(), c.eps());
        matmul(logits, h, w.head(), 0, vocabRows, 1, c.dModel());
        return logits;
    }

    /** The n tokens in {@code ids} through every layer, leaving the residual stream in x. */
    private void layers(int n, MambaState state) {
        int dm = c.dModel(), di = c.dInner(), ds = c.dState(), r = c.dtRank();
        ops.embedding(x, w.embedding().data(), w.embedding().dtype(), ids, n, dm);
        for (int l = 0; l < c.layers(); l++) {
            MambaWeights.Layer L = w.layers()[l];
            ops.rmsnorm(h, x, norm[l], n, dm, c.eps());
            matmul(u, h, L.inProj(), 0, di, n, dm);
            matmul(z, h, L.inProj(), di, di, n, dm);
            addBias(u, inBiasX[l], n, di);
            addBias(z, inBiasZ[l], n, di);
            ops.causalConv1d(u, state.conv(l), u, convW[l], convB[l], n, di, c.dConv(), true);
            matmul(dtLow, u, L.xProj(), 0, r, n, di);
            matmul(bm, u, L.xProj(), r, ds, n, di);
            matmul(cm, u, L.xProj(), r + ds, ds, n, di);
            matmul(dt, dtLow, L.dtProj(), 0, di, n, r);
            ops.selectiveScan(u, state.ssm(l), u, dt, a[l], bm, cm, dSkip[l], z, dtBias[l], n, di, ds, true);
            matmul(h, u, L.outProj(), 0, dm, n, di);
            addBias(h, outBias[l], n, dm);
            ops.add(x, x, h, (long) n * dm);
        }
    }

    /** out [n][rows] = rows {@code [first, first + rows)} of weight (each inDim wide) applied to in [n][inDim]. */
    private void matmul(MemorySegment out, MemorySegment in, Tensor weight, int first, int rows, int n, int inDim) {
        long rowBytes = weight.dtype().bytesFor(inDim);
        ops.matmul(out, in, weight.data().asSlice(first * rowBytes, rows * rowBytes), weight.dtype(), n, inDim, rows);
    }

    private void addBias(MemorySegment out, MemorySegment bias, int n, int width) {
        if (bias == null) return;
        long row = (long) width * Float.BYTES;
        for (int t = 0; t < n; t++) {
            MemorySegment r = out.asSlice(t * row, row);
            ops.add(r, r, bias, width);
        }
    }
}
