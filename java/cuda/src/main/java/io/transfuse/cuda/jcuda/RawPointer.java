package io.transfuse.cuda.jcuda;

import jcuda.NativePointerObject;
import jcuda.Pointer;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The one adapter between raw device addresses (what Panama and the kernel library use) and JCuda
 * objects. {@code jcuda.Pointer} keeps its address-taking constructor protected, so a subclass makes
 * one from a {@code long}; the address of a JCuda handle (cudaStream_t, Pointer after an allocation)
 * is the native pointer plus the byte offset, read from NativePointerObject's private field
 * (JCuda has no public accessor).
 */
final class RawPointer extends Pointer {
    private static final VarHandle NATIVE_POINTER;

    static {
        try {
            NATIVE_POINTER = MethodHandles.privateLookupIn(NativePointerObject.class, MethodHandles.lookup())
                    .findVarHandle(NativePointerObject.class, "nativePointer", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private RawPointer(long address) {
        super(address);
    }

    /** A JCuda pointer to {@code address}. */
    static Pointer of(long address) {
        return new RawPointer(address);
    }

    /** The raw address a JCuda handle or pointer holds (JCuda's own allocations have byte offset 0). */
    static long address(NativePointerObject o) {
        long base = (long) NATIVE_POINTER.get(o);
        return o instanceof RawPointer r ? base + r.getByteOffset() : base;
    }
}
