package io.transfuse.cuda;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Folders the NVIDIA library locators (cuBLAS, cuDNN) search after the loader's own path: a CUDA toolkit named by
 * CUDA_HOME / CUDA_PATH, and the Python site-packages folders where pip puts NVIDIA's library wheels
 * (nvidia/cublas/lib, nvidia/cudnn/lib, ...), so a machine that has PyTorch installed with pip needs no toolkit.
 */
public final class LibraryFolders {
    private LibraryFolders() {}

    /** lib64 and lib of the toolkits CUDA_HOME and CUDA_PATH name, in that order. */
    public static List<Path> cudaHomes(Map<String, String> env) {
        List<Path> out = new ArrayList<>();
        for (String var : List.of("CUDA_HOME", "CUDA_PATH")) {
            String home = env.get(var);
            if (home != null && !home.isBlank()) {
                out.add(Path.of(home, "lib64"));
                out.add(Path.of(home, "lib"));
            }
        }
        return out;
    }

    /**
     * Existing site-packages and dist-packages folders: PYTHONPATH, the active virtualenv, the system's
     * /usr/local/lib and /usr/lib pythons, virtualenvs under /opt and the user's ~/.local, in that order;
     * {@code root} is "/" (tests pass a fake root).
     */
    public static List<Path> pythonSites(Map<String, String> env, Path root) {
        Set<Path> sites = new LinkedHashSet<>();
        String pythonPath = env.get("PYTHONPATH");
        if (pythonPath != null) for (String p : pythonPath.split(":")) if (!p.isBlank()) sites.add(Path.of(p));
        String venv = env.get("VIRTUAL_ENV");
        if (venv != null && !venv.isBlank()) sites.addAll(under(Path.of(venv, "lib")));
        sites.addAll(under(root.resolve("usr/local/lib")));
        sites.addAll(under(root.resolve("usr/lib")));
        for (Path opt : subfolders(root.resolve("opt"))) {
            sites.addAll(under(opt.resolve(".venv/lib")));
            sites.addAll(under(opt.resolve("venv/lib")));
            sites.addAll(under(opt.resolve("lib")));
        }
        String home = env.get("HOME");
        if (home != null && !home.isBlank()) sites.addAll(under(Path.of(home, ".local/lib")));
        return new ArrayList<>(sites);
    }

    /** {@code python3.X/site-packages} and {@code dist-packages} under {@code lib}. */
    private static List<Path> under(Path lib) {
        List<Path> out = new ArrayList<>();
        for (Path py : subfolders(lib)) {
            if (!py.getFileName().toString().startsWith("python3")) continue;
            for (String kind : List.of("site-packages", "dist-packages")) {
                Path site = py.resolve(kind);
                if (Files.isDirectory(site)) out.add(site);
            }
        }
        return out;
    }

    /** The folders in {@code dir}, sorted (a deterministic search order); none when it cannot be read. */
    public static List<Path> subfolders(Path dir) {
        if (!Files.isDirectory(dir)) return List.of();
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            for (Path p : s) if (Files.isDirectory(p)) out.add(p);
        } catch (IOException e) {
            return List.of();
        }
        out.sort(null);
        return out;
    }
}
