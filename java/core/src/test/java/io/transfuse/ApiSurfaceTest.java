package io.transfuse;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Executable;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The exported API (packages {@link #API}) mentions no internal type: every public or protected signature of
 * every public class there (supertypes, fields, constructors, methods, record components, type arguments
 * and bounds, exceptions) uses only JDK types and types of the API packages. Internals stay reachable to the
 * other modules through {@code io.transfuse.internal} and the internal packages, which are not API.
 */
class ApiSurfaceTest {
    /** The packages a user programs against (README, Javadoc). */
    static final Set<String> API = Set.of("io.transfuse", "io.transfuse.engine", "io.transfuse.chat");

    @Test
    void exportedSignaturesMentionOnlyApiAndJdkTypes() {
        List<Class<?>> classes = apiClasses();
        assertTrue(classes.size() > 20, "found only " + classes);
        assertEquals(Set.of(), leaks(classes), "internal types in the API's signatures");
    }

    /** A class with one internal type in each kind of place, to show that the check sees them all. */
    public static class Leaky extends java.util.ArrayList<io.transfuse.model.Decoder> {
        public io.transfuse.tensor.DType field;
        public Leaky(io.transfuse.memory.TrackedArena arena) {}
        public List<? extends io.transfuse.model.BlockPool> method(int x) { return null; }
        public <T extends io.transfuse.tokenizer.hf.HfTokenizer> void generic(T[] t) {}
        protected void throwing() throws io.transfuse.loader.ModelFormatException {}
        void packagePrivate(io.transfuse.backend.Backend b) {}
    }

    @Test
    void theCheckFindsInternalTypesEverywhere() {
        Set<String> found = leaks(List.of(Leaky.class));
        for (String type : List.of("model.Decoder", "tensor.DType", "memory.TrackedArena", "model.BlockPool", "hf.HfTokenizer",
                "loader.ModelFormatException")) {
            assertTrue(found.stream().anyMatch(l -> l.endsWith(type)), type + " not found in " + found);
        }
        assertTrue(found.stream().noneMatch(l -> l.contains("Backend")), "package-private members are not API: " + found);
    }

    static Set<String> leaks(List<Class<?>> classes) {
        Set<String> leaks = new TreeSet<>();
        for (Class<?> c : classes) {
            String where = c.getName();
            check(c.getGenericSuperclass(), where + " extends", leaks);
            for (Type t : c.getGenericInterfaces()) check(t, where + " implements", leaks);
            for (TypeVariable<?> v : c.getTypeParameters()) for (Type b : v.getBounds()) check(b, where + "<" + v + ">", leaks);
            for (Field f : c.getDeclaredFields()) {
                if (visible(f.getModifiers())) check(f.getGenericType(), where + "." + f.getName(), leaks);
            }
            for (Constructor<?> k : c.getDeclaredConstructors()) {
                if (visible(k.getModifiers())) checkExecutable(k, where + "(...)", leaks);
            }
            for (Method m : c.getDeclaredMethods()) {
                if (!visible(m.getModifiers()) || m.isSynthetic() || m.isBridge()) continue;
                check(m.getGenericReturnType(), where + "." + m.getName() + " returns", leaks);
                checkExecutable(m, where + "." + m.getName(), leaks);
            }
            if (c.isRecord()) for (RecordComponent r : c.getRecordComponents()) check(r.getGenericType(), where + "." + r.getName(), leaks);
        }
        return leaks;
    }

    @Test
    void theFormerLeaksAreGone() {
        // The examples of issue 19 (LanguageModel.decoder(), EmbeddingModel.tokenizer() returning HfTokenizer) and
        // sampling options outside the API package.
        assertTrue(Stream.of(LanguageModel.class.getMethods()).noneMatch(m -> m.getName().equals("decoder")));
        assertTrue(Stream.of(EmbeddingModel.class.getMethods()).noneMatch(m -> m.getName().equals("tokenizer")));
        assertTrue(Stream.of(EmbeddingModel.class.getConstructors()).findAny().isEmpty());
        assertEquals("io.transfuse", SamplingOptions.class.getPackageName());
    }

    private static void checkExecutable(Executable e, String where, Set<String> leaks) {
        for (Type p : e.getGenericParameterTypes()) check(p, where + " takes", leaks);
        for (Type x : e.getGenericExceptionTypes()) check(x, where + " throws", leaks);
        for (TypeVariable<?> v : e.getTypeParameters()) for (Type b : v.getBounds()) check(b, where + "<" + v + ">", leaks);
    }

    private static boolean visible(int modifiers) {
        return Modifier.isPublic(modifiers) || Modifier.isProtected(modifiers);
    }

    /** Adds "where: type" for each type in {@code t} that is neither the JDK's nor a public API type. */
    private static void check(Type t, String where, Set<String> leaks) {
        switch (t) {
            case null -> { }
            case Class<?> c when c.isArray() -> check(c.getComponentType(), where, leaks);
            case Class<?> c when c.isPrimitive() -> { }
            case Class<?> c -> {
                String pkg = c.getPackageName();
                boolean jdk = pkg.startsWith("java.") || pkg.startsWith("javax.");
                boolean api = API.contains(pkg) && Modifier.isPublic(c.getModifiers());
                if (!jdk && !api) leaks.add(where + ": " + c.getName());
            }
            case ParameterizedType p -> {
                check(p.getRawType(), where, leaks);
                for (Type a : p.getActualTypeArguments()) check(a, where, leaks);
            }
            case WildcardType w -> {
                for (Type b : w.getUpperBounds()) check(b, where, leaks);
                for (Type b : w.getLowerBounds()) check(b, where, leaks);
            }
            case GenericArrayType g -> check(g.getGenericComponentType(), where, leaks);
            case TypeVariable<?> v -> { } // its bounds are checked where it is declared
            default -> leaks.add(where + ": unexpected " + t);
        }
    }

    /** The public classes (nested ones too) of the API packages, read from the compiled classes' folders. */
    static List<Class<?>> apiClasses() {
        List<Class<?>> out = new ArrayList<>();
        // One class of each package shows where its compiled classes are (target/classes).
        for (Class<?> anchor : List.of(Transfuse.class, io.transfuse.engine.Engine.class, io.transfuse.chat.ChatTemplate.class)) {
            String pkg = anchor.getPackageName();
            assertTrue(API.contains(pkg), pkg);
            Path dir;
            try {
                dir = Path.of(anchor.getResource(anchor.getSimpleName() + ".class").toURI()).getParent();
            } catch (URISyntaxException e) {
                throw new IllegalStateException(e);
            }
            try (Stream<Path> files = Files.list(dir)) {
                for (Path f : files.filter(f -> f.toString().endsWith(".class")).toList()) {
                    String name = pkg + "." + f.getFileName().toString().replaceAll("\\.class$", "");
                    Class<?> c = Class.forName(name, false, anchor.getClassLoader());
                    boolean outerPublic = c.getEnclosingClass() == null || Modifier.isPublic(c.getEnclosingClass().getModifiers());
                    if (Modifier.isPublic(c.getModifiers()) && outerPublic && !c.isAnonymousClass()) out.add(c);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (ClassNotFoundException e) {
                throw new IllegalStateException(e);
            }
        }
        return out;
    }
}
