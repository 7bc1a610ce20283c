package io.transfuse.cuda.memory;

import io.transfuse.cuda.runtime.GpuOutOfMemoryException;
import io.transfuse.cuda.runtime.GpuRuntime;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An owner of device memory (and of pinned host buffers): what is allocated through it lives until
 * it is closed, then is freed together, deterministically (no finalizers). Bytes are counted per arena
 * and for the JVM ({@link #bytesInUse()}), so tests can check that closing a model returns everything.
 * A buffer used after its arena closed throws {@link IllegalStateException} naming the buffer.
 *
 * <p>Pinned host segments are handed out bound to a scope of this arena that closes before their
 * memory is freed, so a read or write through one after {@link #close} throws IllegalStateException
 * instead of landing in freed native memory (a raw {@code reinterpret}ed segment would stay usable
 * forever: writing to it after the free corrupted the C heap and crashed the JVM later, elsewhere).
 */
public final class DeviceArena implements AutoCloseable {
    private static final AtomicLong IN_USE = new AtomicLong();

    private final GpuRuntime runtime;
    private final String owner;
    private final List<DeviceBuffer> buffers = new ArrayList<>();
    /** Pinned buffers: each handed out under a scope of its own, closed before its memory is freed. */
    private record Pinned(MemorySegment raw, Arena scope, MemorySegment handedOut) {}
    private final List<Pinned> pinned = new ArrayList<>();
    private long bytes;
    private boolean closed;

    /** @param owner what this memory belongs to, named in errors (e.g. "weights of stories260K"). */
    public DeviceArena(GpuRuntime runtime, String owner) {
        this.runtime = runtime;
        this.owner = owner;
    }

    /** Device bytes currently held by all open device arenas of this JVM (pinned host memory included). */
    public static long bytesInUse() {
        return IN_USE.get();
    }

    /** {@code bytes} of device memory named {@code name} (in errors), zero-filled. */
    public synchronized DeviceBuffer allocate(String name, long bytes) {
        checkOpen();
        if (bytes <= 0) throw new IllegalArgumentException("device buffer " + name + " of " + owner + ": size must be positive, got " + bytes);
        long address;
        try {
            address = runtime.malloc(bytes);
        } catch (GpuOutOfMemoryException e) {
            throw new GpuOutOfMemoryException("device buffer " + name + " of " + owner, e.requested(), e.free());
        }
        DeviceBuffer b = new DeviceBuffer(this, name, address, bytes);
        buffers.add(b);
        count(bytes);
        runtime.memset(runtime.defaultStream(), address, 0, bytes);
        return b;
    }

    /** Frees one allocation of this arena before the arena closes; its address (and its slices') become unusable. */
    public synchronized void release(DeviceBuffer b) {
        checkOpen();
        if (b.arena() != this || !buffers.remove(b)) throw new IllegalArgumentException(b + " is not an allocation of " + owner);
        b.markReleased();
        runtime.free(b.rawAddress());
        IN_USE.addAndGet(-b.bytes());
        bytes -= b.bytes();
    }

    /** Frees a pinned buffer of this arena before the arena closes; the segment becomes unusable (IllegalStateException). */
    public synchronized void releasePinned(MemorySegment handedOut) {
        checkOpen();
        for (int i = 0; i < pinned.size(); i++) {
            Pinned p = pinned.get(i);
            if (p.handedOut().address() == handedOut.address() && p.handedOut().byteSize() == handedOut.byteSize()) {
                pinned.remove(i);
                p.scope().close();
                runtime.freePinned(p.raw());
                IN_USE.addAndGet(-handedOut.byteSize());
                bytes -= handedOut.byteSize();
                return;
            }
        }
        throw new IllegalArgumentException("the pinned segment is not an allocation of " + owner);
    }

    /** Page-locked host memory of {@code bytes}, freed with this arena. */
    public synchronized MemorySegment allocatePinned(long bytes) {
        checkOpen();
        MemorySegment s = runtime.allocatePinned(bytes);
        Arena scope = Arena.ofShared();
        MemorySegment handedOut = s.reinterpret(bytes, scope, null);
        pinned.add(new Pinned(s, scope, handedOut));
        count(bytes);
        return handedOut;
    }

    public GpuRuntime runtime() { return runtime; }

    public String owner() { return owner; }

    /** Bytes held by this arena. */
    public synchronized long bytes() { return bytes; }

    public synchronized boolean isOpen() { return !closed; }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        RuntimeException first = null;
        for (DeviceBuffer b : buffers) {
            try {
                runtime.free(b.rawAddress());
            } catch (RuntimeException e) {
                if (first == null) first = e;
            }
        }
        for (Pinned p : pinned) {
            p.scope().close();  // first: the handed-out segment cannot reach the memory once it is freed
            runtime.freePinned(p.raw());
        }
        buffers.clear();
        pinned.clear();
        IN_USE.addAndGet(-bytes);
        bytes = 0;
        if (first != null) throw first;
    }

    private void count(long n) {
        bytes += n;
        IN_USE.addAndGet(n);
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("device memory of " + owner + " was already released (closed)");
    }
}
