package io.transfuse.spark;

import io.transfuse.Device;
import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

import java.util.Arrays;

/**
 * What the three Transfuse transformers share: the model they load on each executor (path, device, threads),
 * the input, output and error columns, the token budget of a batch, and strict mode; and the transform
 * itself, a {@code mapPartitions} that keeps every input column and appends the output and error columns.
 *
 * <p>Spark's {@code Params} finds parameters by reflection: every public no-argument method that returns a
 * {@link Param} is one (so the accessors below are methods, and nothing else public returns a Param). A
 * subclass has a public constructor taking the uid (used by {@link #copy} and by {@code load}).
 *
 * @param <T> the subclass, so that the setters chain
 */
public abstract class TransfuseTransformer<T extends TransfuseTransformer<T>> extends Transformer implements DefaultParamsWritable {
    private final String uid;
    private final Param<String> modelPath, device, inputCol, outputCol, errorCol;
    private final IntParam threads, maxBatchTokens;
    private final BooleanParam strict;

    protected TransfuseTransformer(String uid, String defaultInput, String defaultOutput, int defaultBatchTokens) {
        this.uid = uid;
        modelPath = new Param<>(this, "modelPath", "the model as every executor sees it: a local path, or the name given"
                + " to spark-submit --files/--archives (resolved through SparkFiles)");
        device = new Param<>(this, "device", "where the model runs: auto, cpu, cuda or cuda-emu", ParamValidators.inArray(
                Arrays.stream(Device.values()).map(Device::cliName).toArray(String[]::new)));
        threads = new IntParam(this, "threads", "CPU threads of the model's kernels per executor JVM (0 = one per core)",
                ParamValidators.gtEq(0));
        inputCol = new Param<>(this, "inputCol", "input column name");
        outputCol = new Param<>(this, "outputCol", "output column name");
        errorCol = new Param<>(this, "errorCol", "column for the reason a row failed (null where it did not; empty = no such column)");
        maxBatchTokens = new IntParam(this, "maxBatchTokens", "tokens per batch handed to the model (0 = the model's limit)",
                ParamValidators.gtEq(0));
        strict = new BooleanParam(this, "strict", "fail the job on the first bad row instead of writing null and the error");
        setDefault(device, "auto");
        setDefault(threads, 0);
        setDefault(inputCol, defaultInput);
        setDefault(outputCol, defaultOutput);
        setDefault(errorCol, "error");
        setDefault(maxBatchTokens, defaultBatchTokens);
        setDefault(strict, false);
    }

    @Override
    public String uid() { return uid; }

    public Param<String> modelPath() { return modelPath; }

    public Param<String> device() { return device; }

    public IntParam threads() { return threads; }

    public Param<String> inputCol() { return inputCol; }

    public Param<String> outputCol() { return outputCol; }

    public Param<String> errorCol() { return errorCol; }

    public IntParam maxBatchTokens() { return maxBatchTokens; }

    public BooleanParam strict() { return strict; }

    @SuppressWarnings("unchecked")
    protected final T self() { return (T) this; }

    /** The model every executor loads (a local path, or a name shipped with {@code --files}/{@code --archives}). */
    public T setModelPath(String path) { set(modelPath, path); return self(); }

    /** auto, cpu, cuda or cuda-emu. */
    public T setDevice(String name) { set(device, name); return self(); }

    /** CPU threads of the model's kernels per executor JVM (0 = one per core). */
    public T setThreads(int n) { set(threads, n); return self(); }

    public T setInputCol(String name) { set(inputCol, name); return self(); }

    public T setOutputCol(String name) { set(outputCol, name); return self(); }

    /** The column that names why a row failed; "" for none (a failed row then only has a null output). */
    public T setErrorCol(String name) { set(errorCol, name); return self(); }

    public T setMaxBatchTokens(int n) { set(maxBatchTokens, n); return self(); }

    /** true: the first bad row fails the task (and so the job) with its reason, instead of a null output. */
    public T setStrict(boolean on) { set(strict, on); return self(); }

    public String getModelPath() { return getOrDefault(modelPath); }

    public String getDevice() { return getOrDefault(device); }

    public int getThreads() { return (Integer) getOrDefault(threads); }

    public String getInputCol() { return getOrDefault(inputCol); }

    public String getOutputCol() { return getOrDefault(outputCol); }

    public String getErrorCol() { return getOrDefault(errorCol); }

    public int getMaxBatchTokens() { return (Integer) getOrDefault(maxBatchTokens); }

    public boolean getStrict() { return (Boolean) getOrDefault(strict); }

    /** The settings that decide which loaded model an executor uses (the subclass adds its own to {@code key}). */
    protected final ModelKey modelKey(ModelKey.Kind kind, String extra) {
        if (!isDefined(modelPath)) throw new IllegalArgumentException(uid + ": modelPath is not set (setModelPath)");
        return new ModelKey(kind, getModelPath(), getDevice(), getThreads(), extra);
    }

    /** The input column's types this transformer reads. */
    protected abstract DataType[] inputTypes();

    /** The type of the output column. */
    protected abstract DataType outputType();

    /** The work on one partition (serializable: it travels to the executors). */
    protected abstract PartitionRunner runner(StructType inputSchema);

    @Override
    public StructType transformSchema(StructType schema) {
        String in = getInputCol(), out = getOutputCol(), err = getErrorCol();
        if (!Arrays.asList(schema.fieldNames()).contains(in)) {
            throw new IllegalArgumentException(uid + ": input column '" + in + "' is not in the data (columns: "
                    + String.join(", ", schema.fieldNames()) + ")");
        }
        DataType type = schema.apply(in).dataType();
        if (Arrays.stream(inputTypes()).noneMatch(type::equals)) {
            throw new IllegalArgumentException(uid + ": input column '" + in + "' is " + type.simpleString() + "; it must be "
                    + String.join(" or ", Arrays.stream(inputTypes()).map(DataType::simpleString).toList()));
        }
        for (String name : err.isEmpty() ? new String[] {out} : new String[] {out, err}) {
            if (Arrays.asList(schema.fieldNames()).contains(name)) {
                throw new IllegalArgumentException(uid + ": output column '" + name + "' already exists in the data");
            }
        }
        if (out.equals(err)) throw new IllegalArgumentException(uid + ": outputCol and errorCol are both '" + out + "'");
        StructType result = schema.add(new StructField(out, outputType(), true, org.apache.spark.sql.types.Metadata.empty()));
        return err.isEmpty() ? result : result.add(err, DataTypes.StringType, true);
    }

    @Override
    public Dataset<Row> transform(Dataset<?> dataset) {
        StructType out = transformSchema(dataset.schema(), true);
        PartitionRunner runner = runner(dataset.schema());
        return dataset.toDF().mapPartitions(runner, Encoders.row(out));
    }

    @Override
    public T copy(ParamMap extra) {
        return defaultCopy(extra);
    }
}
