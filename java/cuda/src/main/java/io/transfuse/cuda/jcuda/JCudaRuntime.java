package io.transfuse.cuda.jcuda;

import io.transfuse.backend.NativeLibrary;
import io.transfuse.cuda.cublas.CublasLocator;
import io.transfuse.cuda.cublas.PanamaCublas;
import io.transfuse.cuda.kernels.KernelLibrary;
import io.transfuse.cuda.runtime.DeviceProperties;
import io.transfuse.cuda.runtime.Gemm;
import io.transfuse.cuda.runtime.GpuEvent;
import io.transfuse.cuda.runtime.GpuException;
import io.transfuse.cuda.runtime.GpuGraph;
import io.transfuse.cuda.runtime.GpuOutOfMemoryException;
import io.transfuse.cuda.runtime.GpuRuntime;
import io.transfuse.cuda.runtime.GpuStream;
import jcuda.Pointer;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;
import jcuda.runtime.JCuda;
import jcuda.runtime.cudaDeviceProp;
import jcuda.runtime.cudaEvent_t;
import jcuda.runtime.cudaStream_t;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.nio.charset.StandardCharsets;

/**
 * The cuda runtime: a real GPU through JCuda (runtime API; its static CUDA 12 runtime runs on any
 * driver of CUDA 12 or later, R580 / CUDA 13 included), cuBLAS through Panama ({@link PanamaCublas}:
 * cublasGemmEx and cublasGemmStridedBatchedEx, fp32 compute so fp16/bf16 inputs use tensor cores with
 * fp32 accumulation; libcublas.so.13 or .so.12, wherever {@link CublasLocator} finds it) and
 * JCudaDriver (stream capture into CUDA graphs); kernels from libtransfuse_cuda through Panama on the
 * same streams. Construct only after {@link GpuProbe#present()}: JCuda's
 * classes cannot initialise without a driver. GPU-only: tested by ci/gpu-test.sh.
 */
public final class JCudaRuntime implements GpuRuntime {
    private static final int CUDA_MEMCPY_H2D = 1, CUDA_MEMCPY_D2H = 2, CUDA_MEMCPY_D2D = 3;
    private static final int CUBLAS_COMPUTE_32F = 68, CUBLAS_GEMM_DEFAULT = -1;
    private static final int CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1;

    private final DeviceProperties props;
    private static final long CUBLAS_WORKSPACE_BYTES = 32L << 20;

    private final PanamaCublas cublas;
    private final long cublasWorkspace; // cuBLAS's own, so it allocates nothing during graph capture
    private final KernelLibrary kernels;
    private final Stream defaultStream;

    public JCudaRuntime(int device) {
        String absent = GpuProbe.absenceReason();
        if (absent != null) throw new GpuException(absent);
        // The GPU library first: a build without it (the launcher's quick build) fails before anything is allocated.
        SymbolLookup kernelSymbols = kernelLibrary();
        // No JCuda class is touched above this line (they cannot initialise without a driver).
        JCuda.setExceptionsEnabled(false);
        check(JCuda.cudaSetDevice(device), "cudaSetDevice(" + device + ")");
        cudaDeviceProp p = new cudaDeviceProp();
        check(JCuda.cudaGetDeviceProperties(p, device), "cudaGetDeviceProperties");
        String name = new String(p.name, StandardCharsets.UTF_8).replace("\0", "").strip();
        props = new DeviceProperties(name, p.totalGlobalMem, p.multiProcessorCount, p.major * 10 + p.minor);
        cublas = PanamaCublas.open(CublasLocator.system());
        cublasWorkspace = malloc(CUBLAS_WORKSPACE_BYTES);
        cublas.setWorkspace(cublasWorkspace, CUBLAS_WORKSPACE_BYTES);
        cudaStream_t s = new cudaStream_t();
        check(JCuda.cudaStreamCreate(s), "cudaStreamCreate");
        defaultStream = new Stream(s, true);
        kernels = new KernelLibrary(kernelSymbols, "libtransfuse_cuda", this);
    }

    /** libtransfuse_cuda, or an error that says how to build it when this transfuse-cuda jar was built without nvcc. */
    private static SymbolLookup kernelLibrary() {
        try {
            return NativeLibrary.load("transfuse_cuda");
        } catch (IllegalStateException e) {
            if (e.getMessage() == null || !e.getMessage().contains("not found")) throw e;
            throw new GpuException(e.getMessage() + "; this build has no CUDA kernels: rebuild with nvcc on PATH and "
                    + "TRANSFUSE_CUDA=1 (./transfuse) or -Dtransfuse.cuda=true (Maven)");
        }
    }

    @Override public DeviceProperties properties() { return props; }

    /** Which cuBLAS runs the GEMMs (library file and version), for reports. */
    public String blasDescription() { return cublas.describe(); }

    @Override
    public long freeBytes() {
        long[] free = {0}, total = {0};
        check(JCuda.cudaMemGetInfo(free, total), "cudaMemGetInfo");
        return free[0];
    }

    @Override
    public long malloc(long bytes) {
        if (bytes <= 0) throw new IllegalArgumentException("device allocation size must be positive, got " + bytes);
        Pointer p = new Pointer();
        int rc = JCuda.cudaMalloc(p, bytes);
        if (rc == 2) throw new GpuOutOfMemoryException("cudaMalloc", bytes, freeBytes()); // cudaErrorMemoryAllocation
        check(rc, "cudaMalloc(" + bytes + ")");
        return RawPointer.address(p);
    }

    @Override
    public void free(long address) {
        check(JCuda.cudaFree(RawPointer.of(address)), "cudaFree");
    }

