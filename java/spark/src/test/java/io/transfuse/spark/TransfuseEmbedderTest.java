package io.transfuse.spark;

import io.transfuse.EmbeddingModel;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * TransfuseEmbedder on local[2] with the real all-MiniLM-L6-v2 against Transfuse's EmbeddingModel.embed on a
 * separately loaded copy of the same model, row for row; bad rows; strict mode; one load per JVM.
 */
class TransfuseEmbedderTest {
    static final StructType SCHEMA = new StructType().add("id", DataTypes.IntegerType).add("text", DataTypes.StringType);
    static final String[] WORDS = ("the a small big red green dog cat house river city runs jumps sleeps quickly slowly over under"
            + " near bright dark old new café naïve résumé 你好 world data table model spark engine").split(" ");

    static Path model;
    static EmbeddingModel reference;

    @BeforeAll
    static void load() {
        model = LocalSpark.miniLm();
        reference = Transfuse.loadEncoder(model, LoadOptions.defaults().withThreads(2));
    }

    @AfterAll
    static void close() {
        reference.close();
    }

    /** Deterministic texts of 1 to 16 words. */
    static List<String> texts(int n, long seed) {
        Random r = new Random(seed);
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            StringBuilder b = new StringBuilder();
            for (int w = 1 + r.nextInt(16); w > 0; w--) b.append(WORDS[r.nextInt(WORDS.length)]).append(w > 1 ? " " : ".");
            out.add(b.toString());
        }
        return out;
    }

    static Dataset<Row> frame(List<String> texts, int partitions) {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) rows.add(RowFactory.create(i, texts.get(i)));
        return LocalSpark.frame(rows, SCHEMA, partitions);
    }

    static void assertClose(float[] want, float[] got, String what) {
        assertEquals(want.length, got.length, what);
        for (int d = 0; d < want.length; d++) assertEquals(want[d], got[d], 2e-5f, what + " dim " + d);
    }

    static float[] floats(Row row, int field) {
        List<Float> list = row.getList(field);
        float[] f = new float[list.size()];
        for (int i = 0; i < f.length; i++) f[i] = list.get(i);
        return f;
    }

    @Test
    void thousandRowsEqualEmbeddingModelRowForRow() {
        List<String> texts = texts(1000, 1);
        // A small batch budget so that every partition runs several batches, two of them in flight.
        TransfuseEmbedder embedder = new TransfuseEmbedder().setModelPath(model.toString()).setThreads(2).setMaxBatchTokens(256);
        List<Row> got = embedder.transform(frame(texts, 4)).collectAsList();
        float[][] want = reference.embed(texts);
        assertEquals(1000, got.size());
        for (int i = 0; i < 1000; i++) {
            Row row = got.get(i);
            assertEquals(i, row.getInt(0), "rows keep their order");
            assertEquals(texts.get(i), row.getString(1));
            assertTrue(row.isNullAt(3), "no error expected for row " + i + ": " + row.get(3));
            assertClose(want[i], floats(row, 2), "row " + i);
        }
        // Another transformer with the same model settings, and another run: still the one loaded model (which
        // this class's other tests share too, whatever their order).
        new TransfuseEmbedder().setModelPath(model.toString()).setThreads(2).transform(frame(texts.subList(0, 10), 2)).collectAsList();
        assertEquals(1, ExecutorModels.loads(new ModelKey(ModelKey.Kind.EMBEDDER, model.toString(), "auto", 2, "")),
                "the model is loaded once per JVM");
    }

    @Test
    void badRowsGiveNullAndTheReason() {
        String tooLong = "word ".repeat(600) + "end";
        List<String> texts = Arrays.asList("Hello world", null, "", "   ", tooLong, "The last row is fine.");
        List<Row> got = new TransfuseEmbedder().setModelPath(model.toString()).setThreads(2).setTruncate(false)
                .setOutputCol("vec").setErrorCol("why").transform(frame(texts, 2)).collectAsList();
        assertEquals(List.of("id", "text", "vec", "why"), Arrays.asList(got.getFirst().schema().fieldNames()));
        assertClose(reference.embed("Hello world"), floats(got.get(0), 2), "good row before the bad ones");
        assertClose(reference.embed("The last row is fine."), floats(got.get(5), 2), "good row after the bad ones");
        assertTrue(got.get(1).isNullAt(2) && got.get(1).getString(3).contains("null"), got.get(1).toString());
        assertTrue(got.get(2).isNullAt(2) && got.get(2).getString(3).contains("empty"), got.get(2).toString());
        assertTrue(got.get(3).isNullAt(2) && got.get(3).getString(3).contains("empty"), got.get(3).toString());
        assertTrue(got.get(4).isNullAt(2) && got.get(4).getString(3).contains("at most " + reference.maxTokens()), got.get(4).toString());

        // With truncation (the default) the long text is embedded as the model's first maxTokens tokens.
        List<Row> cut = new TransfuseEmbedder().setModelPath(model.toString()).setThreads(2)
                .transform(frame(List.of(tooLong), 1)).collectAsList();
        assertClose(reference.embed(tooLong), floats(cut.getFirst(), 2), "truncated text");
    }

    @Test
    void strictModeFailsTheJobNamingTheRow() {
        TransfuseEmbedder strict = new TransfuseEmbedder().setModelPath(model.toString()).setThreads(2).setStrict(true);
        Exception e = assertThrows(Exception.class, () -> strict.transform(frame(Arrays.asList("fine", "", "fine"), 1)).collectAsList());
        String message = String.valueOf(e.getMessage());
        assertTrue(message.contains("row 1 of partition 0: the text is empty"), message);
    }

    @Test
    void vectorOutputAndParamsRoundTrip(@TempDir Path dir) throws Exception {
        TransfuseEmbedder embedder = new TransfuseEmbedder().setModelPath(model.toString()).setThreads(2).setVectorOutput(true)
                .setInputCol("text").setOutputCol("features");
        String saved = dir.resolve("embedder").toString();
        LocalSpark.session(); // MLWriter uses the active session (it would start one without a master)
        embedder.save(saved);
        TransfuseEmbedder loaded = TransfuseEmbedder.load(saved);
        assertEquals(embedder.uid(), loaded.uid());
        assertEquals(model.toString(), loaded.getModelPath());
        assertTrue(loaded.getVectorOutput());
        assertEquals("features", loaded.getOutputCol());
        Row row = loaded.transform(frame(List.of("Vectors for Spark ML"), 1)).collectAsList().getFirst();
        Vector v = row.getAs("features");
        float[] want = reference.embed("Vectors for Spark ML");
        assertEquals(want.length, v.size());
        for (int d = 0; d < want.length; d++) assertEquals(want[d], v.apply(d), 2e-5, "dim " + d);
        TransfuseEmbedder copy = embedder.copy(new ParamMap().put(embedder.outputCol(), "other"));
        assertEquals(embedder.uid(), copy.uid());
        assertEquals("other", copy.getOutputCol(), "extra params apply to the copy");
        assertEquals("features", embedder.getOutputCol(), "and not to the original");
        assertTrue(copy.getVectorOutput());
        String explained = embedder.explainParams();
        for (String name : List.of("modelPath", "device", "threads", "maxBatchTokens", "strict", "errorCol", "truncate", "vectorOutput")) {
            assertTrue(explained.contains(name + ":"), name + " missing from explainParams(): " + explained);
        }
    }

    @Test
    void inAPipelineSavedAndLoaded(@TempDir Path dir) throws Exception {
        LocalSpark.session();
        Pipeline pipeline = new Pipeline().setStages(new PipelineStage[] {
                new TransfuseEmbedder().setModelPath(model.toString()).setThreads(2).setErrorCol("")});
        PipelineModel fitted = pipeline.fit(frame(List.of("x"), 1));
        String saved = dir.resolve("pipeline").toString();
        fitted.save(saved);
        Row row = PipelineModel.load(saved).transform(frame(List.of("Pipelines too"), 1)).collectAsList().getFirst();
        assertEquals(List.of("id", "text", "embedding"), Arrays.asList(row.schema().fieldNames()), "errorCol \"\": no error column");
        assertClose(reference.embed("Pipelines too"), floats(row, 2), "pipeline row");
    }

    @Test
    void schemaMistakesAreNamedBeforeAnyTask() {
        TransfuseEmbedder embedder = new TransfuseEmbedder().setModelPath(model.toString()).setInputCol("body");
        var e = assertThrows(IllegalArgumentException.class, () -> embedder.transform(frame(List.of("x"), 1)));
        assertTrue(e.getMessage().contains("input column 'body' is not in the data (columns: id, text)"), e.getMessage());
        var ints = assertThrows(IllegalArgumentException.class, () -> embedder.setInputCol("id").transform(frame(List.of("x"), 1)));
        assertTrue(ints.getMessage().contains("'id' is int; it must be string"), ints.getMessage());
        var clash = assertThrows(IllegalArgumentException.class,
                () -> embedder.setInputCol("text").setOutputCol("id").transform(frame(List.of("x"), 1)));
        assertTrue(clash.getMessage().contains("output column 'id' already exists"), clash.getMessage());
        var noModel = assertThrows(IllegalArgumentException.class, () -> new TransfuseEmbedder().transform(frame(List.of("x"), 1)));
        assertTrue(noModel.getMessage().contains("modelPath is not set"), noModel.getMessage());
    }

    @Test
    void aMissingModelFailsTheJobWithItsPath() {
        TransfuseEmbedder embedder = new TransfuseEmbedder().setModelPath("no-such-model-dir");
        Exception e = assertThrows(Exception.class, () -> embedder.transform(frame(List.of("x"), 1)).collectAsList());
        assertTrue(String.valueOf(e.getMessage()).contains("modelPath no-such-model-dir was not found on this executor"), e.getMessage());
    }
}
