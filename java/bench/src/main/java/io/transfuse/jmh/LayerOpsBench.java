package io.transfuse.jmh;

import io.transfuse.tensor.DType;
import io.transfuse.backend.cpu.CpuOps;
import io.transfuse.backend.RopeLayout;
import org.openjdk.jmh.annotations.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;

/**
 * The non-matmul ops of one stories110M layer through CpuOps (dim 768, 12 heads of 64), over a paged KV
 * cache of 16-position blocks whose block tables are scattered (as a block manager hands them out):
 * attention for one decode token at position 255, for a decode step of 16 sequences at position 255 each,
 * and for a 128-token prefill from position 0; RoPE with the cache write and rmsnorm over 128 tokens. All
 * are small next to the matmuls; these benchmarks show when one stops being small. {@code kvCache}: the
 * cache's element type, F16 (the CPU backend's default: half the bytes to read) or F32.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class LayerOpsBench {
    static final int DIM = 768, HEADS = 12, HEAD_DIM = 64, CTX = 256, PREFILL = 128, SEQS = 16, BLOCK = 16;
    static final int MAX_BLOCKS = CTX / BLOCK;

    @Param({"2"})
    public int threads;

    @Param({"F16", "F32"})
    public String kvCache;

    private DType kv;

    private Arena arena;
    private MemorySegment q, k, v, out, x, norm, invFreq, kCache, vCache;
    /** decode: one row per sequence; prefill: sequence 0's row repeated per token, with its context length */
    private MemorySegment decodeTable, decodeLens, prefillTable, prefillLens, positions, seqIds;

    @Setup
    public void setup() {
        CpuOps.setThreads(threads);
        arena = Arena.ofShared();
        q = OpData.floats(arena, (long) PREFILL * DIM, 1);
        k = OpData.floats(arena, (long) PREFILL * DIM, 2);
        v = OpData.floats(arena, (long) PREFILL * DIM, 3);
        kv = DType.valueOf(kvCache);
        kCache = OpData.floats(arena, (long) SEQS * CTX * DIM, 6);
        vCache = OpData.floats(arena, (long) SEQS * CTX * DIM, 7);
        if (kv == DType.F16) { // the same values as halves, in the first half of each segment
            for (long i = 0; i < (long) SEQS * CTX * DIM; i++) {
                kCache.setAtIndex(ValueLayout.JAVA_SHORT, i, Float.floatToFloat16(kCache.getAtIndex(ValueLayout.JAVA_FLOAT, i)));
                vCache.setAtIndex(ValueLayout.JAVA_SHORT, i, Float.floatToFloat16(vCache.getAtIndex(ValueLayout.JAVA_FLOAT, i)));
            }
            kCache = kCache.asSlice(0, 2L * SEQS * CTX * DIM);
            vCache = vCache.asSlice(0, 2L * SEQS * CTX * DIM);
        }
        out = arena.allocate((long) PREFILL * DIM * 4, 64);
        x = OpData.floats(arena, (long) PREFILL * DIM, 4);
        norm = OpData.floats(arena, DIM, 5);
        invFreq = arena.allocate(HEAD_DIM / 2 * 4, 64);
        for (int i = 0; i < HEAD_DIM / 2; i++)
            invFreq.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) Math.pow(10000, -2.0 * i / HEAD_DIM));
        int blocks = SEQS * MAX_BLOCKS;
        decodeTable = arena.allocate(4L * blocks);
        decodeLens = arena.allocate(4L * SEQS);
        for (int i = 0; i < blocks; i++) decodeTable.setAtIndex(ValueLayout.JAVA_INT, i, (int) ((i * 37L) % blocks)); // 37: coprime
        for (int s = 0; s < SEQS; s++) decodeLens.setAtIndex(ValueLayout.JAVA_INT, s, CTX);
        prefillTable = arena.allocate(4L * PREFILL * MAX_BLOCKS);
        prefillLens = arena.allocate(4L * PREFILL);
        positions = arena.allocate(4L * PREFILL);
        seqIds = arena.allocate(4L * PREFILL);
        for (int t = 0; t < PREFILL; t++) {
            MemorySegment.copy(decodeTable, 0, prefillTable, 4L * t * MAX_BLOCKS, 4L * MAX_BLOCKS);
            prefillLens.setAtIndex(ValueLayout.JAVA_INT, t, t + 1);
            positions.setAtIndex(ValueLayout.JAVA_INT, t, t);
        }
    }

    @TearDown
    public void tearDown() {
        arena.close();
    }

    private static final float SCALE = (float) (1 / Math.sqrt(HEAD_DIM));

    @Benchmark
    public void attentionDecode() {
        CpuOps.attentionPaged(out, q, kCache, vCache, kv, decodeTable, decodeLens, 1, HEADS, HEADS, HEAD_DIM, BLOCK, MAX_BLOCKS,
                SCALE, 0, 0f);
    }

    @Benchmark
    public void attentionDecode16Sequences() {
        CpuOps.attentionPaged(out, q, kCache, vCache, kv, decodeTable, decodeLens, SEQS, HEADS, HEADS, HEAD_DIM, BLOCK, MAX_BLOCKS,
                SCALE, 0, 0f);
    }

    @Benchmark
    public void attentionPrefill() {
        CpuOps.attentionPaged(out, q, kCache, vCache, kv, prefillTable, prefillLens, PREFILL, HEADS, HEADS, HEAD_DIM, BLOCK,
                MAX_BLOCKS, SCALE, 0, 0f);
    }

    @Benchmark
    public void ropeKvCachePrefill() {
        CpuOps.ropeKvCache(x, k, v, kCache, vCache, kv, decodeTable, positions, seqIds, invFreq, PREFILL, HEADS, HEADS, HEAD_DIM,
                HEAD_DIM, RopeLayout.ADJACENT_PAIRS, 1f, BLOCK, MAX_BLOCKS);
    }

    @Benchmark
    public void rmsnormPrefill() {
        CpuOps.rmsNorm(out, null, x, norm, PREFILL, DIM, 1e-5f);
    }
}
