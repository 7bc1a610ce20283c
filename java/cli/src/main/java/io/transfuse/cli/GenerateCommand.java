package io.transfuse.cli;

import io.transfuse.GenerateOptions;
import io.transfuse.GenerationResult;
import io.transfuse.LanguageModel;
import io.transfuse.LoadOptions;
import io.transfuse.Seq2SeqModel;
import io.transfuse.Seq2SeqOptions;
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
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code transfuse generate}: prints the prompt, then streams the continuation; statistics go to stderr. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Continues a prompt with a decoder language model, streaming tokens to stdout.")
final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    DeviceFlags where;

    @Parameters(index = "0", paramLabel = "PROMPT", description = "Text to continue.")
    String prompt;

    @Option(names = "--model", paramLabel = "PATH",
            description = "GGUF file, Hugging Face directory, or a directory with one GGUF file (default: the bundled models/stories260K).")
    Path model;

    @Option(names = "--max-tokens", paramLabel = "N", defaultValue = "256", description = "New tokens to generate (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Mixin
    SamplingFlags sampling;

    @Option(names = "--context", paramLabel = "N", defaultValue = "0",
            description = "Context length in tokens (prompt and reply); 0 = 4096, or the model's maximum when smaller (default: ${DEFAULT-VALUE}).")
    int context;

    @Override
    public Integer call() {
        if (model != null && Seq2SeqModel.recognizes(model)) { // T5 / BART / Marian: the prompt is the source text
            if (maxTokens < 1) throw new IllegalArgumentException("--max-tokens must be >= 1, got " + maxTokens);
            TranslateCommand.run(model, List.of(prompt), new Seq2SeqOptions(maxTokens), where, spec.commandLine().getOut(),
                    spec.commandLine().getErr());
            return 0;
        }
        GenerateOptions options = new GenerateOptions(maxTokens, sampling.options());
        if (context < 0) throw new IllegalArgumentException("--context must be >= 0, got " + context);
        LoadOptions load = where.loadOptions().withContextLength(context);
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try (LanguageModel lm = Transfuse.load(model != null ? model : ModelHome.defaultModel(), load)) {
            int[] promptTokens = promptTokensThatFit(lm);
            out.print(prompt);
            out.flush();
            GenerationResult r = lm.generate(promptTokens, options, piece -> {
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
     * The prompt's tokens, which generation is then fed (the prompt is tokenized once). Fails before anything is
     * printed when the model has no tokenizer or the prompt leaves no room to generate: a long prompt would otherwise
     * be echoed whole before the error.
     */
    private int[] promptTokensThatFit(LanguageModel lm) {
        int[] tokens = lm.tokenizer().encode(prompt, true);
        int context = lm.contextLength();
        if (tokens.length >= context) {
            throw new TransfuseException(String.format(Locale.ROOT, "the prompt is %d tokens but the context of %s holds %d, and at least "
                    + "one must be left to generate: pass a PROMPT of at most %d tokens (about %d%% of this one), or a --model with a "
                    + "longer context", tokens.length, lm.source(), context, context - 1,
                    Math.max(1, (int) ((context - 1) * 100L / tokens.length))));
        }
        return tokens;
    }
}
