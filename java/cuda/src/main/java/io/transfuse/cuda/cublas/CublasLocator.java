package io.transfuse.cuda.cublas;

import io.transfuse.cuda.LibraryCandidates;
import io.transfuse.cuda.LibraryFolders;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Where libcublas may be, in the order it is tried. A GPU machine may have cuBLAS from the CUDA
 * toolkit, from the system's library path, or only inside NVIDIA's Python wheels (a PyTorch install:
 * {@code site-packages/nvidia/cublas/lib} for CUDA 12 wheels, {@code site-packages/nvidia/cu13/lib}
 * for CUDA 13 ones). Each folder is asked for {@code libcublas.so.13} before {@code .so.12} (the
 * GemmEx API Transfuse uses is the same in both).
 *
 * <p>Order: the file or folder named by {@code -Dtransfuse.cublas.path} or {@code $TRANSFUSE_CUBLAS}
 * (nothing else then), the bare sonames for the dynamic loader's own search ({@code LD_LIBRARY_PATH},
 * ldconfig), {@code $CUDA_HOME}, {@code $CUDA_PATH}, /usr/local/cuda, then the wheels' folders under
 * every Python site-packages found ({@code $PYTHONPATH}, {@code $VIRTUAL_ENV}, the system's and
 * /opt/&#42;/.venv ones). Pure file-system logic over a given environment and root, so tests run it on fake folders.
 */
public final class CublasLocator {
    /** System property naming libcublas (a file, or a folder holding it). */
    public static final String PATH_PROPERTY = "transfuse.cublas.path";
    /** Environment variable naming libcublas (a file, or a folder holding it). */
    public static final String PATH_ENV = "TRANSFUSE_CUBLAS";

    static final List<String> SONAMES = List.of("libcublas.so.13", "libcublas.so.12");
    private static final List<String> WHEEL_FOLDERS = List.of("nvidia/cu13/lib", "nvidia/cublas/lib", "nvidia/cu12/lib");

    /** One place to try: a file path to load, or a bare soname for the dynamic loader's search. */
    public record Candidate(String library, boolean searchPath) {
        /** The libcublasLt beside this file (cuBLAS loads it; preloading it makes folders off the loader's path work). */
        public Path companionLt() {
            if (searchPath) return null;
            Path p = Path.of(library);
            Path lt = p.resolveSibling(p.getFileName().toString().replace("libcublas.", "libcublasLt."));
            return Files.isRegularFile(lt) ? lt : null;
        }
    }

    private final Map<String, String> env;
    private final String property;
    private final Path root;

    /**
     * @param env      environment variables (System.getenv() in production)
     * @param property the value of {@link #PATH_PROPERTY}, or null
     * @param root     the file-system root the fixed locations are taken under ("/" in production)
     */
    public CublasLocator(Map<String, String> env, String property, Path root) {
        this.env = env;
        this.property = property;
        this.root = root;
    }

    /** The locator for this process. */
    public static CublasLocator system() {
        return new CublasLocator(System.getenv(), System.getProperty(PATH_PROPERTY), Path.of("/"));
    }

    /** Candidates in the order to try them ({@link LibraryCandidates}). An explicit path yields itself alone (or nothing when absent). */
    public List<Candidate> candidates() {
        return LibraryCandidates.of(LibraryCandidates.explicit(property, env, PATH_ENV), SONAMES, folders(), Candidate::new);
    }

    /** The folders searched after the loader's own path, in order, without duplicates. */
    List<Path> folders() {
        Set<Path> dirs = new LinkedHashSet<>();
        dirs.addAll(LibraryFolders.cudaHomes(env));
        dirs.add(root.resolve("usr/local/cuda/lib64"));
        dirs.add(root.resolve("usr/local/cuda/targets/x86_64-linux/lib"));
        for (Path site : LibraryFolders.pythonSites(env, root)) for (String w : WHEEL_FOLDERS) dirs.add(site.resolve(w));
        return new ArrayList<>(dirs);
    }

}
