package io.transfuse.quantize;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.transfuse.loader.RandomVariantModel;
import io.transfuse.tensor.DType;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPInputStream;

/**
 * The files llama.cpp quantised itself (resources/llamacpp/quantized, made by {@code ci/llama-fixtures.sh
 * --llama-quantized}: make-model's F32 file of a micro preset, seed 1, through llama.cpp's llama_model_quantize),
 * llama.cpp's logits on them, and its per-tensor type choices for larger models. See the README there.
 */
public final class LlamaCppQuantizedFixtures {
    private LlamaCppQuantizedFixtures() {}

    /** The committed llama.cpp-written GGUF files, as PRESET-TYPE. */
    public static final List<String> FILES = List.of("llama3-micro-q4_k_m", "llama3-micro-q6_k", "gemma2-micro-q5_k_m");

    /** The seed make-model was given for every F32 source. */
    public static final long SEED = 1;

    /** "llama3-micro" of "llama3-micro-q4_k_m". */
    public static String preset(String file) { return file.substring(0, presetEnd(file)); }

    /** "q4_k_m" of "llama3-micro-q4_k_m". */
    public static String type(String file) { return file.substring(presetEnd(file) + 1); }

    private static int presetEnd(String file) {
        // the preset name has one dash (family-size); the type follows the second
        return file.indexOf('-', file.indexOf('-') + 1);
    }

    /** The llama.cpp-written file {@code name} ungzipped into {@code dir} (once). */
    public static Path gguf(String name, Path dir) {
        Path out = dir.resolve(name + ".gguf");
        if (Files.exists(out)) return out;
        try (InputStream in = new GZIPInputStream(open(name + ".gguf.gz"))) {
            Files.copy(in, out);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot unpack llamacpp/quantized/" + name + ".gguf.gz: " + e, e);
        }
    }

    /** The F32 file llama.cpp quantised {@code name} from, written again into {@code dir} (once; deterministic). */
    public static Path f32Source(String name, Path dir) {
        Path out = dir.resolve(preset(name) + "-f32.gguf");
        if (!Files.exists(out)) RandomVariantModel.writeGguf(out, RandomVariantModel.preset(preset(name)), DType.F32, SEED, m -> { });
        return out;
    }

    /** A gzipped JSON fixture of resources/llamacpp/quantized. */
    public static JsonNode json(String resource) {
        try (InputStream in = new GZIPInputStream(open(resource))) {
            return new ObjectMapper().readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read llamacpp/quantized/" + resource + ": " + e, e);
        }
    }

    private static InputStream open(String resource) {
        InputStream in = LlamaCppQuantizedFixtures.class.getResourceAsStream("/llamacpp/quantized/" + resource);
        if (in == null) throw new IllegalStateException("fixture llamacpp/quantized/" + resource + " is missing; run ci/llama-fixtures.sh --llama-quantized");
        return in;
    }
}
