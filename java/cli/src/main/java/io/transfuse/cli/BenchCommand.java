package io.transfuse.cli;

import io.transfuse.bench.LlmBench;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code transfuse bench}: prefill and decode tokens/s of a model, with token ids (no tokenizer needed). */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measures prefill and decode tokens/s (median/min/max over repetitions) and decode weight bandwidth.")
final class BenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", paramLabel = "PATH", required = true, description = "GGUF file or Hugging Face directory.")
    Path model;

    @Option(names = "--prompt-tokens", paramLabel = "N", defaultValue = "128", description = "Prompt length for prefill (default: ${DEFAULT-VALUE}).")
    int promptTokens;

    @Option(names = "--gen-tokens", paramLabel = "N", defaultValue = "64", description = "Decode steps, one token each (default: ${DEFAULT-VALUE}).")
    int genTokens;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0", description = "CPU threads; 0 = one per core (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--repetitions", paramLabel = "R", defaultValue = "5", description = "Measured repetitions (default: ${DEFAULT-VALUE}).")
    int repetitions;

    @Option(names = "--warmup", paramLabel = "W", defaultValue = "1", description = "Unmeasured warm-up repetitions (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON to FILE.")
    Path json;

    @Override
    public Integer call() {
        LlmBench.Options o = new LlmBench.Options(promptTokens, genTokens, threads, repetitions, warmup);
        if (json != null) {
            Path parent = json.toAbsolutePath().getParent();
            if (parent == null || !Files.isDirectory(parent) || !Files.isWritable(parent)) {
                throw new IllegalArgumentException("cannot write " + json + ": directory " + parent + " does not exist or is not writable");
            }
        }
        LlmBench.Result r = LlmBench.run(model, o);
        PrintWriter out = spec.commandLine().getOut();
        out.printf(Locale.ROOT, "model %s: dim %d, %d layers, %d heads, %d kv-heads, hidden %d, vocab %d, %s, %.1f MB weights%n",
                r.model(), r.dim(), r.layers(), r.heads(), r.kvHeads(), r.hidden(), r.vocab(), r.dtype(), r.weightBytes() / 1e6);
        out.printf(Locale.ROOT, "threads %s, prompt %d tokens, decode %d tokens, %d repetitions (+%d warm-up)%n",
                r.threads() == 0 ? "auto" : String.valueOf(r.threads()), r.promptTokens(), r.genTokens(), r.repetitions(), r.warmup());
        out.printf(Locale.ROOT, "%-16s %10s %10s %10s%n", "", "median", "min", "max");
        row(out, "prefill tok/s", r.prefill());
        row(out, "decode tok/s", r.decode());
        row(out, "decode GB/s", r.decodeGBPerSecond());
        out.flush();
        if (json != null) {
            try {
                Files.writeString(json, r.toJson());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write " + json + ": " + e.getMessage(), e);
            }
        }
        return 0;
    }

    private static void row(PrintWriter out, String name, LlmBench.Stat s) {
        out.printf(Locale.ROOT, "%-16s %10.2f %10.2f %10.2f%n", name, s.median(), s.min(), s.max());
    }
}
