package io.transfuse.cli;

import io.transfuse.loader.RandomGpt2Model;
import io.transfuse.loader.RandomLlamaModel;
import io.transfuse.loader.RandomLlamaModel.Shape;
import io.transfuse.loader.RandomMamba2Model;
import io.transfuse.loader.RandomMambaModel;
import io.transfuse.loader.RandomVariantModel;
import io.transfuse.loader.RandomVitModel;
import io.transfuse.quantize.QuantPreset;
import io.transfuse.tensor.DType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code transfuse make-model}: writes a random-weight Llama model of a given shape (for benchmarks). */
@Command(name = "make-model", mixinStandardHelpOptions = true,
        description = "Writes a random-weight model for benchmarks and demos: Llama (GGUF with a tokenizer) of a preset or explicit shape, Mamba or ViT.")
final class MakeModelCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "OUTPUT", description = "Output GGUF file, or directory for --format safetensors.")
    Path output;

    @Option(names = "--preset", paramLabel = "NAME", defaultValue = "stories15M",
            description = "stories15M (dim 288, 6 layers, 6 heads, hidden 768, vocab 32000, context 256), "
                    + "stories110M (dim 768, 12 layers, 12 heads, hidden 2048, vocab 32000, context 1024), "
                    + "kquant-tiny (dim 256, 4 layers, 8 heads, 2 kv-heads, hidden 768, vocab 512, context 128), "
                    + "mamba-tiny, mamba-130m (Mamba-1 HF directories), mamba2-tiny, mamba2-130m (Mamba-2 HF directories), rwkv6-tiny, rwkv7-tiny, rwkv6-0.1b, rwkv7-0.1b, rwkv7-0.4b (RWKV GGUF), gpt2-tiny (GPT-2: GGUF, or an HF directory with --format safetensors) "
                    + "vit-tiny (a ViT classifier HF directory), or a tiny model of a Llama-family architecture: "
                    + "llama3-tiny, mistral-tiny, qwen2-tiny, qwen3-tiny, gemma-tiny, gemma2-tiny, gemma3-tiny, phi3-tiny, "
                    + "or the one-layer llama3-micro, gemma2-micro (dim 256, hidden 256, vocab 260) "
                    + "(GGUF as llama.cpp writes it, or an HF directory with --format safetensors) (default: ${DEFAULT-VALUE}).")
    String preset;

    @Option(names = "--dim", paramLabel = "N", description = "Override the model width.") Integer dim;
    @Option(names = "--layers", paramLabel = "N", description = "Override the number of layers.") Integer layers;
    @Option(names = "--heads", paramLabel = "N", description = "Override the number of attention heads.") Integer heads;
    @Option(names = "--kv-heads", paramLabel = "N", description = "Override the number of key/value heads (default: heads when --heads is given).") Integer kvHeads;
    @Option(names = "--hidden", paramLabel = "N", description = "Override the FFN hidden size.") Integer hidden;
    @Option(names = "--vocab", paramLabel = "N", description = "Override the vocabulary size (>= 259).") Integer vocab;
    @Option(names = "--context", paramLabel = "N", description = "Override the context length.") Integer context;

    @Option(names = "--dtype", paramLabel = "TYPE", defaultValue = "f32", description = "f32, f16, or a quantisation preset with llama.cpp's per-tensor choices: q8_0, q4_0, q4_k_m, q5_k_m, q6_k (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "gguf", description = "gguf (one file) or safetensors (a Hugging Face directory, f32/f16; with tokenizer.json for the Llama-family "
            + "-tiny presets, GPT-2, Mamba) (default: ${DEFAULT-VALUE}).")
    String format;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "1", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        if (preset.toLowerCase(Locale.ROOT).startsWith("mamba-")) return makeMamba(err); // mamba-tiny, mamba-130m: an HF directory
        if (preset.toLowerCase(Locale.ROOT).startsWith("mamba2-")) return makeMamba2(err); // mamba2-tiny, mamba2-130m: likewise
        if (preset.toLowerCase(Locale.ROOT).startsWith("rwkv")) return makeRwkv(err); // rwkv6-*, rwkv7-*: GGUF (issue 17)
        if (preset.equalsIgnoreCase("vit-tiny")) return makeVit(err);
        if (preset.equalsIgnoreCase("gpt2-tiny")) return makeGpt2(err);
        if (RandomVariantModel.PRESETS.stream().anyMatch(v -> v.name().equalsIgnoreCase(preset))) return makeVariant(err);
        Shape p = Shape.preset(preset);
        int h = heads != null ? heads : p.heads();
        int kv = kvHeads != null ? kvHeads : heads != null ? h : p.kvHeads();
        Shape s = new Shape(dim != null ? dim : p.dim(), layers != null ? layers : p.layers(), h, kv,
                hidden != null ? hidden : p.hidden(), vocab != null ? vocab : p.vocab(), context != null ? context : p.context());
        QuantPreset quant = switch (dtype.toLowerCase(Locale.ROOT)) {
            case "f32", "f16" -> null;
            default -> { // q8_0, q4_0, q4_k_m, q5_k_m, q6_k: llama.cpp's per-tensor choices
                try {
                    yield QuantPreset.parse(dtype);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("unknown --dtype '" + dtype + "' (f32, f16, q8_0, q4_0, q4_k_m, q5_k_m, q6_k)");
                }
            }
        };
        DType type = quant != null ? quant.base() : dtype.equalsIgnoreCase("f16") ? DType.F16 : DType.F32;
        boolean hf = format.equalsIgnoreCase("safetensors");
        if (!hf && !format.equalsIgnoreCase("gguf")) {
            throw new IllegalArgumentException("unsupported --format '" + format + "' (supported: gguf, safetensors)");
        }
        if (hf && quant != null) throw new IllegalArgumentException("--format safetensors supports --dtype f32 and f16, not " + dtype);
        if (quant == null || quant.base().blockSize() == 32) RandomLlamaModel.checkDtype(s, type); // K-quants fall back per tensor
        Path parent = output.toAbsolutePath().getParent();
        if (parent == null || !Files.isDirectory(parent) || !Files.isWritable(parent)) {
            throw new IllegalArgumentException("cannot write " + output + ": directory " + parent + " does not exist or is not writable");
        }
        err.printf(Locale.ROOT, "make-model: %s, dim %d, %d layers, %d heads, %d kv-heads, hidden %d, vocab %d, context %d, %s, %.1fM parameters%n",
                output, s.dim(), s.layers(), s.heads(), s.kvHeads(), s.hidden(), s.vocab(), s.context(), type, s.parameters() / 1e6);
        err.flush();
        long t0 = System.nanoTime();
        Progress progress = Progress.on(err, "make-model: ");
        if (hf) RandomLlamaModel.writeHf(output, s, type, seed, progress);
        else if (quant != null) {
            var plan = quant.plan(RandomLlamaModel.tensorSpecs(s));
            RandomLlamaModel.writeGguf(output, s, t -> plan.get(t.name()), seed, progress);
        } else RandomLlamaModel.writeGguf(output, s, type, seed, progress);
        progress.finish();
        long bytes = hf ? output.resolve("model.safetensors").toFile().length() : output.toFile().length();
        err.printf(Locale.ROOT, "make-model: wrote %s (%.1f MB) in %.1f s%n", output, bytes / 1e6, (System.nanoTime() - t0) / 1e9);
        return 0;
    }

    /** For the presets with a fixed shape: an error with {@code message} when a shape option was given. */
    private void requireNoShapeOverrides(String message) {
        if (dim != null || layers != null || heads != null || kvHeads != null || hidden != null || vocab != null || context != null) {
            throw new IllegalArgumentException(message);
        }
    }

    /** --dtype of the presets written whole (GPT-2, the Llama-family tiny ones): f32, f16 or q8_0. */
    private DType floatOrQ8Dtype() {
        return switch (dtype.toLowerCase(Locale.ROOT)) {
            case "f32" -> DType.F32;
            case "f16" -> DType.F16;
            case "q8_0" -> DType.Q8_0;
            default -> throw new IllegalArgumentException("unknown --dtype '" + dtype + "' (f32, f16, q8_0)");
        };
    }

    /** A random-weight Mamba-1 model (HF directory with config.json, model.safetensors, tokenizer.json) of a preset shape. */
    private int makeMamba(PrintWriter err) {
        RandomMambaModel.Shape s = RandomMambaModel.Shape.preset(preset);
        requireNoShapeOverrides("Mamba presets take no shape overrides (--dim, --layers, --heads, --kv-heads, --hidden, --vocab, --context)");
        DType type = switch (dtype.toLowerCase(Locale.ROOT)) {
            case "f32" -> DType.F32;
            case "f16" -> DType.F16;
            default -> throw new IllegalArgumentException("Mamba presets support --dtype f32 and f16, not '" + dtype + "'");
        };
        long t0 = System.nanoTime();
        RandomMambaModel.write(output, s, type, seed, msg -> { });
        err.printf(Locale.ROOT, "make-model: wrote Mamba %s (d_model %d, %d layers, d_state %d) to %s in %.1f s%n",
                preset, s.dModel(), s.layers(), s.dState(), output, (System.nanoTime() - t0) / 1e9);
        return 0;
    }

    /** A random-weight Mamba-2 model (HF directory with config.json, model.safetensors, tokenizer.json) of a preset shape. */
    private int makeMamba2(PrintWriter err) {
        RandomMamba2Model.Shape s = RandomMamba2Model.Shape.preset(preset);
        requireNoShapeOverrides("Mamba-2 presets take no shape overrides (--dim, --layers, --heads, --kv-heads, --hidden, --vocab, --context)");
        DType type = switch (dtype.toLowerCase(Locale.ROOT)) {
            case "f32" -> DType.F32;
            case "f16" -> DType.F16;
            default -> throw new IllegalArgumentException("Mamba-2 presets support --dtype f32 and f16, not '" + dtype + "'");
        };
        long t0 = System.nanoTime();
        RandomMamba2Model.write(output, s, type, seed, msg -> { });
        err.printf(Locale.ROOT, "make-model: wrote Mamba-2 %s (d_model %d, %d layers, %d heads of %d, d_state %d) to %s in %.1f s%n",
                preset, s.dModel(), s.layers(), s.heads(), s.headDim(), s.dState(), output, (System.nanoTime() - t0) / 1e9);
        return 0;
    }

    /** A random-weight RWKV-6 or RWKV-7 model (GGUF in llama.cpp's layout, with a small world vocabulary) of a preset shape. */
    private int makeRwkv(PrintWriter err) {
        io.transfuse.loader.RandomRwkvModel.Shape s = io.transfuse.loader.RandomRwkvModel.Shape.preset(preset);
        requireNoShapeOverrides("RWKV presets take no shape overrides (--dim, --layers, --heads, --kv-heads, --hidden, --vocab, --context)");
        DType type = switch (dtype.toLowerCase(Locale.ROOT)) {
            case "f32" -> DType.F32;
            case "f16" -> DType.F16;
            case "q8_0" -> DType.Q8_0;
            default -> throw new IllegalArgumentException("RWKV presets support --dtype f32, f16 and q8_0, not '" + dtype + "'");
        };
        long t0 = System.nanoTime();
        io.transfuse.loader.RandomRwkvModel.writeGguf(output, s, type, seed, msg -> { });
        err.printf(Locale.ROOT, "make-model: wrote RWKV-%d %s (d_model %d, %d layers, %d heads of %d, vocab %d) to %s in %.1f s%n",
                s.version(), preset, s.dModel(), s.layers(), s.dModel() / s.headSize(), s.headSize(), s.vocab(), output,
                (System.nanoTime() - t0) / 1e9);
        return 0;
    }

    /** A random-weight GPT-2 (GGUF with its byte-level vocabulary, or an HF directory with tokenizer.json) of a preset shape. */
    private int makeGpt2(PrintWriter err) {
        requireNoShapeOverrides("the gpt2-tiny preset takes no shape overrides");
        DType type = floatOrQ8Dtype();
        RandomGpt2Model.Shape s = RandomGpt2Model.Shape.preset(preset);
        boolean hf = format.equalsIgnoreCase("safetensors");
        if (hf) RandomGpt2Model.writeHf(output, s, type, seed, msg -> { });
        else RandomGpt2Model.writeGguf(output, s, type, seed, msg -> { });
        err.printf(Locale.ROOT, "make-model: wrote GPT-2 %s (dim %d, %d layers, %d heads, context %d) to %s%n",
                preset, s.dim(), s.layers(), s.heads(), s.context(), output);
        return 0;
    }

    /** A tiny random-weight model of one Llama-family architecture (GGUF, or an HF directory). */
    private int makeVariant(PrintWriter err) {
        requireNoShapeOverrides("the " + preset + " preset takes no shape overrides");
        DType type = floatOrQ8Dtype();
        RandomVariantModel.Preset p = RandomVariantModel.preset(preset);
        boolean hf = format.equalsIgnoreCase("safetensors");
        if (hf) RandomVariantModel.writeHf(output, p, type, seed, msg -> { });
        else RandomVariantModel.writeGguf(output, p, type, seed, msg -> { });
        err.printf(Locale.ROOT, "make-model: wrote %s (%s: dim %d, %d layers, %d/%d heads of %d, hidden %d, vocab %d) to %s%n",
                p.name(), p.arch(), p.dim(), p.layers(), p.heads(), p.kvHeads(), p.headDim(), p.hidden(), p.vocab(), output);
        return 0;
    }

    /** A random-weight ViT classifier (HF directory: config.json with 7 labels, model.safetensors, preprocessor_config.json). */
    private int makeVit(PrintWriter err) {
        requireNoShapeOverrides("the vit-tiny preset takes no shape overrides");
        DType type = switch (dtype.toLowerCase(Locale.ROOT)) {
            case "f32" -> DType.F32;
            case "f16" -> DType.F16;
            default -> throw new IllegalArgumentException("vit-tiny supports --dtype f32 and f16, not '" + dtype + "'");
        };
        RandomVitModel m = RandomVitModel.tiny().withWeightType(type).withSeed(seed);
        m.write(output);
        err.printf(Locale.ROOT, "make-model: wrote ViT vit-tiny (hidden %d, %d layers, %dx%d images, %d classes) to %s%n",
                m.hidden(), m.layers(), m.imageSize(), m.imageSize(), m.labels(), output);
        return 0;
    }
}
