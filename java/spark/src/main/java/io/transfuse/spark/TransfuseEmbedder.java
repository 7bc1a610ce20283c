package io.transfuse.spark;

import io.transfuse.Device;
import io.transfuse.EmbeddingModel;
import io.transfuse.EncoderOptions;
import io.transfuse.LoadOptions;
import io.transfuse.engine.EmbeddingEngine;
import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.Identifiable;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Text column to embedding column ({@code array<float>}, or an ML {@code Vector} with {@link #setVectorOutput}),
 * with a text encoder (BERT, MiniLM, BGE, E5: a Hugging Face directory or an ONNX export with tokenizer.json).
 * Each executor JVM loads the model once; its tasks hand batches of up to {@code maxBatchTokens} tokens to one
 * {@link EmbeddingEngine}, which joins concurrent tasks' batches. A null or blank text, or (without
 * truncation) a text longer than the model takes, gives a null embedding and the reason in the error column.
 */
public final class TransfuseEmbedder extends TransfuseTransformer<TransfuseEmbedder> {
    /** Texts one engine batch holds at most (the engine joins tasks' batches up to this). */
    static final int MAX_BATCH_TEXTS = 256;

    private final BooleanParam truncate, vectorOutput;

    public TransfuseEmbedder() {
        this(Identifiable.randomUID("transfuseEmbedder"));
    }

    public TransfuseEmbedder(String uid) {
        super(uid, "text", "embedding", 4096);
        truncate = new BooleanParam(this, "truncate", "cut texts longer than the model takes (false: such a row fails)");
        vectorOutput = new BooleanParam(this, "vectorOutput", "write an ML Vector (doubles) instead of array<float>");
        setDefault(truncate, true);
        setDefault(vectorOutput, false);
    }

    public BooleanParam truncate() { return truncate; }

    public BooleanParam vectorOutput() { return vectorOutput; }

    public boolean getTruncate() { return (Boolean) getOrDefault(truncate); }

    public boolean getVectorOutput() { return (Boolean) getOrDefault(vectorOutput); }

    public TransfuseEmbedder setTruncate(boolean on) { set(truncate, on); return this; }

    public TransfuseEmbedder setVectorOutput(boolean on) { set(vectorOutput, on); return this; }

    public static MLReader<TransfuseEmbedder> read() { return new DefaultParamsReader<>(); }

    public static TransfuseEmbedder load(String path) { return read().load(path); }

    @Override
    protected DataType[] inputTypes() { return new DataType[] {DataTypes.StringType}; }

    @Override
    protected DataType outputType() {
        return getVectorOutput() ? SQLDataTypes.VectorType() : DataTypes.createArrayType(DataTypes.FloatType, false);
    }

    @Override
    protected PartitionRunner runner(StructType inputSchema) {
        return new Runner(inputSchema.fieldIndex(getInputCol()), !getErrorCol().isEmpty(), getStrict(),
                modelKey(ModelKey.Kind.EMBEDDER, ""), getMaxBatchTokens(), getTruncate(), getVectorOutput());
    }

    /** Loads the encoder and starts its engine (on the executor, once per JVM and key). */
    static EmbeddingEngine load(ModelKey key) {
        LoadOptions load = LoadOptions.defaults().withDevice(Device.parse(key.device())).withThreads(key.threads());
        return EmbeddingEngine.open(ModelPaths.resolve(key.path()), load, EncoderOptions.defaults(), MAX_BATCH_TEXTS, true);
    }

    private static final class Runner extends PartitionRunner {
        private final ModelKey key;
        private final int maxBatchTokens;
        private final boolean truncate, vector;

        Runner(int inputIndex, boolean errorColumn, boolean strict, ModelKey key, int maxBatchTokens, boolean truncate, boolean vector) {
            super(inputIndex, errorColumn, strict);
            this.key = key;
            this.maxBatchTokens = maxBatchTokens;
            this.truncate = truncate;
            this.vector = vector;
        }

        @Override
        Batcher open() {
            EmbeddingEngine engine = ExecutorModels.get(key, () -> load(key));
            EmbeddingModel model = engine.model();
            int budget = maxBatchTokens == 0 ? MAX_BATCH_TEXTS * model.maxTokens() : maxBatchTokens;
            return new Batcher() {
                @Override
                public int cost(Object input) throws BadRow {
                    if (input == null) throw new BadRow("the text is null");
                    String text = (String) input;
                    if (text.isBlank()) throw new BadRow("the text is empty");
                    int tokens = model.countTokens(text);
                    if (tokens > model.maxTokens()) {
                        if (!truncate) {
                            throw new BadRow("the text is " + tokens + " tokens; the model takes at most " + model.maxTokens()
                                    + " (setTruncate(true) cuts it instead)");
                        }
                        tokens = model.maxTokens();
                    }
                    return tokens;
                }

                @Override
                public int budget() { return budget; }

                @Override
                public int maxRows() { return MAX_BATCH_TEXTS; }

                @Override
                public int window() { return 2; } // the next batch waits in the engine while this one runs

                @Override
                public CompletableFuture<List<Outcome>> submit(List<Object> inputs) {
                    List<String> texts = new ArrayList<>(inputs.size());
                    for (Object o : inputs) texts.add((String) o);
                    return engine.embed(texts).thenApply(vectors -> {
                        List<Outcome> out = new ArrayList<>(vectors.length);
                        for (float[] v : vectors) out.add(Outcome.of(vector ? Vectors.dense(toDoubles(v)) : v));
                        return out;
                    });
                }
            };
        }

        private static double[] toDoubles(float[] v) {
            double[] d = new double[v.length];
            for (int i = 0; i < v.length; i++) d[i] = v[i];
            return d;
        }
    }
}
