package io.transfuse.cli;

import io.transfuse.Device;
import io.transfuse.GenerateOptions;
import io.transfuse.GenerationResult;
import io.transfuse.LanguageModel;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.TransfuseException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code transfuse generate}: prints the prompt, then streams the continuation; statistics go to stderr. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Continues a prompt with a decoder language model, streaming tokens to stdout.")
final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "PROMPT", description = "Text to continue.")
    String prompt;

    @Option(names = "--model", paramLabel = "PATH",
            description = "GGUF file, Hugging Face directory, or a directory with one GGUF file (default: the bundled models/stories260K).")
    Path model;

    @Option(names = "--device", paramLabel = "DEVICE", defaultValue = "auto", description = "auto, cpu, cuda or cuda-emu (the CUDA backend on the host emulator); auto picks cuda when a GPU is present (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--max-tokens", paramLabel = "N", defaultValue = "256", description = "New tokens to generate (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Mixin
    SamplingFlags sampling;

    @Option(names = "--context", paramLabel = "N", defaultValue = "0",
            description = "Context length in tokens (prompt and reply); 0 = 4096, or the model's maximum when smaller (default: ${DEFAULT-VALUE}).")
    int context;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0", description = "CPU threads; 0 = one per core (default: ${DEFAULT-VALUE}).")
    int threads;

    @Override
    public Integer call() {
        GenerateOptions options = new GenerateOptions(maxTokens, sampling.options());
        if (context < 0) throw new IllegalArgumentException("--context must be >= 0, got " + context);
        LoadOptions load = LoadOptions.defaults().withDevice(Device.parse(device)).withThreads(threads).withContextLength(context);
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try (LanguageModel lm = Transfuse.load(model != null ? model : ModelHome.defaultModel(), load)) {
            checkPromptFits(lm);
            out.print(prompt);
            out.flush();
            GenerationResult r = lm.generate(prompt, options, piece -> {
                out.print(piece);
                out.flush();
            });
            out.println();
            out.flush();
            err.printf(Locale.ROOT, "prefill: %d tokens, %.1f tok/s; decode: %d tokens, %.1f tok/s (%s)%n",
                    r.promptTokens(), r.prefillTokensPerSecond(), r.generatedTokens(), r.decodeTokensPerSecond(),
                    r.stopReason().name().toLowerCase(Locale.ROOT).replace('_', ' '));
        }
        return 0;
    }

    /**
     * Fails before anything is printed when the model has no tokenizer or the prompt leaves no room to generate: a
     * long prompt would otherwise be echoed whole before the error. The prompt is tokenized again by generate; that
     * costs far less than its prefill (tokenizing is linear: about 0.5 s per 100k words).
     */
    private void checkPromptFits(LanguageModel lm) {
        int tokens = lm.tokenizer().encode(prompt, true).length;
        int context = lm.contextLength();
        if (tokens >= context) {
            throw new TransfuseException(String.format(Locale.ROOT, "the prompt is %d tokens but the context of %s holds %d, and at least "
                    + "one must be left to generate: pass a PROMPT of at most %d tokens (about %d%% of this one), or a --model with a "
                    + "longer context", tokens, lm.source(), context, context - 1, Math.max(1, (int) ((context - 1) * 100L / tokens))));
        }
    }
}
