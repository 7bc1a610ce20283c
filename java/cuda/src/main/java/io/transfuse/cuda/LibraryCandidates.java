package io.transfuse.cuda;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * The order in which the NVIDIA library locators (cuBLAS, cuDNN) try a library, whatever its sonames and folders:
 * an explicit setting (a system property, else an environment variable) is the only place tried; otherwise the bare
 * sonames for the dynamic loader's own search ({@code LD_LIBRARY_PATH}, ldconfig), then each soname in each folder
 * ({@link LibraryFolders}) where the file exists.
 */
public final class LibraryCandidates {
    private LibraryCandidates() {}

    /** The explicit setting: the property's value, else the environment variable's, else null (blank counts as unset). */
    public static String explicit(String property, Map<String, String> env, String envName) {
        if (property != null && !property.isBlank()) return property;
        String e = env.get(envName);
        return e != null && !e.isBlank() ? e : null;
    }

    /**
     * The places to try, in order, each made by {@code candidate} from a file path or bare soname and whether it is a
     * bare soname (left to the loader's search). An explicit file yields itself alone; an explicit folder the sonames
     * it holds (nothing when it holds none).
     *
     * @param explicit  the explicit setting ({@link #explicit}), or null
     * @param sonames   the library's sonames, preferred first
     * @param folders   where to look after the loader's search, in order
     */
    public static <C> List<C> of(String explicit, List<String> sonames, List<Path> folders, BiFunction<String, Boolean, C> candidate) {
        List<C> out = new ArrayList<>();
        if (explicit != null) {
            Path p = Path.of(explicit);
            if (Files.isRegularFile(p)) return List.of(candidate.apply(p.toString(), false));
            for (Path f : filesIn(List.of(p), sonames)) out.add(candidate.apply(f.toString(), false));
            return out;
        }
        for (String soname : sonames) out.add(candidate.apply(soname, true));
        for (Path f : filesIn(folders, sonames)) out.add(candidate.apply(f.toString(), false));
        return out;
    }

    private static List<Path> filesIn(List<Path> dirs, List<String> sonames) {
        List<Path> out = new ArrayList<>();
        for (Path d : dirs) {
            for (String soname : sonames) {
                Path f = d.resolve(soname);
                if (Files.isRegularFile(f)) out.add(f);
            }
        }
        return out;
    }
}
