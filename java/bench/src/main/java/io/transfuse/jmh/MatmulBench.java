package io.transfuse.jmh;

import io.transfuse.backend.cpu.CpuOps;
import io.transfuse.tensor.DType;
import org.openjdk.jmh.annotations.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

/**
 * tf_cpu_matmul through CpuOps at the stories110M FFN shape (W [2048][768], the up/gate
 * projection): tokens = 1 is the decode matvec (bandwidth-bound: weights streamed once),
 * tokens = 128 the prefill matmul (compute-bound). GFLOP/s = 2 * tokens * 768 * 2048 / time.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class MatmulBench {
    static final int IN = 768, OUT = 2048;

    @Param({"F32", "F16", "Q8_0", "Q4_0"})
    public String dtype;

    @Param({"1", "128"})
    public int tokens;

    @Param({"2"})
    public int threads;

    private Arena arena;
    private MemorySegment x, w, out;
    private DType type;

    @Setup
    public void setup() {
        CpuOps.setThreads(threads);
        type = DType.valueOf(dtype);
        arena = Arena.ofShared();
        x = OpData.floats(arena, (long) tokens * IN, 1);
        w = OpData.weights(arena, type, OUT, IN, 2);
        out = arena.allocate((long) tokens * OUT * 4, 64);
    }

    @TearDown
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public void matmul() {
        CpuOps.matmul(out, x, w, type, tokens, IN, OUT);
    }
}
