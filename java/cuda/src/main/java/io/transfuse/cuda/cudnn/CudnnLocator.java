package io.transfuse.cuda.cudnn;

import io.transfuse.cuda.LibraryCandidates;
import io.transfuse.cuda.LibraryFolders;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Where {@code libcudnn.so.9} may be, in the order it is tried: the file or folder named by
 * {@code -Dtransfuse.cudnn.path} or {@code $TRANSFUSE_CUDNN} (nothing else then); the bare soname for the dynamic
 * loader's own search ({@code LD_LIBRARY_PATH}, ldconfig); {@code $CUDA_HOME}/{@code $CUDA_PATH} lib64 and lib,
 * /usr/local/cuda/lib64, /usr/lib/x86_64-linux-gnu (Debian/Ubuntu's libcudnn9 packages); then NVIDIA's pip wheel
 * folder {@code nvidia/cudnn/lib} under each Python site-packages ({@code $PYTHONPATH}, {@code $VIRTUAL_ENV}, the
 * system's, /opt/&#42;/.venv, ~/.local): a PyTorch install carries cuDNN 9 there. Pure file-system logic over a given
 * environment and root, so tests run it on fake folders.
 */
public final class CudnnLocator {
    /** System property naming libcudnn (a file, or a folder holding libcudnn.so.9). */
    public static final String PATH_PROPERTY = "transfuse.cudnn.path";
    /** Environment variable naming libcudnn (a file, or a folder holding libcudnn.so.9). */
    public static final String PATH_ENV = "TRANSFUSE_CUDNN";
    /** The one soname bound: the graph API used here is cuDNN 9's. */
    public static final String SONAME = "libcudnn.so.9";

    /** One place to try: a file to load, or the bare soname for the dynamic loader's search. */
    public record Candidate(String library, boolean searchPath) {}

    private final Map<String, String> env;
    private final String property;
    private final Path root;

    /**
     * @param env      environment variables (System.getenv() in production)
     * @param property the value of {@link #PATH_PROPERTY}, or null
     * @param root     the file-system root the fixed locations are taken under ("/" in production)
     */
    public CudnnLocator(Map<String, String> env, String property, Path root) {
        this.env = env;
        this.property = property;
        this.root = root;
    }

    /** The locator for this process. */
    public static CudnnLocator system() {
        return new CudnnLocator(System.getenv(), System.getProperty(PATH_PROPERTY), Path.of("/"));
    }

    /** The explicit setting (property first, then environment), or null. */
    public String explicit() {
        return LibraryCandidates.explicit(property, env, PATH_ENV);
    }

    /** Candidates in the order to try them ({@link LibraryCandidates}). An explicit path yields itself alone (or nothing when it holds no library). */
    public List<Candidate> candidates() {
        return LibraryCandidates.of(explicit(), List.of(SONAME), folders(), Candidate::new);
    }

    /** Where this locator looks, in words, for the one-line "not found" message. */
    public String searched() {
        String explicit = explicit();
        if (explicit != null) return explicit + " (set by -D" + PATH_PROPERTY + " or $" + PATH_ENV + ")";
        List<String> places = new ArrayList<>();
        places.add("the loader path");
        for (Path d : folders()) places.add(d.toString());
        return String.join(", ", places);
    }

    /** The folders searched after the loader's own path, in order, without duplicates. */
    List<Path> folders() {
        Set<Path> dirs = new LinkedHashSet<>();
        dirs.addAll(LibraryFolders.cudaHomes(env));
        dirs.add(root.resolve("usr/local/cuda/lib64"));
        dirs.add(root.resolve("usr/lib/x86_64-linux-gnu"));
        for (Path site : LibraryFolders.pythonSites(env, root)) dirs.add(site.resolve("nvidia/cudnn/lib"));
        return new ArrayList<>(dirs);
    }

}
