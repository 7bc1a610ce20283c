package io.transfuse.backend.cpu;

import io.transfuse.tensor.DType;
import io.transfuse.backend.RopeLayout;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;

import static io.transfuse.backend.cpu.CpuOpsTest.assertClose;
import static io.transfuse.backend.cpu.CpuTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * RoPE with the paged KV-cache write and the two attention ops against plain Java references in double
 * precision, on every instruction set this CPU has and on 1 and 2 threads. The paged caches are scattered:
 * each sequence's blocks are a shuffled set, unused block-table entries name a poison block, and every slot
 * that no op should touch or read holds NaN, so a wrong block, slot or position shows as a wrong value or a
 * NaN. (The native test cpu_attention_ops covers more shapes and the VNNI table.)
 */
class CpuAttentionOpsTest {
    private static final int[] THREADS = {1, 2};

    @AfterEach
    void restore() {
        CpuOps.setIsa(CpuOps.bestIsa());
        CpuOps.setThreads(Runtime.getRuntime().availableProcessors());
    }

    /** Block tables over a cache of `blocks` blocks: rows of shuffled blocks 1.., padding entries 0 (the poison block). */
    private static int[] blockTable(Random r, int blocks, int maxBlocks, int... blocksPerRow) {
        List<Integer> free = new ArrayList<>();
        for (int b = 1; b < blocks; b++) free.add(b);
        Collections.shuffle(free, r);
        int[] table = new int[blocksPerRow.length * maxBlocks];
        for (int row = 0, next = 0; row < blocksPerRow.length; row++) {
            for (int i = 0; i < blocksPerRow[row]; i++) table[row * maxBlocks + i] = free.get(next++);
        }
        return table;
    }

    private static MemorySegment ints(Arena a, int[] v) {
        MemorySegment s = a.allocate(4L * Math.max(1, v.length));
        MemorySegment.copy(v, 0, s, ValueLayout.JAVA_INT, 0, v.length);
        return s;
    }

    private static float[] nans(int n) {
        float[] f = new float[n];
        Arrays.fill(f, Float.NaN);
        return f;
    }

    /**
     * Tokens of two sequences, interleaved, into a cache of 4-slot blocks; rotary_dim below head_dim and
     * mscale 0.8. Tolerance: angles in float as specified (the reference does the same), cosf/sinf within an
     * ulp or two, two float products: 2e-6 for values of size <= 1. Values past rotaryDim, v and untouched
     * slots are compared exactly (NaN stays NaN).
     */
    @Test
    void ropeKvCacheWritesRotatedKeysToTheirSlots() {
        Random r = new Random(11);
        int heads = 6, kvHeads = 2, hd = 16, rot = 12, bs = 4, maxBlocks = 4, blocks = 9;
        int[] seqIds = {0, 1, 0, 1, 1, 0}, positions = {0, 5, 1, 6, 7, 2};
        int tokens = seqIds.length, slot = kvHeads * hd;
        float[] invFreq = new float[rot / 2];
        for (int i = 0; i < invFreq.length; i++) invFreq[i] = (float) Math.pow(10000, -2.0 * i / rot);
        float mscale = 0.8f;
        for (RopeLayout layout : RopeLayout.values()) {
            int[] table = blockTable(r, blocks, maxBlocks, 1, 2);
            float[] q = random(r, tokens * heads * hd, 1f), k = random(r, tokens * slot, 1f), v = random(r, tokens * slot, 1f);
            double[] qRef = new double[q.length], kRef = new double[blocks * bs * slot];
            float[] vRef = nans(kRef.length);
            Arrays.fill(kRef, Double.NaN);
            for (int t = 0; t < tokens; t++) {
                int p = positions[t], s = (table[seqIds[t] * maxBlocks + p / bs] * bs + p % bs) * slot;
                rotate(qRef, t * heads * hd, q, t * heads * hd, heads, hd, rot, layout, p, invFreq, mscale);
                rotate(kRef, s, k, t * slot, kvHeads, hd, rot, layout, p, invFreq, mscale);
                System.arraycopy(v, t * slot, vRef, s, slot);
            }
            for (CpuOps.Isa isa : supportedIsas()) {
                CpuOps.setIsa(isa);
                for (int threads : THREADS) {
                    CpuOps.setThreads(threads);
                    String where = "ropeKvCache " + layout + " " + isa + " threads=" + threads;
                    try (Arena a = Arena.ofConfined()) {
                        MemorySegment qs = floats(a, q), ks = floats(a, k), kc = floats(a, nans(kRef.length)), vc = floats(a, nans(kRef.length));
                        CpuOps.ropeKvCache(qs, ks, floats(a, v), kc, vc, DType.F32, ints(a, table), ints(a, positions), ints(a, seqIds),
                                floats(a, invFreq), tokens, heads, kvHeads, hd, rot, layout, mscale, bs, maxBlocks);
                        assertClose(qRef, toFloats(qs, q.length), 0, 2e-6, where + " q");
                        assertClose(kRef, toFloats(kc, kRef.length), 0, 2e-6, where + " k cache");
                        assertArrayEquals(vRef, toFloats(vc, vRef.length), where + " v cache");
                        assertArrayEquals(k, toFloats(ks, k.length), where + " k unchanged");
                    }
                }
            }
        }
    }

