package io.transfuse.memory;

import io.transfuse.backend.NativeLibrary;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.channels.FileChannel;
import java.util.concurrent.atomic.AtomicLong;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * An owner of native memory: allocations and file mappings made through it live until it is
 * closed, then are freed (or unmapped) together. Every byte is counted, so tests and users can
 * check that closing a model returns everything it took ({@link #bytesInUse()}).
 *
 * <p>Backed by a shared {@link Arena}: segments may be read from any thread (the CPU backend's
 * worker threads read them natively anyway). Native libraries are NOT loaded through this class:
 * they belong to {@code Arena.global()} (unloading a library under its live threads crashes the JVM).
 */
public final class TrackedArena implements AutoCloseable {
    private static final AtomicLong IN_USE = new AtomicLong();
    /** Allocations from this size up are reserved with mmap and committed by the OS as they are touched. */
    public static final long LAZY_THRESHOLD = 64L << 20;
    // mmap(2) flags of Linux x86-64: PROT_READ | PROT_WRITE; MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE.
    private static final int PROT_RW = 0x3, MAP_LAZY = 0x02 | 0x20 | 0x4000;
    private static MethodHandle mmap, munmap;

    private final Arena arena = Arena.ofShared();
    private final String owner;
    private long bytes;
    private boolean closed;

    /** @param owner what this memory belongs to, named in errors (e.g. the model file). */
    public TrackedArena(String owner) {
        this.owner = owner;
    }

    /** Native bytes currently held by all open tracked arenas in this JVM. */
    public static long bytesInUse() {
        return IN_USE.get();
    }

    /** Zero-filled native memory, 64-byte aligned (a cache line; enough for AVX-512 loads). */
    public synchronized MemorySegment allocate(long byteSize) {
        checkOpen();
        MemorySegment segment = arena.allocate(Math.max(byteSize, 1), 64);
        count(segment.byteSize());
        return segment;
    }

    /**
     * Zero-filled memory of {@code byteSize} bytes, like {@link #allocate}; from {@link #LAZY_THRESHOLD}
     * up it is reserved with mmap and the OS commits (and zeroes) its pages only when they are first
     * touched, so a large KV cache costs only what its sequences use. Counted at its full size.
     */
    public synchronized MemorySegment allocateLazily(long byteSize) {
        if (byteSize < LAZY_THRESHOLD) return allocate(byteSize);
        checkOpen();
        bindMmap();
        long address = NativeLibrary.callLong(() -> ((MemorySegment) mmap.invokeExact(MemorySegment.NULL, byteSize, PROT_RW, MAP_LAZY, -1, 0L)).address());
        if (address == -1L) {
            throw new IllegalStateException("cannot reserve " + byteSize + " bytes of address space for " + owner + " (mmap failed)");
        }
        MemorySegment segment = MemorySegment.ofAddress(address).reinterpret(byteSize, arena,
                s -> NativeLibrary.callInt(() -> (int) munmap.invokeExact(s, byteSize)));
        count(byteSize);
        return segment;
    }

    private static synchronized void bindMmap() {
        if (mmap != null) return;
        var libc = Linker.nativeLinker().defaultLookup();
        mmap = NativeLibrary.downcall(libc, "libc", "mmap", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
        munmap = NativeLibrary.downcall(libc, "libc", "munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    }

    /** Float array of {@code count} elements. */
    public MemorySegment allocateFloats(long count) {
        return allocate(count * Float.BYTES);
    }

    /** Maps {@code size} bytes of a file read-only; unmapped when this arena closes. */
    public synchronized MemorySegment map(FileChannel channel, long size) throws IOException {
        checkOpen();
        MemorySegment segment = channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
        count(size);
        return segment;
    }

    /** Bytes held by this arena. */
    public synchronized long bytes() {
        return bytes;
    }

    public synchronized boolean isOpen() {
        return !closed;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        arena.close();
        IN_USE.addAndGet(-bytes);
        bytes = 0;
    }

    private void count(long n) {
        bytes += n;
        IN_USE.addAndGet(n);
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("memory of " + owner + " was already released (closed)");
    }
}