    @Override
    public MemorySegment allocatePinned(long bytes) {
        Pointer p = new Pointer();
        check(JCuda.cudaMallocHost(p, bytes), "cudaMallocHost(" + bytes + ")");
        return MemorySegment.ofAddress(RawPointer.address(p)).reinterpret(bytes);
    }

    @Override
    public void freePinned(MemorySegment pinned) {
        check(JCuda.cudaFreeHost(RawPointer.of(pinned.address())), "cudaFreeHost");
    }

    @Override
    public void memset(GpuStream stream, long dst, int value, long bytes) {
        check(JCuda.cudaMemsetAsync(RawPointer.of(dst), value, bytes, cuda(stream)), "cudaMemsetAsync");
    }

    @Override
    public void copyHostToDevice(GpuStream stream, MemorySegment src, long dst, long bytes) {
        check(JCuda.cudaMemcpyAsync(RawPointer.of(dst), RawPointer.of(src.address()), bytes, CUDA_MEMCPY_H2D, cuda(stream)), "cudaMemcpyAsync H2D");
        synchronize(stream); // src may be ordinary (pageable, short-lived) host memory
    }

    @Override
    public void copyDeviceToHost(GpuStream stream, long src, MemorySegment dst, long bytes) {
        check(JCuda.cudaMemcpyAsync(RawPointer.of(dst.address()), RawPointer.of(src), bytes, CUDA_MEMCPY_D2H, cuda(stream)), "cudaMemcpyAsync D2H");
        synchronize(stream);
    }

    @Override
    public void copyDeviceToDevice(GpuStream stream, long src, long dst, long bytes) {
        check(JCuda.cudaMemcpyAsync(RawPointer.of(dst), RawPointer.of(src), bytes, CUDA_MEMCPY_D2D, cuda(stream)), "cudaMemcpyAsync D2D");
    }

    @Override public GpuStream defaultStream() { return defaultStream; }

    @Override
    public GpuStream createStream() {
        cudaStream_t s = new cudaStream_t();
        check(JCuda.cudaStreamCreate(s), "cudaStreamCreate");
        return new Stream(s, false);
    }

    @Override
    public GpuEvent recordEvent(GpuStream stream) {
        cudaEvent_t e = new cudaEvent_t();
        check(JCuda.cudaEventCreate(e), "cudaEventCreate");
        check(JCuda.cudaEventRecord(e, cuda(stream)), "cudaEventRecord");
        return new Event(e);
    }

    private record Event(cudaEvent_t e) implements GpuEvent {
        @Override public void synchronize() { check(JCuda.cudaEventSynchronize(e), "cudaEventSynchronize"); }

        @Override public float millisSince(GpuEvent earlier) {
            float[] ms = {0};
            check(JCuda.cudaEventElapsedTime(ms, ((Event) earlier).e, e), "cudaEventElapsedTime");
            return ms[0];
        }

        @Override public void close() { JCuda.cudaEventDestroy(e); }
    }

    @Override
    public void beginCapture(GpuStream stream) {
        checkDriver(JCudaDriver.cuStreamBeginCapture(new CUstream(cuda(stream)), CU_STREAM_CAPTURE_MODE_THREAD_LOCAL), "cuStreamBeginCapture");
    }

    @Override
    public GpuGraph endCapture(GpuStream stream) {
        CUgraph graph = new CUgraph();
        checkDriver(JCudaDriver.cuStreamEndCapture(new CUstream(cuda(stream)), graph), "cuStreamEndCapture");
        CUgraphExec exec = new CUgraphExec();
        checkDriver(JCudaDriver.cuGraphInstantiate(exec, graph, 0), "cuGraphInstantiate");
        return new GpuGraph() {
            @Override public void launch(GpuStream on) {
                checkDriver(JCudaDriver.cuGraphLaunch(exec, new CUstream(cuda(on))), "cuGraphLaunch");
            }

            @Override public int nodeCount() { return -1; } // not queried on the device

            @Override public void close() {
                JCudaDriver.cuGraphExecDestroy(exec);
                JCudaDriver.cuGraphDestroy(graph);
            }
        };
    }

    @Override
    public void gemm(GpuStream stream, Gemm g) {
        cuda(stream); // belongs to this runtime
        cublas.gemm(((Stream) stream).handle(), g);
    }

    @Override public KernelLibrary kernels() { return kernels; }

    @Override
    public void launch(GpuStream stream, String name, NativeLaunch launch) {
        int rc = NativeLibrary.callInt(() -> launch.run(((Stream) stream).handle()));
        if (rc != 0) throw new GpuException(name + " failed: " + JCuda.cudaGetErrorString(rc) + " (" + rc + ")");
    }

    @Override
    public void synchronize(GpuStream stream) {
        check(JCuda.cudaStreamSynchronize(cuda(stream)), "cudaStreamSynchronize");
    }

    @Override
    public void close() {
        JCuda.cudaDeviceSynchronize();
        cublas.close();
        JCuda.cudaFree(RawPointer.of(cublasWorkspace));
        JCuda.cudaStreamDestroy(defaultStream.stream);
    }

    private static cudaStream_t cuda(GpuStream s) {
        if (!(s instanceof Stream st)) throw new IllegalArgumentException("stream does not belong to the JCuda runtime");
        return st.stream;
    }

    static void check(int rc, String what) {
        if (rc != 0) throw new GpuException(what + " failed: " + JCuda.cudaGetErrorString(rc) + " (" + rc + ")");
    }

    static void checkDriver(int rc, String what) {
        if (rc != 0) throw new GpuException(what + " failed with CUresult " + rc);
    }

    private record Stream(cudaStream_t stream, boolean isDefault) implements GpuStream {
        @Override public MemorySegment handle() { return MemorySegment.ofAddress(RawPointer.address(stream)); }

        @Override public void close() {
            if (!isDefault) JCuda.cudaStreamDestroy(stream);
        }
    }
}
