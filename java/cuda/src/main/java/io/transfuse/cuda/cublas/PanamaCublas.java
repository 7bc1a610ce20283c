package io.transfuse.cuda.cublas;

import io.transfuse.backend.NativeLibrary;
import io.transfuse.cuda.runtime.Gemm;
import io.transfuse.cuda.runtime.GpuException;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * cuBLAS through Panama: {@code cublasGemmEx} and {@code cublasGemmStridedBatchedEx} with fp32
 * compute (fp16/bf16 inputs run on tensor cores with fp32 accumulation), on the caller's stream.
 * Works with libcublas.so.13 (CUDA 13, the lent H200's PyTorch wheels) and .so.12: these entry points
 * and their arguments are the same in both (cublas_api.h). Found by {@link CublasLocator}; one
 * handle per instance, created on the calling thread's current device.
 *
 * <p>Why not JCublas: JCublas 12.6 links libcublas.so.12 by name, which a CUDA 13 machine lacks.
 */
public final class PanamaCublas implements AutoCloseable {
    private static final int CUBLAS_COMPUTE_32F = 68, CUBLAS_GEMM_DEFAULT = -1;
    private static final FunctionDescriptor GEMM_EX = FunctionDescriptor.of(JAVA_INT,
            ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS,
            ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS,
            ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
    private static final FunctionDescriptor GEMM_STRIDED = FunctionDescriptor.of(JAVA_INT,
            ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS,
            ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS,
            ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT);

    private static final FunctionDescriptor HANDLE = FunctionDescriptor.of(JAVA_INT, ADDRESS);
    private static final FunctionDescriptor HANDLE_AND_POINTER = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS);
    private static final FunctionDescriptor WORKSPACE = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG);
    /** Every downcall signature this class binds (GraalVM native-image metadata lists them; a test checks). */
    public static final List<FunctionDescriptor> DESCRIPTORS = List.of(HANDLE, HANDLE_AND_POINTER, WORKSPACE, GEMM_EX, GEMM_STRIDED);

    private final String library;
    private final int version;
    private final MethodHandle destroy, setStream, setWorkspace, gemmEx, gemmStrided;
    private final MemorySegment handle;
    private final MemorySegment scalars = Arena.global().allocate(8, 8); // alpha, beta (host pointer mode)
    private boolean closed;

    private PanamaCublas(String library, SymbolLookup lib) {
        this.library = library;
        MethodHandle create = bind(lib, HANDLE, "cublasCreate_v2", "cublasCreate");
        MethodHandle getVersion = bind(lib, HANDLE_AND_POINTER, "cublasGetVersion_v2", "cublasGetVersion");
        destroy = bind(lib, HANDLE, "cublasDestroy_v2", "cublasDestroy");
        setStream = bind(lib, HANDLE_AND_POINTER, "cublasSetStream_v2", "cublasSetStream");
        setWorkspace = bind(lib, WORKSPACE, "cublasSetWorkspace_v2", "cublasSetWorkspace");
        gemmEx = bind(lib, GEMM_EX, "cublasGemmEx");
        gemmStrided = bind(lib, GEMM_STRIDED, "cublasGemmStridedBatchedEx");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(ADDRESS);
            int rc = NativeLibrary.callInt(() -> (int) create.invokeExact(h));
            if (rc != 0) throw new GpuException("cublasCreate failed with cublasStatus " + rc + " (" + statusName(rc) + ") using " + library);
            handle = h.get(ADDRESS, 0);
            MemorySegment v = a.allocate(JAVA_INT);
            rc = NativeLibrary.callInt(() -> (int) getVersion.invokeExact(handle, v));
            version = rc == 0 ? v.get(JAVA_INT, 0) : -1;
        }
    }

    /**
     * Loads the first libcublas of {@code locator}'s candidates that loads, and creates a handle.
     *
     * @throws GpuException naming every place tried when none works
     */
    public static PanamaCublas open(CublasLocator locator) {
        List<String> tried = new ArrayList<>();
        for (CublasLocator.Candidate c : locator.candidates()) {
            SymbolLookup lib;
            try {
                if (c.companionLt() != null) SymbolLookup.libraryLookup(c.companionLt(), Arena.global());
                lib = c.searchPath() ? SymbolLookup.libraryLookup(c.library(), Arena.global())
                        : SymbolLookup.libraryLookup(java.nio.file.Path.of(c.library()), Arena.global());
            } catch (IllegalArgumentException e) {
                tried.add(c.library() + (c.searchPath() ? " (loader path): not found" : ": " + e.getMessage()));
                continue;
            }
            return new PanamaCublas(c.library(), lib);
        }
        throw new GpuException(notFoundMessage(tried));
    }

    static String notFoundMessage(List<String> tried) {
        return "cuBLAS not found: no libcublas.so.13 or libcublas.so.12 loaded. Tried: " + String.join("; ", tried)
                + ". Install the CUDA toolkit's cuBLAS or NVIDIA's pip wheel (nvidia-cublas), or name the library with -D"
                + CublasLocator.PATH_PROPERTY + "=PATH or $" + CublasLocator.PATH_ENV + ".";
    }

    /** The library file (or soname) that was loaded. */
    public String library() { return library; }

    /** cublasGetVersion: e.g. 130001 for 13.0.1; -1 when it could not be read. */
    public int version() { return version; }

    /** One line for reports: which cuBLAS runs the GEMMs. */
    public String describe() {
        String v = version < 0 ? "?" : (version / 10000) + "." + (version / 100 % 100) + "." + (version % 100);
        return "cuBLAS " + v + " via Panama (" + library + ")";
    }

    /**
     * Gives cuBLAS its workspace ({@code bytes} of device memory at {@code address}, owned by the caller, alive
     * until {@link #close}): with one set, cuBLAS allocates nothing while a stream is being captured into a CUDA
     * graph (the decode step is). NVIDIA's cuBLAS guide recommends 32 MiB on Hopper.
     */
    public synchronized void setWorkspace(long address, long bytes) {
        if (closed) throw new IllegalStateException("cuBLAS handle is closed");
        if (address == 0 || bytes <= 0) throw new IllegalArgumentException("cuBLAS workspace needs memory, got address " + address + " and " + bytes + " bytes");
        int rc = NativeLibrary.callInt(() -> (int) setWorkspace.invokeExact(handle, MemorySegment.ofAddress(address), bytes));
        if (rc != 0) throw new GpuException("cublasSetWorkspace failed with cublasStatus " + rc + " (" + statusName(rc) + ")");
    }

    /** C = alpha op(A) op(B) + beta C on {@code stream} (a cudaStream_t; NULL for the legacy default stream). */
    public synchronized void gemm(MemorySegment stream, Gemm g) {
        if (closed) throw new IllegalStateException("cuBLAS handle is closed");
        if (g.aType().cudaDataType() < 0 || g.cType().cudaDataType() < 0)
            throw new IllegalArgumentException("cuBLAS GEMM needs f32, f16 or bf16 operands, got " + g.aType() + " -> " + g.cType());
        if (g.lda() > Integer.MAX_VALUE || g.ldb() > Integer.MAX_VALUE || g.ldc() > Integer.MAX_VALUE)
            throw new IllegalArgumentException("cuBLAS leading dimensions must fit in 32 bits: " + g);
        int rc = NativeLibrary.callInt(() -> (int) setStream.invokeExact(handle, stream));
        if (rc != 0) throw new GpuException("cublasSetStream failed with cublasStatus " + rc + " (" + statusName(rc) + ")");
        scalars.set(JAVA_FLOAT, 0, g.alpha());
        scalars.set(JAVA_FLOAT, 4, g.beta());
        MemorySegment alpha = scalars, beta = scalars.asSlice(4);
        int ta = g.transA() ? 1 : 0, tb = g.transB() ? 1 : 0;
        MemorySegment a = MemorySegment.ofAddress(g.a()), b = MemorySegment.ofAddress(g.b()), c = MemorySegment.ofAddress(g.c());
        int at = g.aType().cudaDataType(), bt = g.bType().cudaDataType(), ct = g.cType().cudaDataType();
        int lda = (int) g.lda(), ldb = (int) g.ldb(), ldc = (int) g.ldc();
        rc = g.batch() == 1
                ? NativeLibrary.callInt(() -> (int) gemmEx.invokeExact(handle, ta, tb, g.m(), g.n(), g.k(), alpha,
                        a, at, lda, b, bt, ldb, beta, c, ct, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT))
                : NativeLibrary.callInt(() -> (int) gemmStrided.invokeExact(handle, ta, tb, g.m(), g.n(), g.k(), alpha,
                        a, at, lda, g.strideA(), b, bt, ldb, g.strideB(), beta, c, ct, ldc, g.strideC(), g.batch(),
                        CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
        if (rc != 0) throw new GpuException("cublasGemmEx failed with cublasStatus " + rc + " (" + statusName(rc) + ") for " + g);
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        NativeLibrary.callInt(() -> (int) destroy.invokeExact(handle));
    }

    /** cublasStatus_t names (cublas_api.h). */
    static String statusName(int rc) {
        return switch (rc) {
            case 0 -> "CUBLAS_STATUS_SUCCESS";
            case 1 -> "CUBLAS_STATUS_NOT_INITIALIZED";
            case 3 -> "CUBLAS_STATUS_ALLOC_FAILED";
            case 7 -> "CUBLAS_STATUS_INVALID_VALUE";
            case 8 -> "CUBLAS_STATUS_ARCH_MISMATCH";
            case 11 -> "CUBLAS_STATUS_MAPPING_ERROR";
            case 13 -> "CUBLAS_STATUS_EXECUTION_FAILED";
            case 14 -> "CUBLAS_STATUS_INTERNAL_ERROR";
            case 15 -> "CUBLAS_STATUS_NOT_SUPPORTED";
            case 16 -> "CUBLAS_STATUS_LICENSE_ERROR";
            default -> "unknown status";
        };
    }

    private static MethodHandle bind(SymbolLookup lib, FunctionDescriptor fd, String... names) {
        for (String n : names) if (lib.find(n).isPresent()) return NativeLibrary.downcall(lib, "libcublas", n, fd);
        throw new GpuException("libcublas has none of " + String.join(", ", names));
    }
}
