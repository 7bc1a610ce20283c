package io.transfuse.spark;

import io.transfuse.Device;
import io.transfuse.ImageClassifier;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.Identifiable;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Image column to its top-k labels with an image classifier (ViT, DeiT, Swin: a Hugging Face directory). The
 * input is a path (string; a file every executor can read) or the image's bytes (binary: e.g. the
 * {@code content} column of {@code spark.read.format("binaryFile")}); the output is
 * {@code array<struct<index:int, label:string, probability:double>>}, most probable first. Each executor JVM
 * loads the model once; its tasks classify one image at a time on it. An unreadable image gives null and the reason.
 */
public final class TransfuseClassifier extends TransfuseTransformer<TransfuseClassifier> {
    /** The type of one prediction in the output array. */
    public static final StructType PREDICTION = new StructType().add("index", DataTypes.IntegerType, false)
            .add("label", DataTypes.StringType, false).add("probability", DataTypes.DoubleType, false);

    private final IntParam topK;

    public TransfuseClassifier() {
        this(Identifiable.randomUID("transfuseClassifier"));
    }

    public TransfuseClassifier(String uid) {
        super(uid, "image", "labels", 1);
        topK = new IntParam(this, "topK", "most probable labels per image", ParamValidators.gtEq(1));
        setDefault(topK, 5);
    }

    public IntParam topK() { return topK; }

    public int getTopK() { return (Integer) getOrDefault(topK); }

    public TransfuseClassifier setTopK(int k) { set(topK, k); return this; }

    public static MLReader<TransfuseClassifier> read() { return new DefaultParamsReader<>(); }

    public static TransfuseClassifier load(String path) { return read().load(path); }

    @Override
    protected DataType[] inputTypes() { return new DataType[] {DataTypes.StringType, DataTypes.BinaryType}; }

    @Override
    protected DataType outputType() { return DataTypes.createArrayType(PREDICTION, false); }

    @Override
    protected PartitionRunner runner(StructType inputSchema) {
        return new Runner(inputSchema.fieldIndex(getInputCol()), !getErrorCol().isEmpty(), getStrict(),
                modelKey(ModelKey.Kind.CLASSIFIER, ""), getTopK());
    }

    private static final class Runner extends PartitionRunner {
        private final ModelKey key;
        private final int topK;

        Runner(int inputIndex, boolean errorColumn, boolean strict, ModelKey key, int topK) {
            super(inputIndex, errorColumn, strict);
            this.key = key;
            this.topK = topK;
        }

        private ImageClassifier load() {
            LoadOptions options = LoadOptions.defaults().withDevice(Device.parse(key.device())).withThreads(key.threads());
            return Transfuse.loadClassifier(ModelPaths.resolve(key.path()), options);
        }

        @Override
        Batcher open() {
            ImageClassifier classifier = ExecutorModels.get(key, this::load);
            return new Batcher() {
                @Override
                public int cost(Object input) throws BadRow {
                    if (input == null) throw new BadRow("the image is null");
                    if (input instanceof String s && s.isBlank()) throw new BadRow("the image path is empty");
                    if (input instanceof byte[] b && b.length == 0) throw new BadRow("the image has no bytes");
                    return 1;
                }

                @Override
                public int budget() { return 1; }

                @Override
                public int maxRows() { return 1; }

                @Override
                public int window() { return 1; } // the classifier runs one image at a time: nothing to overlap

                @Override
                public CompletableFuture<List<Outcome>> submit(List<Object> inputs) {
                    return CompletableFuture.completedFuture(List.of(classify(classifier, inputs.getFirst(), topK)));
                }
            };
        }

        private static Outcome classify(ImageClassifier classifier, Object input, int topK) {
            try {
                List<ImageClassifier.Prediction> top;
                if (input instanceof byte[] bytes) {
                    BufferedImage image = ImageIO.read(new ByteArrayInputStream(bytes));
                    if (image == null) return Outcome.failed("the bytes are not an image this JVM can read (" + bytes.length + " bytes)");
                    top = classifier.classify(image, topK);
                } else {
                    top = classifier.classify(Path.of((String) input), topK);
                }
                List<Row> out = new ArrayList<>(top.size());
                for (ImageClassifier.Prediction p : top) out.add(RowFactory.create(p.index(), p.label(), p.probability()));
                return Outcome.of(out.toArray(new Row[0])); // an array: the row encoder takes no java.util.List
            } catch (IOException | RuntimeException e) {
                return Outcome.failed(input instanceof String s ? s + ": " + message(e) : message(e));
            }
        }

        private static String message(Exception e) {
            return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        }
    }
}
