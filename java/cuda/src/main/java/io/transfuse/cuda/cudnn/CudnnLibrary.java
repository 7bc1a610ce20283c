package io.transfuse.cuda.cudnn;

import io.transfuse.backend.NativeLibrary;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * cuDNN 9 through Panama, bound thinly: the handle calls (cudnnCreate, cudnnDestroy, cudnnSetStream,
 * cudnnGetVersion, cudnnGetErrorString) and the backend (graph) API that {@link CudnnConv2d} needs
 * (cudnnBackendCreateDescriptor, SetAttribute, GetAttribute, Finalize, Execute, DestroyDescriptor), with the C
 * signatures of cudnn_graph.h. Every status goes through {@link #check}, which turns a nonzero one into a
 * {@link CudnnException} naming the call (or {@link CudnnNotSupportedException}). Found by {@link CudnnLocator};
 * loaded into the global arena (never unloaded).
 *
 * <p>Why not JCudnn: {@code org.jcuda:jcudnn} stops at cuDNN 8 and fails to load next to jcuda 12.6.
 */
public final class CudnnLibrary {
    static final FunctionDescriptor STATUS_OF_POINTER = FunctionDescriptor.of(JAVA_INT, ADDRESS);
    static final FunctionDescriptor STATUS_OF_TWO_POINTERS = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS);
    static final FunctionDescriptor VERSION = FunctionDescriptor.of(JAVA_LONG);
    static final FunctionDescriptor ERROR_STRING = FunctionDescriptor.of(ADDRESS, JAVA_INT);
    static final FunctionDescriptor CREATE_DESCRIPTOR = FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS);
    static final FunctionDescriptor SET_ATTRIBUTE = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS);
    static final FunctionDescriptor GET_ATTRIBUTE = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS);
    static final FunctionDescriptor EXECUTE = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
    /** Every downcall signature this class binds (for GraalVM native-image metadata). */
    public static final List<FunctionDescriptor> DESCRIPTORS = List.of(STATUS_OF_POINTER, STATUS_OF_TWO_POINTERS, VERSION,
            ERROR_STRING, CREATE_DESCRIPTOR, SET_ATTRIBUTE, GET_ATTRIBUTE, EXECUTE);

    /** cuDNN 9's sub-libraries, preloaded from the folder of a libcudnn.so.9 found off the loader path, so its shim finds them. */
    static final List<String> SUBLIBRARIES = List.of("libcudnn_graph.so.9", "libcudnn_ops.so.9", "libcudnn_cnn.so.9",
            "libcudnn_heuristic.so.9", "libcudnn_engines_runtime_compiled.so.9", "libcudnn_engines_precompiled.so.9");

    private final String library;
    final MethodHandle create, destroy, setStream, version, errorString, createDescriptor, destroyDescriptor, setAttribute,
            getAttribute, finalizeDescriptor, execute;

    private CudnnLibrary(String library, SymbolLookup lib) {
        this.library = library;
        create = bind(lib, "cudnnCreate", STATUS_OF_POINTER);
        destroy = bind(lib, "cudnnDestroy", STATUS_OF_POINTER);
        setStream = bind(lib, "cudnnSetStream", STATUS_OF_TWO_POINTERS);
        version = bind(lib, "cudnnGetVersion", VERSION);
        errorString = bind(lib, "cudnnGetErrorString", ERROR_STRING);
        createDescriptor = bind(lib, "cudnnBackendCreateDescriptor", CREATE_DESCRIPTOR);
        destroyDescriptor = bind(lib, "cudnnBackendDestroyDescriptor", STATUS_OF_POINTER);
        setAttribute = bind(lib, "cudnnBackendSetAttribute", SET_ATTRIBUTE);
        getAttribute = bind(lib, "cudnnBackendGetAttribute", GET_ATTRIBUTE);
        finalizeDescriptor = bind(lib, "cudnnBackendFinalize", STATUS_OF_POINTER);
        execute = bind(lib, "cudnnBackendExecute", EXECUTE);
    }

    /**
     * Loads the first libcudnn.so.9 of {@code locator}'s candidates that loads.
     *
     * @throws CudnnException with one line naming what was looked for and where, when none loads
     */
    public static CudnnLibrary open(CudnnLocator locator) {
        List<String> failures = new ArrayList<>();
        for (CudnnLocator.Candidate c : locator.candidates()) {
            try {
                SymbolLookup lib;
                if (c.searchPath()) {
                    lib = SymbolLookup.libraryLookup(c.library(), Arena.global());
                } else {
                    Path file = Path.of(c.library());
                    for (String sub : SUBLIBRARIES) {
                        Path s = file.resolveSibling(sub);
                        if (Files.isRegularFile(s)) {
                            try {
                                SymbolLookup.libraryLookup(s, Arena.global());
                            } catch (IllegalArgumentException ignored) {
                                // the shim reports what it cannot load when a call needs it
                            }
                        }
                    }
                    lib = SymbolLookup.libraryLookup(file, Arena.global());
                }
                return new CudnnLibrary(c.library(), lib);
            } catch (IllegalArgumentException e) {
                if (!c.searchPath()) failures.add(c.library() + ": " + e.getMessage());
            }
        }
        throw new CudnnException(notFoundMessage(locator, failures), 0, CudnnStatus.NOT_INITIALIZED);
    }

    /** The one line said when no libcudnn.so.9 loads. */
    static String notFoundMessage(CudnnLocator locator, List<String> failures) {
        return "cuDNN not found: no " + CudnnLocator.SONAME + " in " + locator.searched()
                + (failures.isEmpty() ? "" : " (failed to load: " + String.join("; ", failures) + ")")
                + "; convolutions use Transfuse's own kernel. Install cuDNN 9 or name it with -D" + CudnnLocator.PATH_PROPERTY
                + "=PATH or $" + CudnnLocator.PATH_ENV + ".";
    }

    /** The library file (or soname) that was loaded. */
    public String library() { return library; }

    /** cudnnGetVersion: e.g. 91000 for 9.10.0. */
    public long version() { return NativeLibrary.callLong(() -> (long) version.invokeExact()); }

    /** cudnnGetErrorString's text for {@code status} (null when it gives none). */
    public String errorString(int status) {
        MemorySegment[] out = new MemorySegment[1];
        NativeLibrary.call(() -> { out[0] = (MemorySegment) errorString.invokeExact(status); });
        MemorySegment s = out[0];
        return s == null || s.address() == 0 ? null : s.reinterpret(256).getString(0);
    }

    /** Throws the exception for a nonzero {@code status} of {@code call}. */
    public void check(String call, int status) {
        if (status != 0) throw CudnnStatus.exception(call, status, errorString(status));
    }

    private static MethodHandle bind(SymbolLookup lib, String name, FunctionDescriptor fd) {
        return NativeLibrary.downcall(lib, "libcudnn", name, fd);
    }
}
