package io.transfuse.cuda.runtime;

import io.transfuse.tensor.DType;

import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.cuda.memory.DeviceBuffer;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Memory, copies, ownership, out-of-memory and graphs of the cuda-emu runtime. */
class EmulatedRuntimeTest {
    @Test
    void copiesRoundTripHostDeviceDevice() {
        EmulatedRuntime rt = new EmulatedRuntime();
        try (DeviceArena arena = new DeviceArena(rt, "copy test"); Arena host = Arena.ofConfined()) {
            DeviceBuffer a = arena.allocate("a", 64), b = arena.allocate("b", 64);
            MemorySegment src = host.allocate(64), dst = host.allocate(64);
            for (int i = 0; i < 64; i++) src.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 7));
            GpuStream s = rt.createStream();
            rt.copyHostToDevice(s, src, a.address(), 64);
            rt.copyDeviceToDevice(s, a.address(8, 32), b.address(), 32);
            rt.memset(s, b.address(32, 32), 0x5a, 32);
            rt.copyDeviceToHost(s, b.address(), dst, 64);
            rt.synchronize(s);
            for (int i = 0; i < 32; i++) assertEquals((byte) ((i + 8) * 7), dst.get(ValueLayout.JAVA_BYTE, i));
            for (int i = 32; i < 64; i++) assertEquals((byte) 0x5a, dst.get(ValueLayout.JAVA_BYTE, i));
            s.close();
        }
    }

    @Test
    void freshBuffersAreZeroAndBytesAreCounted() {
        EmulatedRuntime rt = new EmulatedRuntime();
        long before = DeviceArena.bytesInUse();
        DeviceArena arena = new DeviceArena(rt, "count test");
        DeviceBuffer a = arena.allocate("a", 1000);
        arena.allocatePinned(24);
        assertEquals(1024, arena.bytes());
        assertEquals(before + 1024, DeviceArena.bytesInUse());
        assertEquals(1000, rt.usedBytes());
        try (Arena host = Arena.ofConfined()) {
            MemorySegment h = host.allocate(1000);
            h.fill((byte) 1);
            rt.copyDeviceToHost(rt.defaultStream(), a.address(), h, 1000);
            for (int i = 0; i < 1000; i++) assertEquals(0, h.get(ValueLayout.JAVA_BYTE, i));
        }
        arena.close();
        assertEquals(before, DeviceArena.bytesInUse());
        assertEquals(0, rt.usedBytes());
    }

    /**
     * Regression: pinned segments were raw reinterpreted addresses, so writing one after its arena closed
     * (e.g. an encoder staging its batch after it was closed) went into freed C heap memory and
     * crashed the JVM later in malloc. Now every access after close is an IllegalStateException.
     */
    @Test
    void pinnedMemoryUsedAfterCloseThrowsInsteadOfWritingFreedMemory() {
        EmulatedRuntime rt = new EmulatedRuntime();
        DeviceArena arena = new DeviceArena(rt, "pinned test");
        MemorySegment pinned = arena.allocatePinned(12);
        pinned.set(ValueLayout.JAVA_INT, 4, 2);
        assertEquals(2, pinned.get(ValueLayout.JAVA_INT, 4));
        MemorySegment slice = pinned.asSlice(0, 8);
        arena.close();
        assertThrows(IllegalStateException.class, () -> pinned.set(ValueLayout.JAVA_INT, 4, 2));
        assertThrows(IllegalStateException.class, () -> slice.set(ValueLayout.JAVA_INT, 0, 0));
        assertThrows(IllegalStateException.class, () -> MemorySegment.copy(new int[] {0, 2}, 0, pinned, ValueLayout.JAVA_INT, 0, 2));
    }

    @Test
    void bufferUsedAfterCloseThrowsNamingIt() {
        EmulatedRuntime rt = new EmulatedRuntime();
        DeviceArena arena = new DeviceArena(rt, "the test model");
        DeviceBuffer kv = arena.allocate("layer 3 key cache", 128);
        arena.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, kv::address);
        assertTrue(e.getMessage().contains("layer 3 key cache") && e.getMessage().contains("the test model"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> arena.allocate("late", 16));
    }

    @Test
    void outOfBoundsRegionThrows() {
        EmulatedRuntime rt = new EmulatedRuntime();
        try (DeviceArena arena = new DeviceArena(rt, "bounds")) {
            DeviceBuffer b = arena.allocate("small", 100);
            assertThrows(IndexOutOfBoundsException.class, () -> b.address(90, 20));
        }
    }

    @Test
    void outOfMemoryNamesRequestedAndFreeBytes() {
        EmulatedRuntime rt = new EmulatedRuntime(1 << 20);
        try (DeviceArena arena = new DeviceArena(rt, "oom test")) {
            arena.allocate("first", 600_000);
            GpuOutOfMemoryException e = assertThrows(GpuOutOfMemoryException.class, () -> arena.allocate("weights", 500_000));
            assertEquals(500_000, e.requested());
            assertEquals((1 << 20) - 600_000, e.free());
            assertTrue(e.getMessage().contains("weights") && e.getMessage().contains("requested 500000 bytes")
                    && e.getMessage().contains(((1 << 20) - 600_000) + " bytes free"), e.getMessage());
        }
    }

    @Test
    void capturedGraphReplaysLikeDirectLaunches() {
        EmulatedRuntime rt = new EmulatedRuntime();
        int m = 24, n = 5, k = 40;
        try (DeviceArena arena = new DeviceArena(rt, "graph test"); Arena host = Arena.ofConfined()) {
            DeviceBuffer a = arena.allocate("a", (long) m * k * 2), b = arena.allocate("b", (long) k * n * 2);
            DeviceBuffer direct = arena.allocate("direct", (long) m * n * 4), replayed = arena.allocate("replayed", (long) m * n * 4);
            DeviceBuffer copy = arena.allocate("copy", (long) m * n * 4), ones = arena.allocate("ones", (long) m * 4);
            DeviceBuffer normed = arena.allocate("normed", (long) m * n * 4);
            MemorySegment ha = GemmTest.randomHalf(host, m * k, 1), hb = GemmTest.randomHalf(host, k * n, 2);
            GpuStream s = rt.defaultStream();
            rt.copyHostToDevice(s, ha, a.address(), ha.byteSize());
            rt.copyHostToDevice(s, hb, b.address(), hb.byteSize());
            Gemm g1 = new Gemm(false, false, m, n, k, 1f, a.address(), DType.F16, m, 0, b.address(), DType.F16, k, 0, 0f,
                    direct.address(), DType.F32, m, 0, 1);
            rt.gemm(s, g1);
            MemorySegment one = host.allocate((long) m * 4);
            for (int i = 0; i < m; i++) one.setAtIndex(ValueLayout.JAVA_FLOAT, i, 1f);
            rt.copyHostToDevice(s, one, ones.address(), one.byteSize());
            rt.kernels().rmsnorm(s, normed.address(), 0, direct.address(), ones.address(), n, m, 1e-5f, DType.F32);
            // Record: GEMM into `replayed`, then a device copy of it; nothing runs until the launch.
            rt.beginCapture(s);
            rt.gemm(s, new Gemm(false, false, m, n, k, 1f, a.address(), DType.F16, m, 0, b.address(), DType.F16, k, 0, 0f,
                    replayed.address(), DType.F32, m, 0, 1));
            rt.copyDeviceToDevice(s, replayed.address(), copy.address(), (long) m * n * 4);
            // ... and a kernel: RMSNorm of the GEMM result's columns, in place on the copy.
            rt.kernels().rmsnorm(s, copy.address(), 0, copy.address(), ones.address(), n, m, 1e-5f, DType.F32);
            assertThrows(IllegalStateException.class, () -> rt.copyHostToDevice(s, ha, a.address(), 8));
            GpuGraph graph = rt.endCapture(s);
            assertEquals(3, graph.nodeCount());
            float[] r = read(rt, replayed, m * n, host);
            for (float x : r) assertEquals(0f, x); // not run yet
            graph.launch(s);
            graph.launch(s); // replays are idempotent here (beta = 0)
            assertArrayEquals(read(rt, direct, m * n, host), read(rt, replayed, m * n, host));
            assertArrayEquals(read(rt, normed, m * n, host), read(rt, copy, m * n, host));
            graph.close();
            assertThrows(IllegalStateException.class, () -> graph.launch(s));
        }
    }

    @Test
    void eventsMeasureElapsedTime() {
        EmulatedRuntime rt = new EmulatedRuntime();
        GpuEvent a = rt.recordEvent(rt.defaultStream()), b = rt.recordEvent(rt.defaultStream());
        b.synchronize();
        assertTrue(b.millisSince(a) >= 0);
    }

    static float[] read(GpuRuntime rt, DeviceBuffer buf, int floats, Arena host) {
        MemorySegment h = host.allocate((long) floats * 4);
        rt.copyDeviceToHost(rt.defaultStream(), buf.address(), h, (long) floats * 4);
        return h.toArray(ValueLayout.JAVA_FLOAT);
    }
}
