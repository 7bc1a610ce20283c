package io.transfuse.cli;

import io.transfuse.Device;
import io.transfuse.EmbeddingModel;
import io.transfuse.EncoderOptions;
import io.transfuse.ImageClassifier;
import io.transfuse.Transfuse;
import io.transfuse.bench.EncoderBench;
import io.transfuse.bench.EngineBench;
import io.transfuse.bench.LlmBench;
import io.transfuse.model.ClassifierFamily;
import io.transfuse.model.DetectorFamily;
import io.transfuse.model.EncoderFamily;
import io.transfuse.model.Families;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
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

/**
 * {@code transfuse bench}: prefill and decode tokens/s of a language model, with token ids (no tokenizer
 * needed); for a text encoder (an .onnx file or a BERT-family directory), texts/s of embed calls; for an image
 * classifier (ViT, DeiT, Swin directory), images/s.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Measures prefill and decode tokens/s (median/min/max over repetitions) and decode weight bandwidth;",
                "for a text encoder (.onnx file or BERT-family directory), texts/s at --batch texts per call;",
                "for an image classifier (ViT/DeiT/Swin directory), images/s over --batch images per repetition;",
                "with --engine, aggregate decode tok/s and time to first token of the continuous-batching engine",
                "at each --concurrency (requests submitted at once)."})
final class BenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    DeviceFlags where;

    @Option(names = "--model", paramLabel = "PATH", required = true, description = "GGUF file, Hugging Face directory, or encoder .onnx file.")
    Path model;

    @Option(names = "--prompt-tokens", paramLabel = "N", defaultValue = "128", description = "Prompt length for prefill (default: ${DEFAULT-VALUE}).")
    int promptTokens;

    @Option(names = "--gen-tokens", paramLabel = "N", defaultValue = "64", description = "Decode steps, one token each (default: ${DEFAULT-VALUE}).")
    int genTokens;

    @Option(names = "--repetitions", paramLabel = "R", defaultValue = "5", description = "Measured repetitions (default: ${DEFAULT-VALUE}).")
    int repetitions;

    @Option(names = "--warmup", paramLabel = "W", defaultValue = "1", description = "Unmeasured warm-up repetitions (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--warmup-seconds", paramLabel = "S", defaultValue = "0",
            description = "Decoders: keep warming up (unmeasured repetitions) for at least S seconds, so that the JIT has compiled the graph's Java path (default: ${DEFAULT-VALUE}).")
    double warmupSeconds;

    @Option(names = "--batch", paramLabel = "N", defaultValue = "32", description = "Encoders: texts per embed call (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--text-tokens", paramLabel = "N", defaultValue = "32", description = "Encoders: tokens per text, special tokens included (default: ${DEFAULT-VALUE}).")
    int textTokens;

    @Option(names = "--batch-sequences", paramLabel = "N", defaultValue = "0",
            description = "Decoders: also measure N sequences decoding together (aggregate tok/s); 0 or 1 = off (default: ${DEFAULT-VALUE}).")
    int batchSequences;

    @Option(names = "--engine",
            description = "Decoders: measure the continuous-batching engine instead: C requests at once for each C in --concurrency.")
    boolean engine;

    @Option(names = "--concurrency", paramLabel = "LIST", split = ",", defaultValue = "1,4,16,64",
            description = "With --engine: the numbers of concurrent requests to measure (default: ${DEFAULT-VALUE}).")
    int[] concurrency;

    @Option(names = "--shared-prefix", paramLabel = "N", defaultValue = "0",
            description = {"With --engine: instead of the levels, requests that share an N-token prefix (a system prompt) then have",
                    "--prompt-tokens of their own, at the largest --concurrency, with the prefix cache on and off (default: off)."})
    int sharedPrefix;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "42", description = "With --engine: seed of the random prompt ids (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON to FILE.")
    Path json;

    @Override
    public Integer call() {
        Device d = where.device();
        LlmBench.Options o = new LlmBench.Options(promptTokens, genTokens, where.threads, repetitions, warmup, warmupSeconds, batchSequences, d);
        if (json != null) {
            Path parent = json.toAbsolutePath().getParent();
            if (parent == null || !Files.isDirectory(parent) || !Files.isWritable(parent)) {
                throw new IllegalArgumentException("cannot write " + json + ": directory " + parent + " does not exist or is not writable");
            }
        }
        if (Families.of(model) instanceof ClassifierFamily) {
            if (engine) throw new IllegalArgumentException("--engine measures decoders; " + model + " is an image classifier");
            return classifier(d);
        }
        if (Families.of(model) instanceof DetectorFamily) {
            if (engine) throw new IllegalArgumentException("--engine measures decoders; " + model + " is an object detector");
            return detector(d);
        }
        if (Families.of(model) instanceof EncoderFamily) {
            if (engine) throw new IllegalArgumentException("--engine measures decoders; " + model + " is a text encoder");
            return encoder(d);
        }
        if (engine) return engine(d);
        LlmBench.Result r = LlmBench.run(model, o);
        PrintWriter out = spec.commandLine().getOut();
        String heads = r.heads() == 0 ? String.format(Locale.ROOT, "d_inner %d", r.hidden()) // Mamba: no attention
                : String.format(Locale.ROOT, "%d heads, %d kv-heads, hidden %d", r.heads(), r.kvHeads(), r.hidden());
        out.printf(Locale.ROOT, "model %s: %s, dim %d, %d layers, %s, vocab %d, %s, %.1f MB weights%n",
                r.model(), r.architecture(), r.dim(), r.layers(), heads, r.vocab(), r.dtype(), r.weightBytes() / 1e6);
        out.printf(Locale.ROOT, "device %s, threads %s, prompt %d tokens, decode %d tokens, %d repetitions (+%d warm-up)%n",
                r.device(), r.threads() == 0 ? "auto" : String.valueOf(r.threads()), r.promptTokens(), r.genTokens(), r.repetitions(), r.warmup());
        out.printf(Locale.ROOT, "%-20s %10s %10s %10s%n", "", "median", "min", "max");
        row(out, "prefill tok/s", r.prefill());
        row(out, "decode tok/s", r.decode());
        row(out, "decode GB/s", r.decodeGBPerSecond());
        if (r.batchSequences() > 1) row(out, "decode x" + r.batchSequences() + " tok/s", r.batchDecode());
        out.flush();
        writeJson(r.toJson());
        return 0;
    }

    /** The engine at each concurrency: aggregate decode tok/s, TTFT, TTFT under load (or the shared-prefix comparison). */
    private int engine(Device d) {
        EngineBench.Options o = new EngineBench.Options(promptTokens, genTokens, where.threads, concurrency, repetitions, warmup,
                warmupSeconds, seed, d);
        PrintWriter out = spec.commandLine().getOut();
        if (sharedPrefix != 0) {
            EngineBench.SharedPrefix p = EngineBench.sharedPrefix(model, o, sharedPrefix);
            out.printf(Locale.ROOT, "model %s: %d requests at once, each a shared %d-token prefix + %d tokens of its own, %d generated%n",
                    model, p.concurrency(), p.prefixTokens(), promptTokens, genTokens);
            out.printf(Locale.ROOT, "%-14s %11s %11s %11s %14s%n", "prefix cache", "TTFT mean", "TTFT p50", "TTFT p90", "e2e tok/s");
            out.printf(Locale.ROOT, "%-14s %9.1fms %9.1fms %9.1fms %14.1f   (prompt blocks found cached: %.0f%%)%n", "on",
                    p.ttftCached().mean(), p.ttftCached().p50(), p.ttftCached().p90(), p.endToEndCached(), 100 * p.hitRate());
            out.printf(Locale.ROOT, "%-14s %9.1fms %9.1fms %9.1fms %14.1f%n", "off",
                    p.ttftUncached().mean(), p.ttftUncached().p50(), p.ttftUncached().p90(), p.endToEndUncached());
            out.flush();
            return 0;
        }
        EngineBench.Result r = EngineBench.run(model, o);
        out.printf(Locale.ROOT, "model %s: dim %d, %d layers, %s; engine, prompt %d tokens, %d generated per request, context %d%n",
                r.model(), r.dim(), r.layers(), r.dtype(), r.promptTokens(), r.genTokens(), r.context());
        out.printf(Locale.ROOT, "%-6s %14s %14s %11s %11s %11s %14s %7s%n", "conc", "decode tok/s", "e2e tok/s",
                "TTFT mean", "TTFT p50", "TTFT p90", "TTFT loaded", "early");
        for (EngineBench.Level l : r.levels()) {
            out.printf(Locale.ROOT, "%-6d %14.1f %14.1f %9.1fms %9.1fms %9.1fms %12.1fms %7d%s%n", l.concurrency(), l.decode().median(),
                    LlmBench.Stat.of(l.endToEndTokensPerSecond()).median(), l.ttft().mean(), l.ttft().p50(), l.ttft().p90(),
                    LlmBench.Stat.of(l.ttftUnderLoadMs()).median(), l.earlyStops(), l.allDecoding() ? "" : "  (window ran to the end)");
        }
        out.flush();
        writeJson(r.toJson());
        return 0;
    }

    /**
     * Images/s of an image classifier (ViT, DeiT, Swin): {@code --batch} classifications of one random RGB image at
     * the model's input size per repetition (preprocessing included: it is a rescale and normalise at that size).
     */
    private int classifier(Device d) {
        checkImageRuns();
        try (ImageClassifier clf = Transfuse.loadClassifier(model, where.loadOptions())) {
            int side = clf.inputSize();
            imagesPerSecond(d, "image classifier", clf.labels().size(), side, side, image -> clf.logits(image));
        }
        return 0;
    }

    /** Texts/s of embed calls of {@code batch} texts of exactly {@code textTokens} tokens (about 64 texts per repetition). */
    private int encoder(Device d) { // --threads, --repetitions and --warmup were checked by LlmBench.Options in call()
        if (batch < 1) throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
        if (textTokens < 3) throw new IllegalArgumentException("--text-tokens must be >= 3, got " + textTokens);
        try (EmbeddingModel m = Transfuse.loadEncoder(model, where.loadOptions(),
                EncoderOptions.defaults().withBatchSize(batch))) {
            int calls = Math.max(1, (64 + batch - 1) / batch);
            EncoderBench.Result r = EncoderBench.run(m, batch, textTokens, calls, repetitions, warmup);
            PrintWriter out = spec.commandLine().getOut();
            out.printf(Locale.ROOT, "model %s: encoder, %s%n", model, m.describe());
            out.printf(Locale.ROOT, "threads %s, batch %d, %d tokens per text, %d repetitions of %d texts (+%d warm-up)%n",
                    where.threads == 0 ? "auto" : String.valueOf(where.threads), batch, textTokens, repetitions, calls * batch, warmup);
            out.printf(Locale.ROOT, "%-20s %10s %10s %10s%n", "", "median", "min", "max");
            row(out, "texts/s", r.stat());
            out.flush();
            writeJson(r.toJson(model.toString(), where.threads, repetitions, warmup));
        }
        return 0;
    }

    private void writeJson(String text) {
        if (json == null) return;
        try {
            Files.writeString(json, text);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + json + ": " + e.getMessage(), e);
        }
    }

    private static void row(PrintWriter out, String name, LlmBench.Stat s) {
        out.printf(Locale.ROOT, "%-20s %10.2f %10.2f %10.2f%n", name, s.median(), s.min(), s.max());
    }

    // ---- DETR: object detectors --------------------------------------------------------------------

    /**
     * Images/s of an object detector (DETR): {@code --batch} detections per repetition of one random 1066x800 RGB image
     * (a 4:3 photo as DETR's processor sizes it: 800 on the short side), preprocessing and post-processing included.
     */
    private int detector(Device d) {
        checkImageRuns();
        try (io.transfuse.ObjectDetector det = Transfuse.loadDetector(model, where.loadOptions())) {
            imagesPerSecond(d, "object detector", det.labels().size(), 1066, 800, image -> det.detect(image, 0.5));
        }
        return 0;
    }

    // ---- images: one timing for the classifiers and the detectors ----------------------------------

    private void checkImageRuns() {
        if (batch < 1) throw new IllegalArgumentException("--batch must be positive, got " + batch);
        if (repetitions < 1 || warmup < 0) throw new IllegalArgumentException("--repetitions must be >= 1 and --warmup >= 0");
    }

    /**
     * Times {@code --batch} calls of {@code run} on one random {@code width x height} RGB image (from {@code --seed}) per
     * repetition, after the warm-up ones, and prints images/s (median, min, max) under a header naming the model.
     */
    private void imagesPerSecond(Device d, String kind, int labels, int width, int height,
                                 java.util.function.Consumer<java.awt.image.BufferedImage> run) {
        java.util.Random rnd = new java.util.Random(seed);
        java.awt.image.BufferedImage image = new java.awt.image.BufferedImage(width, height, java.awt.image.BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) for (int x = 0; x < width; x++) image.setRGB(x, y, rnd.nextInt(1 << 24));
        double[] rates = new double[repetitions];
        for (int r = -warmup; r < repetitions; r++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < batch; i++) run.accept(image);
            double seconds = (System.nanoTime() - t0) / 1e9;
            if (r >= 0) rates[r] = batch / seconds;
        }
        PrintWriter out = spec.commandLine().getOut();
        out.printf(Locale.ROOT, "model %s: %s, %d labels, %dx%d input%n", model, kind, labels, width, height);
        out.printf(Locale.ROOT, "device %s, threads %s, %d repetitions of %d images (+%d warm-up)%n", d,
                where.threads == 0 ? "auto" : String.valueOf(where.threads), repetitions, batch, warmup);
        out.printf(Locale.ROOT, "%-20s %10s %10s %10s%n", "", "median", "min", "max");
        row(out, "images/s", LlmBench.Stat.of(rates));
        out.flush();
    }
}
