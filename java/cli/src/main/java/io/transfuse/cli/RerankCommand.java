package io.transfuse.cli;

import io.transfuse.LoadOptions;
import io.transfuse.Reranker;
import io.transfuse.Transfuse;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code transfuse rerank}: documents sorted by a cross-encoder's relevance score for a query, one line each. */
@Command(name = "rerank", mixinStandardHelpOptions = true,
        description = "Scores documents against a query with a cross-encoder (a BERT-family *ForSequenceClassification with one output,"
                + " e.g. ms-marco MiniLM or bge-reranker) and prints them most relevant first: score, input index, document.")
final class RerankCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    DeviceFlags where;

    @Parameters(index = "0", paramLabel = "QUERY", description = "The query.")
    String query;

    @Parameters(index = "1..*", arity = "1..*", paramLabel = "DOC", description = "Documents to rank.")
    List<String> documents;

    @Option(names = "--model", paramLabel = "DIR", required = true, description = "Hugging Face cross-encoder directory (config.json, safetensors, tokenizer.json).")
    Path model;

    @Option(names = "--top", paramLabel = "K", defaultValue = "0", description = "Print only the K best documents; 0 = all (default: ${DEFAULT-VALUE}).")
    int top;

    @Override
    public Integer call() {
        if (top < 0) throw new IllegalArgumentException("--top must be >= 0, got " + top);
        LoadOptions load = where.loadOptions();
        PrintWriter out = spec.commandLine().getOut();
        try (Reranker reranker = Transfuse.loadReranker(model, load)) {
            List<Reranker.Result> ranked = reranker.rank(query, documents);
            if (top > 0) ranked = ranked.subList(0, Math.min(top, ranked.size()));
            for (Reranker.Result r : ranked) out.printf(Locale.ROOT, "%10.4f  %d  %s%n", r.score(), r.index(), r.document());
            out.flush();
        }
        return 0;
    }
}
