package io.transfuse.cuda.runtime;

import io.transfuse.backend.NativeLibrary;
import io.transfuse.cuda.kernels.KernelLibrary;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The cuda-emu runtime: "device" memory is host memory (aligned_alloc), kernels are those of
 * libtransfuse_emu (native/kernels compiled against the host emulator; a launch runs the whole grid
 * before it returns), GEMM is libtransfuse_emu's reference {@code tf_emu_gemm}. Streams therefore
 * execute in order, synchronously; events are timestamps. A capturing stream records kernel launches,
 * GEMMs, memsets and device copies into a {@link GpuGraph} that replays them in order.
 *
 * <p>The device size is a budget ({@code capacityBytes}) so out-of-memory behaves as on a GPU.
 * Not thread-safe (one model drives it at a time).
 */
public final class EmulatedRuntime implements GpuRuntime {
    /** Default emulated device memory: 16 GiB (host memory is only taken as allocated). */
    public static final long DEFAULT_CAPACITY = 16L << 30;
    private static final long ALIGNMENT = 256; // cudaMalloc's alignment

    private static final MethodHandle ALIGNED_ALLOC, FREE;

    static {
        SymbolLookup libc = Linker.nativeLinker().defaultLookup();
        ALIGNED_ALLOC = NativeLibrary.downcall(libc, "libc", "aligned_alloc", FunctionDescriptor.of(ADDRESS, JAVA_LONG, JAVA_LONG));
        FREE = NativeLibrary.downcall(libc, "libc", "free", FunctionDescriptor.ofVoid(ADDRESS));
    }

    private final long capacity;
    private final Map<Long, Long> allocations = new HashMap<>(); // address -> bytes
    private long used;
    private final MethodHandle gemm, lastError;
    private final KernelLibrary kernels;
    private final Stream defaultStream = new Stream(true);

    public EmulatedRuntime() {
        this(DEFAULT_CAPACITY);
    }

