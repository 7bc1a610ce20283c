package io.transfuse.cuda.memory;

/**
 * A region of device memory owned by a {@link DeviceArena}. Its address is handed out only while
 * the arena is open: use after close is an {@link IllegalStateException} naming the buffer, never a
 * native crash. Offsets are checked against the size.
 */
public final class DeviceBuffer {
    private final DeviceArena arena;
    private final String name;
    private final long address, bytes;

    DeviceBuffer(DeviceArena arena, String name, long address, long bytes) {
        this.arena = arena;
        this.name = name;
        this.address = address;
        this.bytes = bytes;
    }

    public String name() { return name; }

    public long bytes() { return bytes; }

    /** The device address, while the owning arena is open. */
    public long address() {
        return address(0, 0);
    }

    /** The address {@code offset} bytes in, for a region of {@code length} bytes that must lie inside the buffer. */
    public long address(long offset, long length) {
        if (!arena.isOpen()) {
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
