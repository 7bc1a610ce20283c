package io.transfuse.jmh;

import io.transfuse.backend.cpu.CpuOps;
import io.transfuse.backend.RopeLayout;
import org.openjdk.jmh.annotations.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;

/**
 * The non-matmul ops of one stories110M layer through CpuOps (dim 768, 12 heads of 64):
 * attention for one decode token at position 255 and for a 128-token prefill from position 0,
 * RoPE and rmsnorm over 128 tokens. All are small next to the matmuls; these benchmarks show when
 * one stops being small.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class LayerOpsBench {
    static final int DIM = 768, HEADS = 12, HEAD_DIM = 64, CTX = 256, PREFILL = 128;

    @Param({"2"})
    public int threads;

    private Arena arena;
    private MemorySegment q, k, v, out, x, norm, invFreq;

    @Setup
    public void setup() {
        CpuOps.setThreads(threads);
        arena = Arena.ofShared();
        q = OpData.floats(arena, (long) PREFILL * DIM, 1);
        k = OpData.floats(arena, (long) CTX * DIM, 2);
        v = OpData.floats(arena, (long) CTX * DIM, 3);
        out = arena.allocate((long) PREFILL * DIM * 4, 64);
        x = OpData.floats(arena, (long) PREFILL * DIM, 4);
        norm = OpData.floats(arena, DIM, 5);
        invFreq = arena.allocate(HEAD_DIM / 2 * 4, 64);
        for (int i = 0; i < HEAD_DIM / 2; i++)
            invFreq.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) Math.pow(10000, -2.0 * i / HEAD_DIM));
    }

    @TearDown
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public void attentionDecode() {
        CpuOps.attention(out, q, k, v, 1, CTX - 1, HEADS, HEADS, HEAD_DIM, DIM);
    }

    @Benchmark
    public void attentionPrefill() {
        CpuOps.attention(out, q, k, v, PREFILL, 0, HEADS, HEADS, HEAD_DIM, DIM);
    }

    @Benchmark
    public void ropePrefill() {
        CpuOps.rope(x, PREFILL, HEADS, HEAD_DIM, HEAD_DIM, 0, invFreq, RopeLayout.values()[0]);
    }

    @Benchmark
    public void rmsnormPrefill() {
        CpuOps.rmsnorm(out, x, norm, PREFILL, DIM, 1e-5f);
    }
}
