package io.transfuse.cli;

import io.transfuse.LoadOptions;
import io.transfuse.Seq2SeqModel;
import io.transfuse.Seq2SeqOptions;
import io.transfuse.TransfuseException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code transfuse translate}: an encoder-decoder model's output for each text (translation with Marian / opus-mt,
 * T5's "translate English to German: ..." prompts, BART summaries), one line each, decoded greedily (or with
 * {@code --beams N}, beam search) and batched;
 * timing goes to stderr. {@code transfuse generate} on such a model runs this too.
 */
@Command(name = "translate", mixinStandardHelpOptions = true,
        description = "Runs an encoder-decoder model (T5, Flan-T5, BART, Marian) on each TEXT, printing one output line per text.")
final class TranslateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    DeviceFlags where;

    @Parameters(index = "0..*", arity = "1..*", paramLabel = "TEXT", description = "Texts to translate (decoded together, as one batch).")
    List<String> texts;

    @Option(names = "--model", paramLabel = "DIR", required = true,
            description = "Hugging Face directory of a T5, BART or Marian model (config.json, safetensors, tokenizer.json).")
    Path model;

    @Option(names = "--max-tokens", paramLabel = "N", defaultValue = "128", description = "New tokens per text at most (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--beams", paramLabel = "N", defaultValue = "1",
            description = "Beam search with N beams (the model's generation_config.json gives length penalty, early stopping, "
                    + "no-repeat n-gram size); 1 decodes greedily (default: ${DEFAULT-VALUE}).")
    int beams;

    @Override
    public Integer call() {
        if (maxTokens < 1) throw new IllegalArgumentException("--max-tokens must be >= 1, got " + maxTokens);
        if (beams < 1) throw new IllegalArgumentException("--beams must be >= 1, got " + beams);
        run(model, texts, new Seq2SeqOptions(maxTokens, beams), where, spec.commandLine().getOut(), spec.commandLine().getErr());
        return 0;
    }

    /** Loads {@code model}, prints the output of each text on its own line and the speed on {@code err}. */
    static void run(Path model, List<String> texts, Seq2SeqOptions options, DeviceFlags where, PrintWriter out, PrintWriter err) {
        LoadOptions load = where.loadOptions();
        // every text's beams share a decoder step: enough rows for them
        try (Seq2SeqModel m = Seq2SeqModel.load(model, load.withMaxSequences(Math.max(load.maxSequences(), options.numBeams())))) {
            if (m.tokenizer() == null) {
                throw new TransfuseException(model + " has no tokenizer.json (a Marian folder with only source.spm/target.spm is not yet "
                        + "supported)");
            }
            List<int[]> sources = texts.stream().map(t -> m.tokenizer().encode(t, true)).toList();
            long t0 = System.nanoTime();
            List<int[]> outputs = m.generateIds(sources, options);
            double seconds = (System.nanoTime() - t0) / 1e9;
            int tokens = 0;
            for (int[] ids : outputs) {
                out.println(m.decode(ids));
                tokens += ids.length;
            }
            out.flush();
            err.printf(Locale.ROOT, "%d texts, %d tokens generated in %.2f s: %.1f tokens/s%n", texts.size(), tokens, seconds,
                    tokens / Math.max(seconds, 1e-9));
        }
    }
}
