package io.transfuse.cli;

import io.transfuse.Device;
import io.transfuse.ImageClassifier;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code transfuse classify}: the most probable labels of each image, one block per image. */
@Command(name = "classify", mixinStandardHelpOptions = true,
        description = "Classifies images with a ViT/DeiT model, printing the top labels with probabilities.")
final class ClassifyCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(arity = "1..*", paramLabel = "IMAGE", description = "Image files (PNG, JPEG, BMP, GIF).")
    List<Path> images;

    @Option(names = "--model", paramLabel = "DIR", required = true,
            description = "Hugging Face image-classification directory (config.json, safetensors, preprocessor_config.json).")
    Path model;

    @Option(names = "--top", paramLabel = "K", defaultValue = "5", description = "Labels to print per image (default: ${DEFAULT-VALUE}).")
    int top;

    @Option(names = "--device", paramLabel = "DEVICE", defaultValue = "auto", description = "auto, cpu, cuda or cuda-emu (the CUDA backend on the host emulator); auto picks cuda when a GPU is present (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0", description = "CPU threads; 0 = one per core (default: ${DEFAULT-VALUE}).")
    int threads;

    @Override
    public Integer call() {
        if (top <= 0) throw new IllegalArgumentException("--top must be positive, got " + top);
        LoadOptions load = LoadOptions.defaults().withDevice(Device.parse(device)).withThreads(threads);
        PrintWriter out = spec.commandLine().getOut();
        try (ImageClassifier clf = Transfuse.loadClassifier(model, load)) {
            for (Path image : images) {
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
