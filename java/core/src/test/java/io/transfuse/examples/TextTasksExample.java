package io.transfuse.examples;

import io.transfuse.LoadOptions;
import io.transfuse.Reranker;
import io.transfuse.TextClassifier;
import io.transfuse.TokenClassifier;
import io.transfuse.Transfuse;

import java.nio.file.Path;
import java.util.List;

/**
 * The README's text-classification, named-entity and reranking examples through the public API
 * (TextTasksExampleTest runs it on random-weight checkpoints so that it keeps compiling and working).
 * Usage: {@code TextTasksExample CLASSIFIER_DIR NER_DIR RERANKER_DIR}.
 */
public final class TextTasksExample {
    private TextTasksExample() {}

    public static void main(String[] args) {
        System.out.println(run(Path.of(args[0]), Path.of(args[1]), Path.of(args[2])));
    }

    /** The best label of a review, the entities of a sentence and the best document for a query, in one line. */
    public static String run(Path classifier, Path ner, Path reranker) {
        StringBuilder out = new StringBuilder();
        try (TextClassifier c = Transfuse.loadTextClassifier(classifier, LoadOptions.defaults())) {
            TextClassifier.Prediction best = c.classify("A gripping film").get(0);
            out.append(best.label()).append(' ');
        }
        try (TokenClassifier n = Transfuse.loadTokenClassifier(ner, LoadOptions.defaults())) {
            for (TokenClassifier.Entity e : n.entities("Angela Merkel visited Paris")) out.append(e.label()).append(':').append(e.text()).append(' ');
        }
        try (Reranker r = Transfuse.loadReranker(reranker, LoadOptions.defaults())) {
            List<Reranker.Result> ranked = r.rank("capital of France?", List.of("Paris is the capital.", "Bananas are yellow."));
            out.append(ranked.get(0).index());
        }
        return out.toString();
    }
}
