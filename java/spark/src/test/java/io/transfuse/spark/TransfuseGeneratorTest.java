package io.transfuse.spark;

import io.transfuse.GenerateOptions;
import io.transfuse.LanguageModel;
import io.transfuse.LoadOptions;
import io.transfuse.TestModels;
import io.transfuse.Transfuse;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * TransfuseGenerator on local[2] with the bundled stories260K model: greedy generation equals
 * LanguageModel.generate on a separately loaded copy, row for row; sampling options reach the engine; bad rows.
 */
class TransfuseGeneratorTest {
    static final StructType SCHEMA = new StructType().add("id", DataTypes.IntegerType).add("prompt", DataTypes.StringType);
    static final String[] OPENINGS = {"Once upon a time", "Lily and Tom went to the park", "The little dog", "One day, a girl named Sue",
            "Tim had a big red ball", "The sun was shining", "Mom said", "There was a cat who"};
    static LanguageModel reference;

    @BeforeAll
    static void load() {
        reference = Transfuse.load(TestModels.storiesGguf(), LoadOptions.defaults().withThreads(2));
    }

    @AfterAll
    static void close() {
        reference.close();
    }

    static Dataset<Row> frame(List<String> prompts, int partitions) {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) rows.add(RowFactory.create(i, prompts.get(i)));
        return LocalSpark.frame(rows, SCHEMA, partitions);
    }

    static TransfuseGenerator generator() {
        return new TransfuseGenerator().setModelPath(TestModels.storiesGguf().toString()).setThreads(2).setMaxTokens(24);
    }

    @Test
    void greedyGenerationEqualsLanguageModelGenerate() {
        List<String> prompts = new ArrayList<>();
        for (int i = 0; i < 24; i++) prompts.add(OPENINGS[i % OPENINGS.length] + (i >= OPENINGS.length ? " " + i : ""));
        List<Row> got = generator().transform(frame(prompts, 3)).collectAsList();
        GenerateOptions options = GenerateOptions.defaults().withMaxTokens(24);
        assertEquals(prompts.size(), got.size());
        for (int i = 0; i < prompts.size(); i++) {
            Row row = got.get(i);
            assertEquals(i, row.getInt(0), "rows keep their order");
            assertTrue(row.isNullAt(3), "row " + i + ": " + row.get(3));
            assertEquals(reference.generate(prompts.get(i), options, t -> {}).text(), row.getString(2), "row " + i);
        }
        ModelKey key = new ModelKey(ModelKey.Kind.GENERATOR, TestModels.storiesGguf().toString(), "auto", 2,
                "maxSequences=16, contextLength=0, maxBatchTokens=0");
        assertEquals(1, ExecutorModels.loads(key), "one model per JVM for all of this class's transforms, whatever their options");
    }

    @Test
    void samplingOptionsAndStopStringsReachTheEngine() {
        String prompt = OPENINGS[0];
        TransfuseGenerator sampled = generator().setTemperature(0.9).setTopK(40).setTopP(0.95).setSeed(7).setStop("\n");
        GenerateOptions options = GenerateOptions.builder().maxTokens(24).temperature(0.9).topK(40).topP(0.95).seed(7).stop("\n").build();
        assertEquals(options, sampled.generateOptions());
        Row row = sampled.transform(frame(List.of(prompt), 1)).collectAsList().getFirst();
        assertEquals(reference.generate(prompt, options, t -> {}).text(), row.getString(2), "same seed, same sample");
        assertThrows(IllegalArgumentException.class, () -> generator().setTopP(1.5));
    }

    @Test
    void badRowsGiveNullAndTheReason() {
        String tooLong = "and then ".repeat(400);
        List<String> prompts = Arrays.asList("Once upon a time", null, " ", tooLong, "The little dog");
        List<Row> got = generator().setErrorCol("problem").transform(frame(prompts, 2)).collectAsList();
        GenerateOptions options = GenerateOptions.defaults().withMaxTokens(24);
        assertEquals(reference.generate("Once upon a time", options, t -> {}).text(), got.get(0).getString(2));
        assertEquals(reference.generate("The little dog", options, t -> {}).text(), got.get(4).getString(2));
        assertTrue(got.get(1).isNullAt(2) && got.get(1).getString(3).contains("null"), got.get(1).toString());
        assertTrue(got.get(2).isNullAt(2) && got.get(2).getString(3).contains("empty"), got.get(2).toString());
        assertTrue(got.get(3).isNullAt(2) && got.get(3).getString(3).contains("context"), got.get(3).toString());
    }

    @Test
    void aModelShippedWithAddFileIsFoundInSparkFiles() {
        // What spark-submit --files does on a cluster: the executors fetch the file into their SparkFiles folder, and
        // a relative modelPath names it there.
        LocalSpark.session().sparkContext().addFile(TestModels.storiesGguf().toString());
        String name = TestModels.storiesGguf().getFileName().toString();
        Row row = generator().setModelPath(name).transform(frame(List.of(OPENINGS[1]), 1)).collectAsList().getFirst();
        assertTrue(row.isNullAt(3), String.valueOf(row.get(3)));
        assertEquals(reference.generate(OPENINGS[1], GenerateOptions.defaults().withMaxTokens(24), t -> {}).text(), row.getString(2));
    }
}
