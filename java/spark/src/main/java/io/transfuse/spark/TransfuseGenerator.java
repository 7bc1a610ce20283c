package io.transfuse.spark;

import io.transfuse.Device;
import io.transfuse.GenerateOptions;
import io.transfuse.LanguageModel;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.engine.Engine;
import io.transfuse.engine.EngineOptions;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.param.StringArrayParam;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.Identifiable;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import java.io.Serializable;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Prompt column to generated-text column with a language model (GGUF file or Hugging Face directory: Llama
 * family, GPT-2, Mamba). Each executor JVM loads the model once and runs one continuous-batching
 * {@link Engine} on it; every task keeps up to {@code maxSequences} of its rows in the engine at once, so the
 * rows of all the executor's tasks share each forward pass. Greedy by default ({@code temperature} 0: the same
 * text as {@link LanguageModel#generate}); with a temperature every row samples with the same {@code seed}.
 * A null or blank prompt, or one that leaves no room in the context, gives null and the reason.
 */
public final class TransfuseGenerator extends TransfuseTransformer<TransfuseGenerator> {
    private final IntParam maxTokens, topK, maxSequences, contextLength;
    private final DoubleParam temperature, topP, minP, repetitionPenalty, frequencyPenalty, presencePenalty;
    private final LongParam seed;
    private final StringArrayParam stop;

    public TransfuseGenerator() {
        this(Identifiable.randomUID("transfuseGenerator"));
    }

    public TransfuseGenerator(String uid) {
        super(uid, "prompt", "generated", 0);
        maxTokens = new IntParam(this, "maxTokens", "new tokens per row at most", ParamValidators.gtEq(0));
        temperature = new DoubleParam(this, "temperature", "0 = greedy; otherwise the logits are divided by it", ParamValidators.gtEq(0));
        topK = new IntParam(this, "topK", "keep only the k most likely tokens (0 = no limit)", ParamValidators.gtEq(0));
        topP = new DoubleParam(this, "topP", "nucleus sampling: keep the most likely tokens up to this probability (1 = off)",
                ParamValidators.inRange(0, 1, false, true));
        minP = new DoubleParam(this, "minP", "keep tokens at least this fraction as likely as the best (0 = off)", ParamValidators.inRange(0, 1));
        repetitionPenalty = new DoubleParam(this, "repetitionPenalty", "CTRL repetition penalty (1 = off)", ParamValidators.gt(0));
        frequencyPenalty = new DoubleParam(this, "frequencyPenalty", "OpenAI frequency penalty (0 = off)");
        presencePenalty = new DoubleParam(this, "presencePenalty", "OpenAI presence penalty (0 = off)");
        seed = new LongParam(this, "seed", "seed of the sampler (every row uses it)");
        stop = new StringArrayParam(this, "stop", "strings that end a row's generation (left out of the text)");
        maxSequences = new IntParam(this, "maxSequences", "rows generated at once per executor JVM (the model's KV cache is sized for them)",
                ParamValidators.gtEq(1));
        contextLength = new IntParam(this, "contextLength", "tokens of context per row, prompt included (0 = 4096 or the model's maximum)",
                ParamValidators.gtEq(0));
        setDefault(maxTokens, 128);
        setDefault(temperature, 0.0);
        setDefault(topK, 0);
        setDefault(topP, 1.0);
        setDefault(minP, 0.0);
        setDefault(repetitionPenalty, 1.0);
        setDefault(frequencyPenalty, 0.0);
        setDefault(presencePenalty, 0.0);
        setDefault(seed, 0L);
        setDefault(stop, new String[0]);
        setDefault(maxSequences, 16);
        setDefault(contextLength, 0);
    }

    public IntParam maxTokens() { return maxTokens; }

    public DoubleParam temperature() { return temperature; }

    public IntParam topK() { return topK; }

    public DoubleParam topP() { return topP; }

    public DoubleParam minP() { return minP; }

    public DoubleParam repetitionPenalty() { return repetitionPenalty; }

    public DoubleParam frequencyPenalty() { return frequencyPenalty; }

    public DoubleParam presencePenalty() { return presencePenalty; }

    public LongParam seed() { return seed; }

    public StringArrayParam stop() { return stop; }

    public IntParam maxSequences() { return maxSequences; }

    public IntParam contextLength() { return contextLength; }

    public TransfuseGenerator setMaxTokens(int n) { set(maxTokens, n); return this; }

    public TransfuseGenerator setTemperature(double t) { set(temperature, t); return this; }

    public TransfuseGenerator setTopK(int k) { set(topK, k); return this; }

    public TransfuseGenerator setTopP(double p) { set(topP, p); return this; }

    public TransfuseGenerator setMinP(double p) { set(minP, p); return this; }

    public TransfuseGenerator setRepetitionPenalty(double p) { set(repetitionPenalty, p); return this; }

    public TransfuseGenerator setFrequencyPenalty(double p) { set(frequencyPenalty, p); return this; }

    public TransfuseGenerator setPresencePenalty(double p) { set(presencePenalty, p); return this; }

    public TransfuseGenerator setSeed(long s) { set(seed, s); return this; }

    public TransfuseGenerator setStop(String... strings) { set(stop, strings); return this; }

    public TransfuseGenerator setMaxSequences(int n) { set(maxSequences, n); return this; }

    public TransfuseGenerator setContextLength(int n) { set(contextLength, n); return this; }

    public int getMaxTokens() { return (Integer) getOrDefault(maxTokens); }

    public int getMaxSequences() { return (Integer) getOrDefault(maxSequences); }

    public int getContextLength() { return (Integer) getOrDefault(contextLength); }

    public static MLReader<TransfuseGenerator> read() { return new DefaultParamsReader<>(); }

    public static TransfuseGenerator load(String path) { return read().load(path); }

    /**
     * The options every row is generated with; checked here, on the driver, so that a bad value fails before any task.
     *
     * @return the options
     */
    public GenerateOptions generateOptions() {
        return sampling().toOptions();
    }

    private Sampling sampling() {
        Sampling s = new Sampling(getMaxTokens(), (Double) getOrDefault(temperature), (Integer) getOrDefault(topK),
                (Double) getOrDefault(topP), (Double) getOrDefault(minP), (Double) getOrDefault(repetitionPenalty),
                (Double) getOrDefault(frequencyPenalty), (Double) getOrDefault(presencePenalty), (Long) getOrDefault(seed),
                getOrDefault(stop));
        s.toOptions(); // an out-of-range value fails here, naming the field
        return s;
    }

    @Override
    protected DataType[] inputTypes() { return new DataType[] {DataTypes.StringType}; }

    @Override
    protected DataType outputType() { return DataTypes.StringType; }

    @Override
    protected PartitionRunner runner(StructType inputSchema) {
        int sequences = getMaxSequences(), context = getContextLength(), passTokens = getMaxBatchTokens();
        ModelKey key = modelKey(ModelKey.Kind.GENERATOR, "maxSequences=" + sequences + ", contextLength=" + context
                + ", maxBatchTokens=" + passTokens);
        return new Runner(inputSchema.fieldIndex(getInputCol()), !getErrorCol().isEmpty(), getStrict(), key, sequences,
                context, passTokens, sampling());
    }

    /** The generation options as plain serializable values (they travel to the executors). */
    private record Sampling(int maxTokens, double temperature, int topK, double topP, double minP, double repetitionPenalty,
                            double frequencyPenalty, double presencePenalty, long seed, String[] stop) implements Serializable {
        GenerateOptions toOptions() {
            return GenerateOptions.builder().maxTokens(maxTokens).temperature(temperature).topK(topK).topP(topP).minP(minP)
                    .repetitionPenalty(repetitionPenalty).frequencyPenalty(frequencyPenalty).presencePenalty(presencePenalty)
                    .seed(seed).stop(stop).build();
        }
    }

    /** A loaded language model and the engine that batches every task's rows on it. */
    record Loaded(LanguageModel model, Engine engine) implements AutoCloseable {
        @Override
        public void close() {
            try {
                engine.close();
            } finally {
                model.close();
            }
        }
    }

    private static final class Runner extends PartitionRunner {
        private final ModelKey key;
        private final int maxSequences, contextLength, passTokens;
        private final Sampling sampling;

        Runner(int inputIndex, boolean errorColumn, boolean strict, ModelKey key, int maxSequences, int contextLength,
               int passTokens, Sampling sampling) {
            super(inputIndex, errorColumn, strict);
            this.key = key;
            this.maxSequences = maxSequences;
            this.contextLength = contextLength;
            this.passTokens = passTokens;
            this.sampling = sampling;
        }

        private Loaded load() {
            LoadOptions options = LoadOptions.defaults().withDevice(Device.parse(key.device())).withThreads(key.threads())
                    .withMaxSequences(maxSequences).withContextLength(contextLength);
            LanguageModel model = Transfuse.load(ModelPaths.resolve(key.path()), options);
            try {
                return new Loaded(model, Engine.start(model, EngineOptions.defaults().withMaxBatchTokens(passTokens)));
            } catch (RuntimeException e) {
                model.close();
                throw e;
            }
        }

        @Override
        Batcher open() {
            Engine engine = ExecutorModels.get(key, this::load).engine();
            GenerateOptions options = sampling.toOptions();
            return new Batcher() {
                @Override
                public int cost(Object input) throws BadRow {
                    if (input == null) throw new BadRow("the prompt is null");
                    if (((String) input).isBlank()) throw new BadRow("the prompt is empty");
                    return 1;
                }

                @Override
                public int budget() { return 1; }

                @Override
                public int maxRows() { return 1; }

                @Override
                public int window() { return maxSequences; } // keeps the engine's batch full with this task's rows

                @Override
                public CompletableFuture<List<Outcome>> submit(List<Object> inputs) {
                    return engine.generate((String) inputs.getFirst(), options, text -> {}).result()
                            .thenApply(r -> List.of(Outcome.of(r.text())));
                }
            };
        }
    }
}
