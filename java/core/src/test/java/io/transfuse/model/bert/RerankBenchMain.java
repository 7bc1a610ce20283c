package io.transfuse.model.bert;

import io.transfuse.Device;
import io.transfuse.LoadOptions;
import io.transfuse.Reranker;
import io.transfuse.Transfuse;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Reranking throughput: (query, document) pairs per second of {@link Reranker#scores} on a model directory, e.g. the
 * ModernBERT-base-shaped reranker {@code make_bertx_fixtures.py --bench modernbert-base-rerank DIR} writes (a tokenizer.json,
 * the fixtures' cut MiniLM WordPiece, is added when the directory has none):
 * <pre>
 *   java -cp CLASSPATH io.transfuse.model.bert.RerankBenchMain DIR DOCUMENTS REPETITIONS [cpu|cuda-emu|cuda]
 * </pre>
 * Each pair is 128 tokens ({@code [CLS] where is the cat ? [SEP]} and 20 repetitions of a six-word sentence, {@code [SEP]}); one
 * call scores DOCUMENTS pairs (packed batches, as the API runs them); one warm-up call, then the median of REPETITIONS.
 */
public final class RerankBenchMain {
    private RerankBenchMain() {}

    public static void main(String[] a) throws Exception {
        Path dir = Path.of(a[0]);
        int docs = Integer.parseInt(a[1]), reps = Integer.parseInt(a[2]);
        Device device = a.length > 3 ? Device.parse(a[3]) : Device.CPU;
        if (!Files.isRegularFile(dir.resolve("tokenizer.json"))) Files.write(dir.resolve("tokenizer.json"), BertVariantFixtures.tokenizer(2100));
        List<String> documents = new ArrayList<>();
        for (int i = 0; i < docs; i++) documents.add("the cat was in the house ".repeat(20).trim());
        try (Reranker r = Transfuse.loadReranker(dir, LoadOptions.defaults().withDevice(device))) {
            System.out.println(r.describe());
            r.scores("where is the cat?", documents);
            double[] rate = new double[reps];
            for (int i = 0; i < reps; i++) {
                long t0 = System.nanoTime();
                r.scores("where is the cat?", documents);
                rate[i] = docs / ((System.nanoTime() - t0) / 1e9);
            }
            double[] sorted = rate.clone();
            Arrays.sort(sorted);
            System.out.printf(Locale.ROOT, "%d pairs of 128 tokens per call: %.2f pairs/s median (min %.2f, max %.2f) %s%n", docs,
                    sorted[reps / 2], sorted[0], sorted[reps - 1], Arrays.toString(rate));
        }
    }
}
