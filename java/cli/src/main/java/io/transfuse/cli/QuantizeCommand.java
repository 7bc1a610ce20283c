package io.transfuse.cli;

import io.transfuse.quantize.ModelQuantizer;
import io.transfuse.quantize.QuantPreset;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code transfuse quantize IN OUT TYPE}: a GGUF model with F32/F16/BF16 tensors, or a Hugging Face directory of a
 * Llama-family decoder (converted as llama.cpp's converter would), to a quantised GGUF file.
 */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = "Quantises a GGUF model (F32, F16 or BF16 tensors) or a Hugging Face directory (config.json, *.safetensors, "
                + "tokenizer.json of a Llama, Mistral, Qwen2/3, Gemma 1/2/3 or Phi-3 model) into q8_0, q4_0, q4_k_m, q5_k_m or q6_k, with "
                + "llama.cpp's per-tensor choices (output head Q6_K; Q4_K_M/Q5_K_M: attn_v and ffn_down Q6_K in some layers; "
                + "norms F32). The output is written atomically.")
final class QuantizeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "IN", description = "Input GGUF file, or Hugging Face model directory.")
    Path in;

    @Parameters(index = "1", paramLabel = "OUT", description = "Output GGUF file.")
    Path out;

    @Parameters(index = "2", paramLabel = "TYPE", description = "q8_0, q4_0, q4_k_m, q5_k_m or q6_k.")
    String type;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        QuantPreset preset = QuantPreset.parse(type);
        long t0 = System.nanoTime();
        Progress progress = Progress.on(err, "quantize: ");
        ModelQuantizer.quantize(in, out, preset, progress);
        progress.finish();
        err.printf(Locale.ROOT, "quantize: wrote %s (%s, %.1f MB) in %.1f s%n", out, preset.name(), out.toFile().length() / 1e6,
                (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