    /** Rotates `heads` heads of x from xOff into out at outOff, in double, as transfuse.h specifies. */
    private static void rotate(double[] out, int outOff, float[] x, int xOff, int heads, int hd, int rot, RopeLayout layout,
                               int pos, float[] invFreq, float mscale) {
        for (int h = 0; h < heads; h++) {
            int o = outOff + h * hd, xi = xOff + h * hd;
            for (int i = 0; i < hd; i++) out[o + i] = x[xi + i];
            for (int i = 0; i < rot / 2; i++) {
                float angle = (float) pos * invFreq[i]; // in float, as specified
                double c = Math.cos(angle) * mscale, s = Math.sin(angle) * mscale;
                int ia = layout == RopeLayout.ADJACENT_PAIRS ? 2 * i : i, ib = layout == RopeLayout.ADJACENT_PAIRS ? 2 * i + 1 : i + rot / 2;
                out[o + ia] = x[xi + ia] * c - x[xi + ib] * s;
                out[o + ib] = x[xi + ia] * s + x[xi + ib] * c;
            }
        }
    }

    /**
     * softmax(scale q . K) V in double into out at off, for the query heads at q[qOff..]: key row j is
     * [kvHeads][hd] at k[kOffs[j]], value row j at v[vOffs[j]].
     */
    private static void attendRef(double[] out, int off, float[] q, int qOff, float[] k, List<Integer> kOffs, float[] v,
                                  List<Integer> vOffs, int heads, int kvHeads, int hd, double scale) {
        attendRef(out, off, q, qOff, k, kOffs, v, vOffs, heads, kvHeads, hd, scale, 0);
    }

