package io.transfuse.backend;

import io.transfuse.memory.TrackedArena;
import io.transfuse.model.DecoderLimits;
import io.transfuse.model.KvCache;
import io.transfuse.model.PagedSequence;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The op set's contract, checked on any backend: every op of {@link Backend} runs on the backend under
 * test and on {@link ReferenceBackend} (plain double-precision Java) with the same random inputs, and the
 * outputs (and the state an op updates: residual streams, KV cache, conv and SSM states) must agree
 * within {@code tol} x (1 + the largest reference value). Shared by the CPU tests and the CUDA module's
 * cuda-emu tests; {@code tol} reflects the backend's activation type (F32 ~1e-5, F16 ~1e-2, BF16 ~1e-1).
 *
 * <p>The attention part is the heart of the batched design: a paged KV cache whose sequences hold
 * scattered blocks, one batch where every sequence starts at position 0 (prefill), one that mixes a
 * continued prefill with decode steps, and a decode-only batch run through {@link Backend#replay} three
 * times (on a GPU: run, record, replay). The same passes run plain, with a sliding window (which cuts into
 * the prefill, the continued chunk and the decode steps, and leaves whole blocks behind), with a logit
 * soft-cap, and with both at head dim 256 (Gemma's local layers).
 */
public final class OpConformance {
    private final Backend b;
    private final ReferenceBackend r;
    private final TrackedArena host = new TrackedArena("op conformance inputs");
    private final SplittableRandom rnd = new SplittableRandom(17);
    private final double tol;
    /**
     * The tolerance of what reads the KV cache (paged attention, the cache itself). With an F16 cache the
     * reference stores the same f16 roundings, but its RoPE runs in double and the backend's in f32, so about
     * one key value in 2000 (the f32 rounding error, ~3e-7 relative, over the f16 spacing, 2^-10) lands on
     * the other side of a rounding midpoint and differs by one f16 ulp, 2^-10 relative: the cache then
     * differs by up to 2^-10 |k| and a score by 2^-10 scale q_i k_i, which moves an attention output by
     * up to ~1e-4 in these shapes (4e-5 measured). So one f16 ulp, 2^-10 relative (twice f16's rounding
     * error 2^-11) x (1 + the largest value), where that exceeds tol: it covers such a flip of any cached value
     * (ulp(x) <= 2^-10 |x|); a wrong block, position or mask still moves outputs by ~1 / context.
     */
    private final double kvTol;
    private final String name;

    private OpConformance(Backend b, double tol) {
        this.b = b;
        // a backend with an F16 KV cache is compared with a reference whose cache holds the same rounded values
        this.r = new ReferenceBackend(b.kvCacheType() == DType.F16);
        this.tol = tol;
        this.kvTol = b.kvCacheType() == DType.F16 ? Math.max(tol, Math.scalb(1.0, -10)) : tol;
        this.name = b.name() + "/" + b.activationType() + "/kv " + b.kvCacheType();
    }

    /** Runs every check on {@code backend} (which stays open; the caller closes it). */
    public static void check(Backend backend, double tol) {
        OpConformance c = new OpConformance(backend, tol);
        try {
            c.dense();
            c.norms();
            c.decoderAttention(64, 1, 0, 0f);
            c.decoderAttention(64, 1, 6, 0f);
            c.decoderAttention(64, 3, 0, 2f);
            c.decoderAttention(256, 3, 6, 2f);
            c.varlenAttention();
            c.windowAttention();
            c.stateSpace();
            c.ssd();
            c.convolution();
            c.detrOps();
            c.relBiasAttention();
            c.relBiasAttentionPaged();
        } finally {
            c.r.close();
            c.host.close();
        }
    }

    // ---- inputs and comparison -------------------------------------------------------------------

    /** A host F32 tensor of random values (normal(0, scale)). */
    private Tensor random(String name, double scale, long... shape) {
        long n = Tensor.elementCount(shape);
        MemorySegment s = host.allocateFloats(n);
        for (long i = 0; i < n; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (scale * gaussian()));
        return new Tensor(name, DType.F32, shape, s);
    }

    private double gaussian() {
        double u = 1 - rnd.nextDouble(), v = rnd.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }

    /** The same values on both backends (activation type), as a pair. */
    private record Pair(Tensor b, Tensor r) {}

    private Pair act(Tensor hostValues) {
        return new Pair(b.upload(hostValues, b.activationType()), r.upload(hostValues, DType.F32));
    }

    private Pair act(String name, double scale, long... shape) { return act(random(name, scale, shape)); }

    private Pair f32(Tensor hostValues) { return new Pair(b.upload(hostValues, DType.F32), r.upload(hostValues, DType.F32)); }

    private Pair weight(Tensor hostValues, Backend.WeightUse use) {
        return new Pair(b.weight(hostValues, use), r.weight(hostValues, use));
    }

    private Pair zeros(String name, DType type, long... shape) {
        return new Pair(b.allocate(name, type == DType.F32 ? DType.F32 : b.activationType(), shape), r.allocate(name, DType.F32, shape));
    }

    /** Compares a pair's first {@code rows} rows (contiguous tensors). */
    private void same(String what, Pair p) { same(what, p, tol); }

    private void same(String what, Pair p, double tol) {
        int n = Math.toIntExact(p.r().elementCount());
        float[] got = new float[n], want = new float[n];
        b.read(p.b(), got, 0, n);
        r.read(p.r(), want, 0, n);
        double scale = 0, worst = 0;
        int at = -1;
        for (int i = 0; i < n; i++) scale = Math.max(scale, Math.abs(want[i]));
        for (int i = 0; i < n; i++) {
            double d = Math.abs(got[i] - want[i]);
            if (!(d <= worst)) {
                worst = d;
                at = i;
            }
        }
        double limit = tol * (1 + scale);
        assertTrue(worst <= limit, name + " " + what + ": element " + at + " is " + (at >= 0 ? got[at] : 0) + ", the reference "
                + (at >= 0 ? want[at] : 0) + " (|diff| " + worst + " > " + limit + ")");
    }

    // ---- convolution -----------------------------------------------------------------------------

    /** conv2d over the geometries a ResNet and its relatives use, each with bias and ReLU off and on. */
    private void convolution() {
        List<Conv2d> shapes = List.of(
                Conv2d.square(1, 9, 7, 5, 6, 3, 1, 1, 1, 1),      // 3x3 same, odd sizes
                Conv2d.square(2, 11, 10, 3, 8, 7, 2, 3, 1, 1),    // the ResNet stem: 7x7 stride 2 pad 3
                Conv2d.square(1, 8, 8, 16, 70, 1, 1, 0, 1, 1),    // 1x1 (plain GEMM), over one 64-channel tile
                Conv2d.square(1, 9, 9, 12, 8, 1, 2, 0, 1, 1),     // 1x1 stride 2 (the downsample branch)
                Conv2d.square(1, 10, 9, 6, 4, 3, 1, 2, 2, 1),     // dilation 2
                Conv2d.square(1, 7, 6, 8, 6, 3, 2, 1, 1, 2),      // groups 2, stride 2
                Conv2d.square(1, 6, 7, 6, 12, 3, 1, 1, 1, 6),     // depthwise, multiplier 2
                new Conv2d(1, 7, 9, 4, 5, 3, 2, 1, 2, 0, 1, 2, 1, 1)); // rectangular, mixed stride/pad/dilation
        for (Conv2d c : shapes) {
            Pair x = act("x", 1, c.inPixels(), c.inChannels());
            Pair w = act("weight", 1 / Math.sqrt(c.patch()), c.outChannels(), c.patch());
            Pair bias = act("bias", 0.5, c.outChannels());
            for (int flags = 0; flags < 4; flags++) {
                boolean withBias = (flags & 1) != 0, relu = (flags & 2) != 0;
                Pair out = zeros("out", b.activationType(), c.outPixels(), c.outChannels());
                b.conv2d(out.b(), x.b(), w.b(), withBias ? bias.b() : null, c, relu);
                r.conv2d(out.r(), x.r(), w.r(), withBias ? bias.r() : null, c, relu);
                same("conv2d " + c + " bias=" + withBias + " relu=" + relu, out);
            }
        }
    }

    // ---- dense ops -------------------------------------------------------------------------------

    private void dense() {
        int n = 5, in = 64, out = 40;
        Pair x = act("x", 1, n, in);
        for (Backend.WeightUse use : Backend.WeightUse.values()) {
            Pair w = weight(random("w", 1 / Math.sqrt(in), out, in), use);
            Pair y = zeros("y", b.activationType(), n, out);
            b.matmul(y.b(), x.b(), w.b());
            r.matmul(y.r(), x.r(), w.r());
            same("matmul (" + use + ")", y);
            Pair y32 = zeros("y32", DType.F32, n, out);
            b.matmul(y32.b(), x.b(), w.b());
            r.matmul(y32.r(), x.r(), w.r());
            same("matmul to F32 (" + use + ")", y32);
            Pair bias = act("bias", 1, out);
            for (Activation a : Activation.values()) {
                b.linear(y.b(), x.b(), w.b(), bias.b(), a);
                r.linear(y.r(), x.r(), w.r(), bias.r(), a);
                same("linear " + a + " (" + use + ")", y);
            }
            b.linear(y.b(), x.b(), w.b(), null, Activation.GELU_TANH);
            r.linear(y.r(), x.r(), w.r(), null, Activation.GELU_TANH);
            same("linear without bias", y);
        }
        for (Activation a : Activation.values()) {
            Pair v = act("v", 2, n, out), bias = act("bias", 1, out);
            b.biasAct(v.b(), bias.b(), a);
            r.biasAct(v.r(), bias.r(), a);
            same("biasAct " + a, v);
            Pair gate = act("gate", 2, n, out), up = act("up", 1, n, out);
            if (a != Activation.IDENTITY) {
                Pair g = zeros("glu", b.activationType(), n, out);
                b.glu(g.b(), gate.b(), up.b(), a);
                r.glu(g.r(), gate.r(), up.r(), a);
                same("glu " + a, g);
                b.glu(gate.b(), gate.b(), up.b(), a); // in place
                r.glu(gate.r(), gate.r(), up.r(), a);
                same("glu " + a + " in place", gate);
            }
        }
        Pair sum = zeros("sum", b.activationType(), n, in), other = act("other", 1, n, in);
        b.add(sum.b(), x.b(), other.b());
        r.add(sum.r(), x.r(), other.r());
        same("add", sum);
        // gather: from an embedding table (weight) and from activation rows
        Pair table = weight(random("table", 1, 30, in), Backend.WeightUse.STREAMED);
        Pair ids = ints(new int[] {3, 0, 29, 3, 17});
        Pair g = zeros("gathered", b.activationType(), n, in);
        b.gatherRows(g.b(), table.b(), ids.b());
        r.gatherRows(g.r(), table.r(), ids.r());
        same("gatherRows of a table", g);
        Pair rows = ints(new int[] {4, 1});
        Pair g2 = zeros("gathered rows", b.activationType(), 2, in);
        b.gatherRows(g2.b(), x.b(), rows.b());
        r.gatherRows(g2.r(), x.r(), rows.r());
        same("gatherRows of activations", g2);
    }

    private Pair ints(int[] v) {
        Pair p = new Pair(b.allocate("ints", DType.I32, v.length, 1), r.allocate("ints", DType.I32, v.length, 1));
        b.write(p.b(), v, 0, v.length);
        r.write(p.r(), v, 0, v.length);
        return new Pair(p.b().reshape(v.length), p.r().reshape(v.length));
    }

    private void norms() {
        int n = 6, dim = 96;
        Pair w = act("w", 1, dim), bias = act("bias", 1, dim);
        for (boolean layer : new boolean[] {false, true}) {
            String op = layer ? "layerNorm" : "rmsNorm";
            Pair x = act("x", 1, n, dim), res = act("res", 1, n, dim), out = zeros("out", b.activationType(), n, dim);
            norm(layer, out, null, x, w, bias);
            same(op + " without residual", out);
            norm(layer, out, res, x, w, layer ? null : bias);
            same(op + " with residual", out);
            same(op + ": the residual stream advanced", res);
            norm(layer, res, res, x, w, bias); // post-LN: out is the residual
            same(op + " in place on the residual", res);
            norm(layer, x, null, x, w, bias); // in place on x
            same(op + " in place on x", x);
        }
    }

    private void norm(boolean layer, Pair out, Pair res, Pair x, Pair w, Pair bias) {
        float eps = 1e-5f;
        if (layer) {
            b.layerNorm(out.b(), res == null ? null : res.b(), x.b(), w.b(), bias == null ? null : bias.b(), eps);
            r.layerNorm(out.r(), res == null ? null : res.r(), x.r(), w.r(), bias == null ? null : bias.r(), eps);
        } else {
            b.rmsNorm(out.b(), res == null ? null : res.b(), x.b(), w.b(), eps);
            r.rmsNorm(out.r(), res == null ? null : res.r(), x.r(), w.r(), eps);
        }
    }

    // ---- attention over the paged KV cache -------------------------------------------------------

    /**
     * The paged-attention passes at {@code headDim} (or the backend's next supported one) with the scale
     * {@code scaleMul / sqrt(headDim)} (scores of std ~scaleMul: a soft-cap of 2 then changes them by O(1)), the
     * given window and soft-cap (0: none).
     */
    private void decoderAttention(int requestedHeadDim, double scaleMul, int window, float softcap) {
        int headDim = b.attentionHeadDim(requestedHeadDim, true);
        Heads heads = new Heads(4, 2, headDim);
        DecoderLimits limits = new DecoderLimits(32, 4, 64, 16);
        KvCache cb = new KvCache(b, "conformance", 1, heads.kvWidth(), limits), cr = new KvCache(r, "conformance", 1, heads.kvWidth(), limits);
        DecoderBatch bb = new DecoderBatch(b, limits.maxTokens(), limits.maxSequences(), limits.blocksPerSequence());
        DecoderBatch br = new DecoderBatch(r, limits.maxTokens(), limits.maxSequences(), limits.blocksPerSequence());
        float[] freq = new float[headDim / 2];
        for (int i = 0; i < freq.length; i++) freq[i] = (float) Math.pow(10000, -2.0 * i / headDim);
        Rope rb = rope(b, freq), rr = rope(r, freq);
        // Three sequences; blocks are taken interleaved (A, B, C, A, B, C, ...) so each table is scattered.
        List<PagedSequence> sb = new ArrayList<>(), sr = new ArrayList<>();
        for (int s = 0; s < 3; s++) {
            sb.add(cb.newSequence(64));
            sr.add(cr.newSequence(64));
        }
        for (int blocks = 1; blocks <= 3; blocks++) {
            for (int s = 0; s < 3; s++) {
                sb.get(s).reserve(blocks * 16);
                sr.get(s).reserve(blocks * 16);
            }
        }
        // pass 1: every sequence from position 0 (prefill); pass 2: A continues with 5 tokens, B and C decode;
        // passes 3-5: all decode, as a recorded step. With window 6: A's prefill rows from position 6 on lose their
        // first keys, its continued chunk (positions 17-21) and decode steps (22-24) reach back into block 0 and
        // then not at all, B's decode steps cross the window (positions 6, 7), C's decode past it (9-13).
        int[][] passes = {{17, 3, 9}, {5, 1, 1}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}};
        int[] pos = new int[3];
        // One set of tensors for every pass (a recorded step replays on the tensors it was recorded with).
        int maxN = 29;
        Pair qAll = zeros("q", b.activationType(), maxN, heads.qWidth()), kAll = zeros("k", b.activationType(), maxN, heads.kvWidth()),
                vAll = zeros("v", b.activationType(), maxN, heads.kvWidth()), outAll = zeros("attention", b.activationType(), maxN, heads.qWidth());
        for (int p = 0; p < passes.length; p++) {
            bb.clear();
            br.clear();
            int n = 0;
            for (int s = 0; s < 3; s++) {
                int[] ids = new int[passes[p][s]];
                bb.add(ids, 0, ids.length, pos[s], sb.get(s).table());
                br.add(ids, 0, ids.length, pos[s], sr.get(s).table());
                pos[s] += ids.length;
                n += ids.length;
            }
            bb.commit();
            br.commit();
            Pair q = fill(qAll, n), k = fill(kAll, n), v = fill(vAll, n), out = rows(outAll, n);
            AttentionSpec spec = new AttentionSpec((float) (scaleMul / Math.sqrt(headDim)), window, softcap);
            Runnable step = () -> {
                b.ropeKv(q.b(), k.b(), v.b(), cb.layer(0), rb, heads, bb);
                b.attention(out.b(), q.b(), k.b(), v.b(), cb.layer(0), heads, bb, spec);
            };
            if (bb.decodeOnly()) b.replay("conformance decode " + spec + " head dim " + headDim, step);
            else step.run();
            r.ropeKv(q.r(), k.r(), v.r(), cr.layer(0), rr, heads, br);
            r.attention(out.r(), q.r(), k.r(), v.r(), cr.layer(0), heads, br, spec);
            String what = "pass " + (p + 1) + " (" + (bb.prefillOnly() ? "prefill" : bb.decodeOnly() ? "decode, recorded" : "mixed")
                    + ", head dim " + headDim + ", window " + window + ", softcap " + softcap + ")";
            same("ropeKv: rotated q, " + what, q);
            same("attention, " + what, out, kvTol);
        }
        same("the paged key cache", new Pair(cb.layer(0).keys(), cr.layer(0).keys()), kvTol);
        same("the paged value cache", new Pair(cb.layer(0).values(), cr.layer(0).values()), kvTol);
    }

    private static Pair rows(Pair p, int n) { return new Pair(p.b().rows(0, n), p.r().rows(0, n)); }

    /** The first n rows of {@code p}, filled with new random values on both backends. */
    private Pair fill(Pair p, int n) {
        Pair v = rows(p, n);
        float[] values = new float[Math.toIntExact(v.r().elementCount())];
        for (int i = 0; i < values.length; i++) values[i] = (float) gaussian();
        b.write(v.b(), values, 0, values.length);
        r.write(v.r(), values, 0, values.length);
        return v;
    }

    private Rope rope(Backend be, float[] freq) {
        Tensor t = be.allocate("inv freq", DType.F32, freq.length, 1);
        be.write(t, freq, 0, freq.length);
        return new Rope(t.reshape(freq.length), freq.length * 2, RopeLayout.HALF_SPLIT, 1f);
    }

    private void varlenAttention() {
        int headDim = b.attentionHeadDim(32, false);
        Heads heads = new Heads(4, 4, headDim);
        int[] lengths = {1, 13, 6};
        int n = 20;
        EncoderBatch eb = new EncoderBatch(b, n, 4, 0), er = new EncoderBatch(r, n, 4, 0);
        eb.clear();
        er.clear();
        for (int len : lengths) {
            eb.add(len);
            er.add(len);
        }
        eb.commit();
        er.commit();
        int w = heads.qWidth();
        Pair qkv = act("qkv", 1, n, 3L * w);
        Pair out = zeros("attention", b.activationType(), n, w);
        for (boolean causal : new boolean[] {false, true}) {
            b.attentionVarlen(out.b(), qkv.b().columns(0, w), qkv.b().columns(w, w), qkv.b().columns(2L * w, w), heads, eb, 0.3f, causal);
            r.attentionVarlen(out.r(), qkv.r().columns(0, w), qkv.r().columns(w, w), qkv.r().columns(2L * w, w), heads, er, 0.3f, causal);
            same("attentionVarlen over a fused QKV tensor, causal " + causal, out);
        }
    }

    /**
     * Swin's window attention over fused QKV column views: a 14 x 7 grid in 7 x 7 windows with and without the
     * shift (the mask cuts both windows), an 8 x 8 grid in 4 x 4 windows shifted by 2 and a 12 x 24 grid in 12 x 12
     * windows (Swin at 384 px; 144 tokens) shifted by 6; head dim 32, 3 heads,
     * a bias table of std 1 so that a wrong relative position moves outputs by O(1).
     */
    private void windowAttention() {
        int heads = 3, headDim = 32, w = heads * headDim;
        for (WindowGrid g : new WindowGrid[] {new WindowGrid(14, 7, 7, 3), new WindowGrid(14, 7, 7, 0), new WindowGrid(8, 8, 4, 2),
                new WindowGrid(12, 24, 12, 6)}) {
            int n = g.tokens();
            Pair qkv = act("qkv", 1, n, 3L * w);
            Pair bias = f32(random("relative position bias", 1, g.biasRows(), heads));
            Pair out = zeros("window attention", b.activationType(), n, w);
            b.windowAttention(out.b(), qkv.b().columns(0, w), qkv.b().columns(w, w), qkv.b().columns(2L * w, w), bias.b(), null, g, heads, 0.2f);
            r.windowAttention(out.r(), qkv.r().columns(0, w), qkv.r().columns(w, w), qkv.r().columns(2L * w, w), bias.r(), null, g, heads, 0.2f);
            same("windowAttention over a fused QKV tensor, " + g, out);
            // Swin-V2's cosine attention with per-head logit scales
            Tensor scales = random("logit scales", 1, heads);
            for (int h = 0; h < heads; h++) scales.data().setAtIndex(ValueLayout.JAVA_FLOAT, h, 5f + 5 * h);
            Pair logit = f32(scales);
            b.windowAttention(out.b(), qkv.b().columns(0, w), qkv.b().columns(w, w), qkv.b().columns(2L * w, w), bias.b(), logit.b(), g, heads, 0.2f);
            r.windowAttention(out.r(), qkv.r().columns(0, w), qkv.r().columns(w, w), qkv.r().columns(2L * w, w), bias.r(), logit.r(), g, heads, 0.2f);
            same("windowAttention (cosine, Swin-V2) over a fused QKV tensor, " + g, out);
        }
    }

    // ---- state-space ops -------------------------------------------------------------------------

    private void stateSpace() {
        int dim = 24, width = 4, dstate = 8;
        Pair convW = act("conv weight", 0.5, dim, width), convB = act("conv bias", 0.5, dim);
        Pair convState = zeros("conv state", b.activationType(), dim, width - 1);
        Pair a = f32(negativeExp(random("A_log", 0.3, dim, dstate))), d = f32(random("D", 1, dim)), dtBias = f32(random("dt bias", 0.5, dim));
        Pair ssm = zeros("ssm state", DType.F32, dim, dstate);
        // a fresh prefill of 6 tokens, a continued chunk of 3, then 2 decode steps
        int[] chunks = {6, 3, 1, 1};
        for (int i = 0; i < chunks.length; i++) {
            int n = chunks[i];
            boolean fresh = i == 0;
            String what = (fresh ? "fresh prefill" : n > 1 ? "continued chunk" : "decode step") + " of " + n;
            Pair x = act("x", 1, n, dim), out = zeros("conv out", b.activationType(), n, dim);
            b.causalConv1d(out.b(), x.b(), convState.b(), convW.b(), convB.b(), true, fresh);
            r.causalConv1d(out.r(), x.r(), convState.r(), convW.r(), convB.r(), true, fresh);
            same("causalConv1d " + what, out);
            same("causalConv1d state after the " + what, convState);
            Pair u = act("u", 1, n, dim), delta = act("delta", 0.5, n, dim), z = act("z", 1, n, dim);
            Pair bm = act("B", 1, n, dstate), cm = act("C", 1, n, dstate), y = zeros("y", b.activationType(), n, dim);
            b.selectiveScan(y.b(), ssm.b(), u.b(), delta.b(), a.b(), bm.b(), cm.b(), d.b(), z.b(), dtBias.b(), true, fresh);
            r.selectiveScan(y.r(), ssm.r(), u.r(), delta.r(), a.r(), bm.r(), cm.r(), d.r(), z.r(), dtBias.r(), true, fresh);
            same("selectiveScan " + what, y);
            same("selectiveScan state after the " + what, ssm);
            b.causalConv1d(x.b(), x.b(), convState.b(), convW.b(), convB.b(), false, false); // in place
            r.causalConv1d(x.r(), x.r(), convState.r(), convW.r(), convB.r(), false, false);
            same("causalConv1d in place, " + what, x);
        }
    }

    /**
     * The Mamba-2 ops: an SSD scan of 4 heads of 8 channels in 2 groups of B/C, state 16, over a fresh prefill of
     * 70 tokens (more than one chunk on every backend), a continued chunk of 5 and two decode steps; then the
     * gated RMSNorm in 2 groups, out of place and in place over x.
     */
    private void ssd() {
        int heads = 4, headDim = 8, groups = 2, dstate = 16, w = heads * headDim;
        Pair a = f32(negativeExp(random("A_log", 0.5, heads))), d = f32(random("D", 1, heads)), dtBias = f32(random("dt bias", 0.5, heads));
        Pair ssm = zeros("ssd state", DType.F32, w, dstate);
        int[] chunks = {70, 5, 1, 1};
        for (int i = 0; i < chunks.length; i++) {
            int n = chunks[i];
            boolean fresh = i == 0;
            String what = (fresh ? "fresh prefill" : n > 1 ? "continued chunk" : "decode step") + " of " + n;
            Pair x = act("x", 1, n, w), dt = act("dt", 1, n, heads), bm = act("B", 1, n, groups * dstate), cm = act("C", 1, n, groups * dstate);
            Pair y = zeros("y", b.activationType(), n, w);
            b.ssdScan(y.b(), ssm.b(), x.b(), dt.b(), a.b(), bm.b(), cm.b(), d.b(), dtBias.b(), fresh);
            r.ssdScan(y.r(), ssm.r(), x.r(), dt.r(), a.r(), bm.r(), cm.r(), d.r(), dtBias.r(), fresh);
            same("ssdScan " + what, y);
            same("ssdScan state after the " + what, ssm);
        }
        Pair weight = act("norm weight", 1, w), x = act("x", 1, 3, w), z = act("z", 1, 3, w), out = zeros("gated norm", b.activationType(), 3, w);
        b.gatedRmsNorm(out.b(), x.b(), z.b(), weight.b(), w / groups, 1e-5f);
        r.gatedRmsNorm(out.r(), x.r(), z.r(), weight.r(), w / groups, 1e-5f);
        same("gatedRmsNorm", out);
        b.gatedRmsNorm(x.b(), x.b(), z.b(), weight.b(), w / groups, 1e-5f);
        r.gatedRmsNorm(x.r(), x.r(), z.r(), weight.r(), w / groups, 1e-5f);
        same("gatedRmsNorm in place", x);
    }

    private Tensor negativeExp(Tensor t) {
        MemorySegment s = t.data();
        for (long i = 0; i < t.elementCount(); i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) -Math.exp(s.getAtIndex(ValueLayout.JAVA_FLOAT, i)));
        return t;
    }

    // ---- DETR: max pooling, cross-attention --------------------------------------------------------

    /**
     * maxPool2d at ResNet's stem geometry (odd and even sizes), 2x2 stride 2 and a dilated rectangular window; then
     * crossAttention of two sequences whose query and key counts differ (DETR: 100 queries over the image's tokens),
     * head dim 32 with two kv heads for four query heads.
     */
    private void detrOps() {
        List<Conv2d> pools = List.of(
                Conv2d.square(1, 9, 12, 8, 8, 3, 2, 1, 1, 1),
                Conv2d.square(2, 8, 7, 5, 5, 3, 2, 1, 1, 1),
                Conv2d.square(1, 8, 8, 3, 3, 2, 2, 0, 1, 1),
                new Conv2d(1, 10, 9, 4, 4, 3, 2, 1, 2, 1, 1, 2, 1, 1));
        for (Conv2d p : pools) {
            Pair x = act("x", 1, p.inPixels(), p.inChannels());
            Pair out = zeros("out", b.activationType(), p.outPixels(), p.outChannels());
            b.maxPool2d(out.b(), x.b(), p);
            r.maxPool2d(out.r(), x.r(), p);
            same("maxPool2d " + p, out);
        }
        Heads heads = new Heads(4, 2, 32);
        int[] queryLengths = {5, 12}, keyLengths = {17, 6};
        EncoderBatch qb = new EncoderBatch(b, 32, 2, 0), kb = new EncoderBatch(b, 32, 2, 0);
        EncoderBatch qr = new EncoderBatch(r, 32, 2, 0), kr = new EncoderBatch(r, 32, 2, 0);
        for (EncoderBatch e : List.of(qb, kb, qr, kr)) e.clear();
        for (int s = 0; s < 2; s++) {
            qb.add(queryLengths[s]);
            qr.add(queryLengths[s]);
            kb.add(keyLengths[s]);
            kr.add(keyLengths[s]);
        }
        for (EncoderBatch e : List.of(qb, kb, qr, kr)) e.commit();
        Pair q = act("q", 1, qb.tokens(), heads.qWidth());
        Pair k = act("k", 1, kb.tokens(), heads.kvWidth()), v = act("v", 1, kb.tokens(), heads.kvWidth());
        Pair out = zeros("out", b.activationType(), qb.tokens(), heads.qWidth());
        float scale = (float) (1 / Math.sqrt(32));
        b.crossAttention(out.b(), q.b(), k.b(), v.b(), heads, qb, kb, scale);
        r.crossAttention(out.r(), q.r(), k.r(), v.r(), heads, qr, kr, scale);
        same("crossAttention", out);
    }

    // ---- encoder-decoder (seq2seq) ------------------------------------------------------------

    /**
     * Attention over key spans with a relative-position bias (T5): an encoder source of 9 seen whole, causal decoder rows
     * in slots of 6, cross-attention queries sharing the source, a query with no keys; grouped KV heads; a bias table
     * of std 1 and radius 3 (clamped relative positions) so a wrong index moves outputs by O(1); and no bias.
     */
    private void relBiasAttention() {
        int heads = 4, kvHeads = 2, headDim = 32, rows = 21;
        Heads h = new Heads(heads, kvHeads, headDim);
        KeySpans sb = new KeySpans(b, "conformance", 32), sr = new KeySpans(r, "conformance", 32);
        for (KeySpans s : new KeySpans[] {sb, sr}) {
            s.clear();
            for (int i = 0; i < 9; i++) s.add(0, 9, i);
            for (int p = 0; p < 6; p++) s.add(9, p + 1, p);
            for (int p = 0; p < 4; p++) s.add(15, p + 1, p);
            s.add(0, 9, 0);
            s.add(3, 0, 0);
            s.commit();
        }
        int n = sb.tokens();
        Pair q = act("q", 1, n, h.qWidth()), k = act("k", 1, rows, h.kvWidth()), v = act("v", 1, rows, h.kvWidth());
        Pair bias = f32(random("relative bias", 1, heads, 7));
        for (boolean withBias : new boolean[] {true, false}) {
            Pair out = zeros("rel-bias attention", b.activationType(), n, h.qWidth());
            b.attentionRelBias(out.b(), q.b(), k.b(), v.b(), sb, withBias ? bias.b() : null, 3, h, 0.3f);
            r.attentionRelBias(out.r(), q.r(), k.r(), v.r(), sr, withBias ? bias.r() : null, 3, h, 0.3f);
            same("attentionRelBias " + (withBias ? "with" : "without") + " a bias", out);
        }
    }

    // ---- seq2seq decoder on the paged KV cache (issue 17) ---------------------------------------

    /**
     * The paged relative-bias attention over a cache of the activation type (blocks of 4): three decoder rows with
     * scattered tables, rows 0 and 1 sharing their first block (a forked hypothesis); one pass with a prefill chunk of
     * row 0 (positions 0-9), and decode steps of rows 1 (position 6) and 2 (position 4, the first slot of its second
     * block); unused table entries point at block 0. Bias radius 3 (clamped), and no bias.
     */
    private void relBiasAttentionPaged() {
        int heads = 4, kvHeads = 2, headDim = 32, blockSize = 4, blocks = 9, maxBlocks = 4;
        Heads h = new Heads(heads, kvHeads, headDim);
        Pair keys = act("paged keys", 1, (long) blocks * blockSize, h.kvWidth()), values = act("paged values", 1, (long) blocks * blockSize, h.kvWidth());
        KvLayer lb = new KvLayer(keys.b(), values.b(), blockSize), lr = new KvLayer(keys.r(), values.r(), blockSize);
        int[][] tables = {{5, 2, 7}, {5, 8}, {3, 1}};
        int[][] chunks = {{0, 10}, {6, 1}, {4, 1}}; // (first position, tokens) per row
        DecoderBatch bb = new DecoderBatch(b, 16, 3, maxBlocks), br = new DecoderBatch(r, 16, 3, maxBlocks);
        for (DecoderBatch d : new DecoderBatch[] {bb, br}) {
            d.clear();
            for (int s = 0; s < 3; s++) d.add(new int[chunks[s][1]], 0, chunks[s][1], chunks[s][0], tables[s]);
            d.commit();
        }
        int n = bb.tokens();
        Pair q = act("q", 1, n, h.qWidth());
        Pair bias = f32(random("relative bias", 1, heads, 7));
        for (boolean withBias : new boolean[] {true, false}) {
            Pair out = zeros("paged rel-bias attention", b.activationType(), n, h.qWidth());
            b.attentionRelBiasPaged(out.b(), q.b(), lb, bb, withBias ? bias.b() : null, 3, h, 0.3f);
            r.attentionRelBiasPaged(out.r(), q.r(), lr, br, withBias ? bias.r() : null, 3, h, 0.3f);
            same("attentionRelBiasPaged " + (withBias ? "with" : "without") + " a bias", out);
        }
    }
}
