package io.transfuse;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The bundled stories260K model and its reference outputs (produced by llama2.c, see models/stories260K/README.md). */
public final class TestModels {
    private TestModels() {}

    public static Path root() {
        return Path.of(System.getProperty("transfuse.root", "../..")).toAbsolutePath().normalize();
    }

    public static Path stories() {
        return root().resolve("models/stories260K");
    }

    public static Path storiesGguf() {
        return stories().resolve("stories260K-f32.gguf");
    }

    public static Path storiesHf() {
        return stories().resolve("hf");
    }

    public static JsonNode reference() {
        try {
            return new ObjectMapper().readTree(Files.readString(stories().resolve("reference_outputs.json")));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static int[] ints(JsonNode array) {
        int[] a = new int[array.size()];
        for (int i = 0; i < a.length; i++) a[i] = array.get(i).asInt();
        return a;
    }

    public static double[] doubles(JsonNode array) {
        double[] a = new double[array.size()];
        for (int i = 0; i < a.length; i++) a[i] = array.get(i).asDouble();
        return a;
    }
}
