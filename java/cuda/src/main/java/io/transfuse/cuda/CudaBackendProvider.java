package io.transfuse.cuda;

import io.transfuse.Device;
import io.transfuse.LoadOptions;
import io.transfuse.TransfuseException;
import io.transfuse.backend.Backend;
import io.transfuse.backend.BackendProvider;
import io.transfuse.backend.NativeLibrary;
import io.transfuse.cuda.jcuda.GpuProbe;
import io.transfuse.cuda.jcuda.JCudaRuntime;
import io.transfuse.cuda.runtime.EmulatedRuntime;
import io.transfuse.cuda.runtime.GpuRuntime;
import io.transfuse.tensor.DType;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Serves {@code cuda} (a GPU through JCuda) and {@code cuda-emu} (the host emulator) to core's
 * {@link io.transfuse.backend.Backends}; registered in META-INF/services. A GPU is detected through
 * Panama before any JCuda class is touched. Each backend gets a runtime of its own.
 */
public final class CudaBackendProvider implements BackendProvider {
    /** System property choosing the GPU's activation type: f16 (default) or bf16. */
    public static final String DTYPE_PROPERTY = "transfuse.cuda.dtype";

    @Override
    public boolean supports(Device device) {
        return device == Device.CUDA || device == Device.CUDA_EMU;
    }

    @Override
    public boolean available(Device device) {
        return device == Device.CUDA_EMU || (device == Device.CUDA && GpuProbe.present() && gpuKernelsPresent());
    }

    @Override
    public void requireAvailable(Device device) {
        if (device == Device.CUDA && !GpuProbe.present()) throw new TransfuseException(GpuProbe.absenceReason());
        if (device == Device.CUDA && !gpuKernelsPresent()) {
            throw new TransfuseException("this build of transfuse-cuda has no GPU kernels (libtransfuse_cuda, compiled by "
                    + "nvcc): rebuild with nvcc on PATH and TRANSFUSE_CUDA=1 (./transfuse) or -Dtransfuse.cuda=true (Maven)");
        }
        if (!supports(device)) throw new TransfuseException("the CUDA backend does not serve device " + device.cliName());
    }

    @Override
    public Backend open(Device device, LoadOptions options) {
        requireAvailable(device);
        DType half = halfType();
        GpuRuntime rt = device == Device.CUDA ? new JCudaRuntime(0) : new EmulatedRuntime();
        try {
            return new CudaBackend(device.cliName(), rt, half);
        } catch (RuntimeException e) {
            rt.close();
            throw e;
        }
    }

    /**
     * Whether libtransfuse_cuda is there to load: in the directory -Dtransfuse.native.path names, else in this jar
     * (a build without nvcc, such as the launcher's quick build, has none). So AUTO falls back to the CPU instead of
     * failing, and CUDA fails saying how to build it.
     */
    static boolean gpuKernelsPresent() {
        String file = "libtransfuse_cuda.so";
        String dir = System.getProperty(NativeLibrary.PATH_PROPERTY);
        if (dir != null && !dir.isBlank()) return Files.isRegularFile(Path.of(dir, file));
        try {
            return CudaBackendProvider.class.getResource("/native/" + NativeLibrary.platform() + "/" + file) != null;
        } catch (UnsupportedOperationException e) {
            return false;
        }
    }

    /** fp16, or the type named by -Dtransfuse.cuda.dtype (f16 or bf16). */
    static DType halfType() {
        DType t = DType.parseFloat(System.getProperty(DTYPE_PROPERTY, "f16"));
        if (t == DType.F32) throw new IllegalArgumentException("-D" + DTYPE_PROPERTY + " must be f16 or bf16, got f32");
        return t;
    }
}
