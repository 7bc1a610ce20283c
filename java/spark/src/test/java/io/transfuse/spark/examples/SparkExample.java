package io.transfuse.spark.examples;

import io.transfuse.spark.TransfuseClassifier;
import io.transfuse.spark.TransfuseEmbedder;
import io.transfuse.spark.TransfuseGenerator;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * The README's Spark example, compiled with the tests so that it stays in step with the API (not run: it names
 * files that are not here; the tests run the same calls on small models).
 */
public final class SparkExample {
    private SparkExample() {}

    public static void main(String[] args) {
        SparkSession spark = SparkSession.builder().getOrCreate();
        Dataset<Row> docs = spark.read().parquet("docs.parquet");                        // a string column "text"
        TransfuseEmbedder embedder = new TransfuseEmbedder()
                .setModelPath("all-minilm-l6-v2")     // shipped with --archives (below), or an absolute path on every node
                .setInputCol("text").setOutputCol("embedding").setThreads(4);
        embedder.transform(docs).write().parquet("embedded.parquet");                    // + column "error"

        TransfuseGenerator summarize = new TransfuseGenerator().setModelPath("qwen2.5-0.5b-instruct-q8_0.gguf")
                .setInputCol("prompt").setOutputCol("summary").setMaxTokens(64).setStop("\n\n");
        Dataset<Row> images = spark.read().format("binaryFile").load("photos/*.jpg");   // column "content": the bytes
        Dataset<Row> labelled = new TransfuseClassifier().setModelPath("/models/vit-base-patch16-224")
                .setInputCol("content").setTopK(3).transform(images);
        summarize.transform(spark.read().parquet("prompts.parquet")).show();
        labelled.show();
    }
}
