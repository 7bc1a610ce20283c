package io.transfuse.cli;

import io.transfuse.ImageClassifier;
import io.transfuse.LoadOptions;
import io.transfuse.TextClassifier;
import io.transfuse.TokenClassifier;
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

/**
 * {@code transfuse classify}: the most probable labels of each image or text, one block per input; for a
 * token-classification model, the entities of each text.
 */
@Command(name = "classify", mixinStandardHelpOptions = true,
        description = {"Classifies images (ViT/DeiT/Swin) or texts (BERT-family *ForSequenceClassification: top labels with probabilities;"
                + " *ForTokenClassification: entities with character offsets). The task follows the model's config.json"
                + " unless --task says otherwise."})
final class ClassifyCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    DeviceFlags where;

    @Parameters(arity = "1..*", paramLabel = "INPUT", description = "Image files (PNG, JPEG, BMP, GIF), or texts for a text model.")
    List<String> inputs;

    @Option(names = "--model", paramLabel = "DIR", required = true,
            description = "Hugging Face directory: image classification (config.json, safetensors, preprocessor_config.json)"
                    + " or a BERT-family text/token classifier (config.json with id2label, safetensors, tokenizer.json).")
    Path model;

    @Option(names = "--task", paramLabel = "TASK", defaultValue = "auto",
            description = "auto (from config.json architectures), image, classify (texts), tokens (named entities) (default: ${DEFAULT-VALUE}).")
    String task;

    @Option(names = "--top", paramLabel = "K", defaultValue = "5", description = "Labels to print per image (default: ${DEFAULT-VALUE}).")
    int top;

    @Override
    public Integer call() {
        if (top <= 0) throw new IllegalArgumentException("--top must be positive, got " + top);
        LoadOptions load = where.loadOptions();
        PrintWriter out = spec.commandLine().getOut();
        String t = task.equals("auto") ? TextTasks.taskOf(model) : task;
        switch (t) {
            case "classify" -> {
                try (TextClassifier clf = Transfuse.loadTextClassifier(model, load)) {
                    List<List<TextClassifier.Prediction>> all = clf.classify(inputs);
                    for (int i = 0; i < inputs.size(); i++) {
                        out.println(inputs.get(i));
                        for (TextClassifier.Prediction p : all.get(i).subList(0, Math.min(top, all.get(i).size()))) {
                            out.printf(Locale.ROOT, "  %6.2f%%  %s%n", 100 * p.score(), p.label());
                        }
                    }
                    out.flush();
                }
                return 0;
            }
            case "tokens" -> {
                try (TokenClassifier clf = Transfuse.loadTokenClassifier(model, load)) {
                    for (String text : inputs) {
                        out.println(text);
                        for (TokenClassifier.Entity e : clf.entities(text)) {
                            out.printf(Locale.ROOT, "  %-8s %4d-%-4d %6.2f%%  %s%n", e.label(), e.start(), e.end(), 100 * e.score(), e.text());
                        }
                    }
                    out.flush();
                }
                return 0;
            }
            case "image" -> { }
            default -> throw new IllegalArgumentException("--task must be auto, image, classify or tokens, got '" + task + "'");
        }
        try (ImageClassifier clf = Transfuse.loadClassifier(model, load)) {
            for (String input : inputs) {
                Path image = Path.of(input);
                List<ImageClassifier.Prediction> best = clf.classify(image, Math.min(top, clf.labels().size()));
                out.println(image);
                for (ImageClassifier.Prediction p : best) {
                    out.printf(Locale.ROOT, "  %6.2f%%  %s%n", 100 * p.probability(), p.label());
                }
                out.flush();
            }
        }
        return 0;
    }
}
