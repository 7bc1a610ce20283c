package io.transfuse.backend;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.AddressLayout;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.ValueLayout;
import java.util.HashSet;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * GraalVM native-image registers every FFM downcall signature ahead of time from the "foreign"
 * section of {@code META-INF/native-image/<group>/<artifact>/reachability-metadata.json}
 * (GraalVM reachability-metadata schema 1.2: returnType/parameterTypes as canonical layout names,
 * {@code void}, {@code jint}, {@code jlong}, {@code jfloat}, {@code jdouble}, {@code void*}).
 * This class reads such a file and names the bound descriptors it lacks, so a test keeps the file
 * in step with the code ({@link NativeLibrary#boundDescriptors()}).
 */
public final class NativeImageMetadata {
    private NativeImageMetadata() {}

    /** The JSON entry native-image expects for {@code fd}. */
    public static String entry(FunctionDescriptor fd) {
        String ret = fd.returnLayout().map(NativeImageMetadata::name).orElse("void");
        String params = fd.argumentLayouts().stream().map(l -> "\"" + name(l) + "\"").collect(Collectors.joining(", "));
        return "{\"returnType\": \"" + ret + "\", \"parameterTypes\": [" + params + "]}";
    }

    /** Entries of {@code bound} that the metadata file does not list, sorted; empty when all are there. */
    public static Set<String> missing(Set<FunctionDescriptor> bound, InputStream metadata) {
        Set<String> listed = listed(metadata);
        Set<String> missing = new TreeSet<>();
        for (FunctionDescriptor fd : bound) if (!listed.contains(entry(fd))) missing.add(entry(fd));
        return missing;
    }

    /** Entries the metadata file lists that are not in {@code bound}, sorted: stale, when bound is everything a module binds. */
    public static Set<String> unused(Set<FunctionDescriptor> bound, InputStream metadata) {
        Set<String> stale = new TreeSet<>(listed(metadata));
        for (FunctionDescriptor fd : bound) stale.remove(entry(fd));
        return stale;
    }

    /** The downcall entries of a metadata file, in the form {@link #entry} gives. */
    private static Set<String> listed(InputStream metadata) {
        Set<String> listed = new HashSet<>();
        try {
            JsonNode root = new ObjectMapper().readTree(metadata);
            for (JsonNode d : root.path("foreign").path("downcalls")) {
                StringBuilder params = new StringBuilder();
                for (JsonNode p : d.path("parameterTypes")) params.append(params.isEmpty() ? "" : ", ").append('"').append(p.asText()).append('"');
                listed.add("{\"returnType\": \"" + d.path("returnType").asText() + "\", \"parameterTypes\": [" + params + "]}");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read native-image metadata: " + e.getMessage(), e);
        }
        return listed;
    }

    private static String name(MemoryLayout l) {
        if (l instanceof AddressLayout) return "void*";
        if (l instanceof ValueLayout.OfInt) return "jint";
        if (l instanceof ValueLayout.OfLong) return "jlong";
        if (l instanceof ValueLayout.OfFloat) return "jfloat";
        if (l instanceof ValueLayout.OfDouble) return "jdouble";
        throw new IllegalArgumentException("no native-image name for layout " + l);
    }
}
