package io.transfuse.spark;

import io.transfuse.EmbeddingModel;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.bench.EncoderBench;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The Spark row of ci/bench.sh: rows/s of all-MiniLM-L6-v2 embeddings through {@link TransfuseEmbedder} on
 * Spark {@code local[2]} beside the same texts through the model directly ({@code EmbeddingModel.embed} in
 * batches of the same token budget, one caller), alternating repetition by repetition in one JVM; the ratio
 * is Spark's overhead. Texts of 32 tokens (EncoderBench's, as the encoder rows). Spark's time includes
 * building the rows from a driver-side list, scheduling two tasks, and writing every result row to Spark's
 * {@code noop} sink; the model's threads are the same ({@code --threads}) in both.
 *
 * <p>Usage: {@code SparkEmbeddingBench OUT_DIR --model PATH/model.onnx [--threads N] [--reps N] [--rows N] [--smoke]};
 * writes OUT_DIR/encoder-minilm-spark.json in the encoder rows' format (peer = the model directly).
 */
public final class SparkEmbeddingBench {
    private static final int TOKENS = 32, BATCH_TOKENS = 4096;

    public static void main(String[] args) throws Exception {
        if (args.length < 1) usage("missing OUT_DIR");
        Path out = Path.of(args[0]);
        String model = null;
        int threads = 2, reps = 5, rows = 4096;
        boolean smoke = false;
        for (int i = 1; i < args.length; i++) {
            switch (args[i]) {
                case "--model" -> model = value(args, ++i);
                case "--threads" -> threads = Integer.parseInt(value(args, ++i));
                case "--reps" -> reps = Integer.parseInt(value(args, ++i));
                case "--rows" -> rows = Integer.parseInt(value(args, ++i));
                case "--smoke" -> smoke = true;
                default -> usage("unknown argument '" + args[i] + "'");
            }
        }
        if (model == null) usage("--model is required");
        if (smoke) {
            reps = 1;
            rows = 128;
        }
        SparkSession spark = SparkSession.builder().master("local[2]").appName("transfuse-spark-bench")
                .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1").getOrCreate();
        spark.sparkContext().setLogLevel("WARN");
        try (EmbeddingModel direct = Transfuse.loadEncoder(Path.of(model), LoadOptions.defaults().withThreads(threads))) {
            List<String> texts = new ArrayList<>();
            for (int i = 0; i < rows; i++) texts.add(EncoderBench.text(direct, TOKENS, i));
            List<Row> data = new ArrayList<>();
            for (int i = 0; i < rows; i++) data.add(RowFactory.create(i, texts.get(i)));
            StructType schema = new StructType().add("id", DataTypes.IntegerType).add("text", DataTypes.StringType);
            TransfuseEmbedder embedder = new TransfuseEmbedder().setModelPath(model).setThreads(threads).setMaxBatchTokens(BATCH_TOKENS);
            int batch = BATCH_TOKENS / TOKENS, n = rows;
            Repetition viaSpark = () -> {
                Dataset<Row> frame = spark.createDataFrame(data, schema); // a local table: one partition per core (2)
                long t0 = System.nanoTime();
                embedder.transform(frame).write().format("noop").mode("overwrite").save();
                return n * 1e9 / (System.nanoTime() - t0);
            };
            Repetition directly = () -> {
                long t0 = System.nanoTime();
                for (int at = 0; at < n; at += batch) direct.embed(texts.subList(at, Math.min(n, at + batch)));
                return n * 1e9 / (System.nanoTime() - t0);
            };
            // Warm-up (untimed): the executor's model load and the JIT; in --smoke only the load and a few rows.
            if (smoke) {
                embedder.transform(spark.createDataFrame(data.subList(0, 16), schema)).write().format("noop").mode("overwrite").save();
                direct.embed(texts.subList(0, 16));
            } else {
                viaSpark.rowsPerSecond();
                directly.rowsPerSecond();
            }
            double[] mine = new double[reps], peer = new double[reps];
            for (int r = 0; r < reps; r++) {
                if (r % 2 == 0) {
                    mine[r] = viaSpark.rowsPerSecond();
                    peer[r] = directly.rowsPerSecond();
                } else {
                    peer[r] = directly.rowsPerSecond();
                    mine[r] = viaSpark.rowsPerSecond();
                }
            }
            Files.createDirectories(out);
            String name = "minilm via Spark local[2] (rows/s; peer: the model directly)";
            Files.writeString(out.resolve("encoder-minilm-spark.json"), String.format(Locale.ROOT,
                    "{\"name\": \"%s\", \"batch\": %d, \"tokens\": %d, \"threads\": %d, \"transfuse_texts_s\": %s, "
                            + "\"peer_texts_s\": %s, \"peer_name\": \"EmbeddingModel.embed, no Spark\"}%n",
                    name, batch, TOKENS, threads, Arrays.toString(mine), Arrays.toString(peer)));
            System.err.printf(Locale.ROOT, "minilm spark local[2] (%d rows of %d tokens, %d threads): Spark %.0f rows/s, directly %.0f rows/s, ratio %.2f%n",
                    rows, TOKENS, threads, median(mine), median(peer), median(mine) / median(peer));
        } finally {
            spark.stop();
            ExecutorModels.closeAll();
        }
    }

    interface Repetition {
        double rowsPerSecond() throws Exception;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    private static String value(String[] args, int i) {
        if (i >= args.length) usage(args[i - 1] + " needs a value");
        return args[i];
    }

    private static void usage(String why) {
        System.err.println("SparkEmbeddingBench: " + why
                + "; usage: SparkEmbeddingBench OUT_DIR --model PATH/model.onnx [--threads N] [--reps N] [--rows N] [--smoke]");
        System.exit(2);
    }
}