    public EmulatedRuntime(long capacityBytes) {
        if (capacityBytes <= 0) throw new IllegalArgumentException("emulated device capacity must be positive, got " + capacityBytes);
        this.capacity = capacityBytes;
        SymbolLookup lib = NativeLibrary.load("transfuse_emu");
        gemm = NativeLibrary.downcall(lib, "libtransfuse_emu", "tf_emu_gemm", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, ADDRESS, JAVA_INT,
                        JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_FLOAT, ADDRESS, JAVA_INT, JAVA_LONG,
                        JAVA_LONG, JAVA_INT));
        lastError = NativeLibrary.downcall(lib, "libtransfuse_emu", "tf_emu_last_error", FunctionDescriptor.of(ADDRESS));
        kernels = new KernelLibrary(lib, "libtransfuse_emu", this);
    }

    @Override
    public DeviceProperties properties() {
        return new DeviceProperties("cuda-emu (host emulator)", capacity, Runtime.getRuntime().availableProcessors(), 0);
    }

    @Override
    public long freeBytes() { return capacity - used; }

    @Override
    public long malloc(long bytes) {
        if (bytes <= 0) throw new IllegalArgumentException("device allocation size must be positive, got " + bytes);
        if (bytes > capacity - used) throw new GpuOutOfMemoryException("malloc", bytes, capacity - used);
        long rounded = (bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
        long address = NativeLibrary.callLong(() -> ((MemorySegment) ALIGNED_ALLOC.invokeExact(ALIGNMENT, rounded)).address());
        if (address == 0) throw new GpuOutOfMemoryException("malloc (host memory for the emulator)", bytes, capacity - used);
        allocations.put(address, bytes);
        used += bytes;
        return address;
    }

    @Override
    public void free(long address) {
        Long bytes = allocations.remove(address);
        if (bytes == null) throw new IllegalArgumentException("free of an address that is not an allocation: 0x" + Long.toHexString(address));
        used -= bytes;
        NativeLibrary.call(() -> { FREE.invokeExact(MemorySegment.ofAddress(address)); });
    }

    @Override
    public MemorySegment allocatePinned(long bytes) {
        if (bytes <= 0) throw new IllegalArgumentException("pinned allocation size must be positive, got " + bytes);
        long rounded = (bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
        long address = NativeLibrary.callLong(() -> ((MemorySegment) ALIGNED_ALLOC.invokeExact(ALIGNMENT, rounded)).address());
        if (address == 0) throw new OutOfMemoryError("no host memory for " + bytes + " pinned bytes");
        return MemorySegment.ofAddress(address).reinterpret(bytes);
    }

    @Override
    public void freePinned(MemorySegment pinned) {
        NativeLibrary.call(() -> { FREE.invokeExact(MemorySegment.ofAddress(pinned.address())); });
    }

    @Override
    public void memset(GpuStream stream, long dst, int value, long bytes) {
        run(stream, "memset", () -> segment(dst, bytes).fill((byte) value));
    }

    @Override
    public void copyHostToDevice(GpuStream stream, MemorySegment src, long dst, long bytes) {
        noCapture(stream, "host-to-device copy");
        MemorySegment.copy(src, 0, segment(dst, bytes), 0, bytes);
    }

    @Override
    public void copyDeviceToHost(GpuStream stream, long src, MemorySegment dst, long bytes) {
        noCapture(stream, "device-to-host copy");
        MemorySegment.copy(segment(src, bytes), 0, dst, 0, bytes);
    }

    @Override
    public void copyDeviceToDevice(GpuStream stream, long src, long dst, long bytes) {
        run(stream, "device-to-device copy", () -> MemorySegment.copy(segment(src, bytes), 0, segment(dst, bytes), 0, bytes));
    }

    @Override
    public GpuStream defaultStream() { return defaultStream; }

    @Override
    public GpuStream createStream() { return new Stream(false); }

    @Override
    public GpuEvent recordEvent(GpuStream stream) {
        noCapture(stream, "event record");
        return new Event(System.nanoTime());
    }

    /** Emulated events are timestamps: the work before them has finished when they are recorded. */
    private record Event(long nanos) implements GpuEvent {
        @Override public void synchronize() {}

        @Override public float millisSince(GpuEvent earlier) {
            if (!(earlier instanceof Event e)) throw new IllegalArgumentException("event of another runtime");
            return (nanos - e.nanos) / 1e6f;
        }

        @Override public void close() {}
    }

    @Override
    public void beginCapture(GpuStream stream) {
        Stream s = stream(stream);
        if (s.capture != null) throw new IllegalStateException("stream is already capturing");
        s.capture = new ArrayList<>();
    }

    @Override
    public GpuGraph endCapture(GpuStream stream) {
        Stream s = stream(stream);
        if (s.capture == null) throw new IllegalStateException("endCapture on a stream that is not capturing");
        List<Runnable> ops = List.copyOf(s.capture);
        s.capture = null;
        return new GpuGraph() {
            private boolean closed;

            @Override public void launch(GpuStream on) {
                if (closed) throw new IllegalStateException("graph was closed");
                noCapture(on, "graph launch");
                for (Runnable op : ops) op.run();
            }

            @Override public int nodeCount() { return ops.size(); }

            @Override public void close() { closed = true; }
        };
    }

    @Override
    public void gemm(GpuStream stream, Gemm g) {
        launch(stream, "tf_emu_gemm", st -> (int) gemm.invokeExact(g.transA() ? 1 : 0, g.transB() ? 1 : 0, g.m(), g.n(), g.k(),
                g.alpha(), MemorySegment.ofAddress(g.a()), g.aType().tfCode(), g.lda(), g.strideA(), MemorySegment.ofAddress(g.b()),
                g.bType().tfCode(), g.ldb(), g.strideB(), g.beta(), MemorySegment.ofAddress(g.c()), g.cType().tfCode(), g.ldc(),
                g.strideC(), g.batch()));
    }

    @Override
    public KernelLibrary kernels() { return kernels; }

    @Override
    public void launch(GpuStream stream, String name, NativeLaunch launch) {
        run(stream, name, () -> {
            int rc = NativeLibrary.callInt(() -> launch.run(MemorySegment.NULL));
            if (rc != 0) throw new GpuException(name + " failed on cuda-emu: " + describe(rc));
        });
    }

    @Override
    public void synchronize(GpuStream stream) {
        noCapture(stream, "synchronize");
    }

    @Override
    public void close() {
        // Buffers belong to their arenas; nothing else is held.
    }

    /** Bytes currently allocated on the emulated device. */
    public long usedBytes() { return used; }

    private String describe(int rc) {
        if (rc == 1) return "invalid argument (1)";
        long message = NativeLibrary.callLong(() -> ((MemorySegment) lastError.invokeExact()).address());
        String text = MemorySegment.ofAddress(message).reinterpret(4096).getString(0);
        return text.isBlank() ? "error " + rc : text.strip() + " (error " + rc + ")";
    }

    private void run(GpuStream stream, String what, Runnable op) {
        Stream s = stream(stream);
        if (s.capture != null) s.capture.add(op);
        else op.run();
    }

    private void noCapture(GpuStream stream, String what) {
        if (stream(stream).capture != null) throw new IllegalStateException(what + " is not allowed while the stream is capturing");
    }

    private static MemorySegment segment(long address, long bytes) {
        if (address == 0) throw new IllegalArgumentException("null device pointer");
        if (bytes < 0) throw new IllegalArgumentException("negative copy size " + bytes);
        return MemorySegment.ofAddress(address).reinterpret(bytes);
    }

    private Stream stream(GpuStream s) {
        if (!(s instanceof Stream st)) throw new IllegalArgumentException("stream does not belong to the emulated runtime");
        if (st.closed) throw new IllegalStateException("stream was destroyed");
        return st;
    }

    private static final class Stream implements GpuStream {
        final boolean isDefault;
        List<Runnable> capture;
        boolean closed;

        Stream(boolean isDefault) { this.isDefault = isDefault; }

        @Override public MemorySegment handle() { return MemorySegment.NULL; }

        @Override public void close() { if (!isDefault) closed = true; }
    }
}
