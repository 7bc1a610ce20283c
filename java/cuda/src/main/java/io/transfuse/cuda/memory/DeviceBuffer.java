package io.transfuse.cuda.memory;

import io.transfuse.tensor.Storage;

/**
 * A region of device memory owned by a {@link DeviceArena}: an allocation, or a slice of one (a
 * tensor's {@link Storage}). Its address is handed out only while the arena is open and the allocation
 * not released: use after close is an {@link IllegalStateException} naming the buffer, never a native
 * crash. Offsets are checked against the size.
 */
public final class DeviceBuffer implements Storage {
    private final DeviceArena arena;
    private final String name;
    private final long address, bytes;
    /** The allocation this buffer is (a slice of); its release ends every slice's life. */
    private final DeviceBuffer root;
    private volatile boolean released;

    DeviceBuffer(DeviceArena arena, String name, long address, long bytes) {
        this(arena, name, address, bytes, null);
    }

    private DeviceBuffer(DeviceArena arena, String name, long address, long bytes, DeviceBuffer root) {
        this.arena = arena;
        this.name = name;
        this.address = address;
        this.bytes = bytes;
        this.root = root == null ? this : root;
    }

    /** The arena that owns this memory. */
    public DeviceArena arena() { return arena; }

    @Override
    public long byteSize() { return bytes; }

    @Override
    public DeviceBuffer slice(long offset, long length) {
        if (offset < 0 || length < 0 || offset + length > bytes) {
            throw new IndexOutOfBoundsException("device buffer " + name + " of " + bytes + " bytes: slice [" + offset + ", "
                    + (offset + length) + ") is out of bounds");
        }
        return new DeviceBuffer(arena, name, address + offset, length, root);
    }

    void markReleased() { released = true; }

    public String name() { return name; }

    public long bytes() { return bytes; }

    /** The device address, while the owning arena is open. */
    public long address() {
        return address(0, 0);
    }

    /** The address {@code offset} bytes in, for a region of {@code length} bytes that must lie inside the buffer. */
    public long address(long offset, long length) {
        if (!arena.isOpen() || root.released) {
            throw new IllegalStateException("device buffer " + name + " of " + arena.owner() + " used after its memory was released (closed)");
        }
        if (offset < 0 || length < 0 || offset + length > bytes) {
            throw new IndexOutOfBoundsException("device buffer " + name + " of " + bytes + " bytes: region [" + offset + ", "
                    + (offset + length) + ") is out of bounds");
        }
        return address + offset;
    }

    long rawAddress() { return address; }

    @Override
    public String toString() { return "device buffer " + name + " (" + bytes + " bytes)"; }
}