    /** The same with the scaled scores soft-capped to {@code softcap * tanh(x / softcap)} (softcap 0: not). */
    private static void attendRef(double[] out, int off, float[] q, int qOff, float[] k, List<Integer> kOffs, float[] v,
                                  List<Integer> vOffs, int heads, int kvHeads, int hd, double scale, double softcap) {
        int group = heads / kvHeads, n = kOffs.size();
        for (int h = 0; h < heads; h++) {
            int kvh = h / group;
            double[] s = new double[n];
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int j = 0; j < n; j++) {
                for (int i = 0; i < hd; i++) s[j] += (double) q[qOff + h * hd + i] * k[kOffs.get(j) + kvh * hd + i];
                s[j] *= scale;
                if (softcap > 0) s[j] = softcap * Math.tanh(s[j] / softcap);
                max = Math.max(max, s[j]);
            }
            for (int j = 0; j < n; j++) sum += s[j] = Math.exp(s[j] - max);
            for (int i = 0; i < hd; i++) {
                double o = 0;
                for (int j = 0; j < n; j++) o += s[j] / sum * v[vOffs.get(j) + kvh * hd + i];
                out[off + h * hd + i] = o;
            }
        }
    }

    /**
     * Rows of three sequences with ragged contexts (0, 1, a block, several blocks), GQA 8/2, head_dim 24 (not a
     * multiple of the vector width), with and without a window. Tolerance: a convex combination of values in
     * [-1, 1] from float dot products and a float online softmax: 2e-5.
     */
    @Test
    void attentionPagedMatchesGatheredReference() {
        Random r = new Random(12);
        int heads = 8, kvHeads = 2, hd = 24, bs = 8, maxBlocks = 5, blocks = 12, slot = kvHeads * hd;
        int[] seqLens = {33, 1, 16};
        int[] table = blockTable(r, blocks, maxBlocks, 5, 1, 2);
        float[] kc = nans(blocks * bs * slot), vc = nans(kc.length);
        for (int s = 0; s < seqLens.length; s++) {
            for (int p = 0; p < seqLens[s]; p++) {
                int off = (table[s * maxBlocks + p / bs] * bs + p % bs) * slot;
                for (int i = 0; i < slot; i++) {
                    kc[off + i] = r.nextFloat() * 2 - 1;
                    vc[off + i] = r.nextFloat() * 2 - 1;
                }
            }
        }
        // rows: a prefill chunk of sequence 0 (contexts 30..33), the decode of sequence 1, two rows of sequence 2,
        // and a row of sequence 2 with no context yet; interleaved
        int[] rowSeq = {0, 1, 2, 0, 2, 0, 2, 0}, ctx = {30, 1, 15, 31, 16, 32, 0, 33};
        int rows = rowSeq.length;
        int[] rowTables = new int[rows * maxBlocks];
        for (int i = 0; i < rows; i++) System.arraycopy(table, rowSeq[i] * maxBlocks, rowTables, i * maxBlocks, maxBlocks);
        float[] q = random(r, rows * heads * hd, 2f);
        float scale = 0.3f;
        for (int[] ws : new int[][] {{0, 0}, {5, 0}, {0, 1}, {5, 1}}) {
            int window = ws[0];
            float softcap = ws[1] * 0.75f; // scores of std ~2 here (q ~ 2x, scale 0.3): a cap of 0.75 reshapes them
            double[] ref = new double[q.length];
            for (int i = 0; i < rows; i++) {
                List<Integer> offs = new ArrayList<>(); // the row's visible slots, gathered through its table
                for (int p = window > 0 ? Math.max(0, ctx[i] - window) : 0; p < ctx[i]; p++) {
                    offs.add((table[rowSeq[i] * maxBlocks + p / bs] * bs + p % bs) * slot);
                }
                attendRef(ref, i * heads * hd, q, i * heads * hd, kc, offs, vc, offs, heads, kvHeads, hd, scale, softcap);
            }
            for (CpuOps.Isa isa : supportedIsas()) {
                CpuOps.setIsa(isa);
                for (int threads : THREADS) {
                    CpuOps.setThreads(threads);
                    try (Arena a = Arena.ofConfined()) {
                        MemorySegment out = floats(a, nans(q.length));
                        CpuOps.attentionPaged(out, floats(a, q), floats(a, kc), floats(a, vc), DType.F32, ints(a, rowTables), ints(a, ctx),
                                rows, heads, kvHeads, hd, bs, maxBlocks, scale, window, softcap);
                        assertClose(ref, toFloats(out, q.length), 0, 2e-5, "attentionPaged window=" + window + " softcap=" + softcap + " " + isa
                                + " threads=" + threads);
                    }
                }
            }
        }
    }

    /**
     * A fused QKV buffer (rows [q | k | v], GQA 6/2, head_dim 20) over a ragged batch with an empty sequence,
     * causal and not; tolerance as for paged attention.
     */
    @Test
    void attentionVarlenMatchesReference() {
        Random r = new Random(13);
        int heads = 6, kvHeads = 2, hd = 20, qw = heads * hd, kvw = kvHeads * hd, stride = qw + 2 * kvw;
        int[] lens = {7, 0, 1, 40};
        int[] cu = new int[lens.length + 1];
        for (int b = 0; b < lens.length; b++) cu[b + 1] = cu[b] + lens[b];
        int total = cu[lens.length];
        float[] qkv = random(r, total * stride, 2f);
        for (boolean causal : new boolean[] {false, true}) {
            double[] ref = new double[total * qw];
            for (int b = 0; b < lens.length; b++) {
                for (int i = 0; i < lens[b]; i++) {
                    List<Integer> kOffs = new ArrayList<>(), vOffs = new ArrayList<>();
                    for (int j = 0; j < (causal ? i + 1 : lens[b]); j++) {
                        kOffs.add((cu[b] + j) * stride + qw);
                        vOffs.add((cu[b] + j) * stride + qw + kvw);
                    }
                    attendRef(ref, (cu[b] + i) * qw, qkv, (cu[b] + i) * stride, qkv, kOffs, qkv, vOffs, heads, kvHeads, hd,
                            1 / Math.sqrt(hd));
                }
            }
            for (CpuOps.Isa isa : supportedIsas()) {
                CpuOps.setIsa(isa);
                for (int threads : THREADS) {
                    CpuOps.setThreads(threads);
                    try (Arena a = Arena.ofConfined()) {
                        MemorySegment buf = floats(a, qkv), out = floats(a, nans(total * qw));
                        CpuOps.attentionVarlen(out, buf, buf.asSlice(4L * qw), buf.asSlice(4L * (qw + kvw)), ints(a, cu),
                                lens.length, heads, kvHeads, hd, stride, stride, (float) (1 / Math.sqrt(hd)), causal);
                        assertClose(ref, toFloats(out, total * qw), 0, 2e-5, "attentionVarlen causal=" + causal + " " + isa
                                + " threads=" + threads);
                    }
                }
            }
        }
    }
}
