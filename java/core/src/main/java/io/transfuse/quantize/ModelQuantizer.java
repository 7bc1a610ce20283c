package io.transfuse.quantize;

import io.transfuse.loader.GgufFile;
import io.transfuse.loader.GgufRawMetadata;
import io.transfuse.loader.GgufWriter;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Dequantize;
import io.transfuse.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * {@code transfuse quantize}: rewrites a model with F32/F16/BF16 tensors into a quantised GGUF file, each tensor's
 * type chosen by a {@link QuantPreset}. The input is a GGUF file, whose metadata is copied entry by entry with its
 * exact GGUF types (GgufRawMetadata), or a Hugging Face directory of a Llama-family decoder, converted on the way as
 * llama.cpp's converter would ({@link HfToGguf}). general.file_type is set to llama.cpp's id of the preset. Tensors
 * are read one at a time; the output is written atomically (GgufWriter: temporary sibling, then a move).
 */
public final class ModelQuantizer {
    private ModelQuantizer() {}

    /** llama.cpp's LLAMA_FTYPE_MOSTLY_* id of a preset (general.file_type). */
    static int fileType(QuantPreset p) {
        return switch (p) {
            case Q4_0 -> 2;
            case Q8_0 -> 7;
            case Q4_K_M -> 15;
            case Q5_K_M -> 17;
            case Q6_K -> 18;
        };
    }

    /** Quantises {@code in} (a GGUF file or a Hugging Face directory) into {@code out}; progress lines go to {@code progress}. */
    public static void quantize(Path in, Path out, QuantPreset preset, Consumer<String> progress) {
        if (in.toAbsolutePath().normalize().equals(out.toAbsolutePath().normalize())) {
            throw new IllegalArgumentException("output " + out + " is the input file");
        }
        try (TrackedArena arena = new TrackedArena("quantize " + in)) {
            GgufWriter w = new GgufWriter();
            List<HfToGguf.Source> tensors;
            if (Files.isDirectory(in)) {
                tensors = HfToGguf.read(in, arena, w, progress);
            } else {
                tensors = fromGguf(in, arena, w);
            }
            w.put("general.file_type", fileType(preset));
            List<QuantPreset.TensorSpec> specs = new ArrayList<>();
            for (HfToGguf.Source t : tensors) specs.add(new QuantPreset.TensorSpec(t.name(), t.shape()));
            Map<String, DType> plan = preset.plan(specs);
            for (HfToGguf.Source t : tensors) w.addTensor(t.name(), plan.get(t.name()), t.shape(), t.values());
            w.write(out, message -> progress.accept(message + " -> " + typeOf(plan, message)));
        }
    }

    /** A GGUF file's metadata into {@code w} (but its alignment and file type) and its tensors, which must be F32, F16 or BF16. */
    private static List<HfToGguf.Source> fromGguf(Path in, TrackedArena arena, GgufWriter w) {
        GgufFile f = GgufFile.open(in, arena);
        for (Map.Entry<String, byte[]> e : GgufRawMetadata.read(in).entrySet()) {
            if (e.getKey().equals("general.alignment") || e.getKey().equals("general.file_type")) continue;
            w.putRaw(e.getValue());
        }
        List<HfToGguf.Source> tensors = new ArrayList<>();
        for (Tensor t : f.tensors().values()) {
            switch (t.dtype()) {
                case F32, F16, BF16 -> { }
                default -> throw new IllegalArgumentException(in + ": tensor '" + t.name() + "' is " + t.dtype()
                        + "; quantize reads F32, F16 or BF16 tensors (re-quantising would compound the errors)");
            }
            tensors.add(new HfToGguf.Source(t.name(), t.shape(), () -> Dequantize.toFloats(t)));
        }
        return tensors;
    }

    private static String typeOf(Map<String, DType> plan, String message) {
        String name = message.substring(message.lastIndexOf(' ') + 1);
        DType t = plan.get(name);
        return t == null ? "?" : t.toString();
    }
}
