package io.transfuse.backend;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Finds and loads Transfuse's native libraries ({@code lib<name>.so}).
 *
 * <p>By default the library is the resource {@code /native/<platform>/lib<name>.so} of the
 * classpath (inside the transfuse-core jar, or target/classes in a build); it is copied to a
 * private temporary file (owner-only permissions, deleted on exit) and loaded from there. The
 * system property {@code transfuse.native.path} names a directory to load it from instead (a
 * CMake build output, for example).
 *
 * <p>Libraries are loaded into {@link Arena#global()} and never unloaded: closing an arena that
 * loaded a library with worker threads (libtransfuse_cpu's pool) unloads their code under them and kills the JVM.
 * Each library is loaded once per JVM; later calls return the same lookup.
 *
 * <p>Every downcall handle is made by {@link #downcall}, which remembers its descriptor: GraalVM
 * native-image needs each one registered ahead of time (META-INF/native-image/.../
 * reachability-metadata.json), and tests check the bound set against those files.
 */
public final class NativeLibrary {
    /** System property: a directory holding {@code lib<name>.so}, used instead of the classpath. */
    public static final String PATH_PROPERTY = "transfuse.native.path";

    /** The platforms Transfuse ships natives for. */
    public static final String SUPPORTED_PLATFORMS = "linux-x86_64";

    private static final Map<String, SymbolLookup> LOADED = new ConcurrentHashMap<>();
    private static final Set<FunctionDescriptor> BOUND = ConcurrentHashMap.newKeySet();

    private NativeLibrary() {}

    /**
     * The symbols of {@code lib<name>.so}, loading it on first use.
     *
     * @throws UnsupportedOperationException on an operating system or architecture without natives
     * @throws IllegalStateException when the library cannot be found or loaded
     */
    public static SymbolLookup load(String name) {
        SymbolLookup lookup = LOADED.get(name);
        if (lookup != null) return lookup;
        synchronized (NativeLibrary.class) {
            return LOADED.computeIfAbsent(name, NativeLibrary::doLoad);
        }
    }

    /**
     * A downcall handle for {@code symbol} of {@code lib} ({@code library} names it in errors).
     *
     * @throws IllegalStateException when the library lacks the symbol (a stale native build)
     */
    public static MethodHandle downcall(SymbolLookup lib, String library, String symbol, FunctionDescriptor fd) {
        MemorySegment address = lib.find(symbol).orElseThrow(() -> new IllegalStateException(
                library + " has no symbol " + symbol + " (stale native build?)"));
        BOUND.add(fd);
        return Linker.nativeLinker().downcallHandle(address, fd);
    }

    /** A downcall (usually {@code () -> HANDLE.invokeExact(...)}), for {@link #call}. */
    @FunctionalInterface
    public interface Call {
        void run() throws Throwable;
    }

    /** A downcall returning an int, for {@link #callInt}. */
    @FunctionalInterface
    public interface IntCall {
        int run() throws Throwable;
    }

    /** A downcall returning a long, for {@link #callLong}. */
    @FunctionalInterface
    public interface LongCall {
        long run() throws Throwable;
    }

    /**
     * Runs a downcall, the one place a binding turns {@code invokeExact}'s checked Throwable into an
     * unchecked exception: {@code NativeLibrary.call(() -> { MATMUL.invokeExact(out, x, ...); })}. The body must
     * be a block: there the call is a statement and javac types it void, as the handle is; as an expression
     * lambda javac types it Object and invokeExact throws WrongMethodTypeException. (The lambda keeps
     * {@code invokeExact}'s exact static types otherwise; the JIT inlines it.)
     */
    public static void call(Call c) {
        try {
            c.run();
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    /** {@link #call} for a downcall that returns an int. */
    public static int callInt(IntCall c) {
        try {
            return c.run();
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    /** {@link #call} for a downcall that returns a long. */
    public static long callLong(LongCall c) {
        try {
            return c.run();
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    /** Errors and runtime exceptions pass through; anything else (checked) is wrapped. */
    public static RuntimeException unchecked(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }

    /** The descriptors of every downcall bound so far in this JVM. */
    public static Set<FunctionDescriptor> boundDescriptors() {
        return Set.copyOf(BOUND);
    }

    /** This JVM's platform as Transfuse names it ({@code linux-x86_64}), or throws if unsupported. */
    public static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String o = os.startsWith("linux") ? "linux" : null;
        String a = arch.equals("amd64") || arch.equals("x86_64") ? "x86_64" : null;
        if (o == null || a == null) {
            throw new UnsupportedOperationException("Transfuse has no native libraries for " + os + "/" + arch
                    + "; supported platforms: " + SUPPORTED_PLATFORMS);
        }
        return o + "-" + a;
    }

    private static SymbolLookup doLoad(String name) {
        String platform = platform();
        String file = "lib" + name + ".so";
        String dir = System.getProperty(PATH_PROPERTY);
        Path path;
        if (dir != null && !dir.isBlank()) {
            path = Path.of(dir).resolve(file).toAbsolutePath();
            if (!Files.isRegularFile(path)) {
                throw new IllegalStateException(file + " for " + platform + " not found in " + path.getParent()
                        + " (set by -D" + PATH_PROPERTY + ")");
            }
        } else {
            path = extract(file, platform);
        }
        try {
            return SymbolLookup.libraryLookup(path, Arena.global());
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("cannot load " + file + " for " + platform + " from " + path + ": "
                    + e.getMessage(), e);
        }
    }

    private static Path extract(String file, String platform) {
        String resource = "/native/" + platform + "/" + file;
        try (InputStream in = NativeLibrary.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException(file + " for " + platform
                        + " not found in the classpath at " + resource + " (is transfuse-core built?)");
            }
            Path tmp = Files.createTempFile("transfuse-", "-" + file,
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            tmp.toFile().deleteOnExit();
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            return tmp;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract " + file + " for " + platform + ": " + e.getMessage(), e);
        }
    }
}
