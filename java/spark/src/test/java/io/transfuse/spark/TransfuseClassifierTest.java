package io.transfuse.spark;

import io.transfuse.ImageClassifier;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.loader.RandomVitModel;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * TransfuseClassifier on local[2] with a tiny random ViT (core's RandomVitModel): top-k labels of image files
 * and of image bytes equal ImageClassifier.classify on a separately loaded copy; unreadable images give null
 * and the reason.
 */
class TransfuseClassifierTest {
    @TempDir
    static Path dir;
    static Path model;
    static ImageClassifier reference;
    static List<Path> images = new ArrayList<>();

    @BeforeAll
    static void write() throws IOException {
        model = RandomVitModel.tiny().write(dir.resolve("vit"));
        reference = Transfuse.loadClassifier(model, LoadOptions.defaults().withThreads(2));
        Random r = new Random(3);
        for (int i = 0; i < 6; i++) {
            BufferedImage image = new BufferedImage(20 + 7 * i, 30 + 3 * i, BufferedImage.TYPE_INT_RGB);
            for (int y = 0; y < image.getHeight(); y++) for (int x = 0; x < image.getWidth(); x++) image.setRGB(x, y, r.nextInt(1 << 24));
            Path p = dir.resolve("image" + i + ".png");
            ImageIO.write(image, "png", p.toFile());
            images.add(p);
        }
    }

    @AfterAll
    static void close() {
        reference.close();
    }

    static void assertSame(List<ImageClassifier.Prediction> want, List<Row> got, String what) {
        assertEquals(want.size(), got.size(), what);
        for (int k = 0; k < want.size(); k++) {
            assertEquals(want.get(k).index(), got.get(k).getInt(0), what + " rank " + k);
            assertEquals(want.get(k).label(), got.get(k).getString(1), what + " rank " + k);
            assertEquals(want.get(k).probability(), got.get(k).getDouble(2), 1e-6, what + " rank " + k);
        }
    }

    @Test
    void pathsAndBytesGiveTheClassifiersTopLabels() throws IOException {
        StructType paths = new StructType().add("image", DataTypes.StringType);
        StructType bytes = new StructType().add("content", DataTypes.BinaryType);
        List<Row> pathRows = new ArrayList<>(), byteRows = new ArrayList<>();
        for (Path p : images) {
            pathRows.add(RowFactory.create(p.toString()));
            byteRows.add(RowFactory.create((Object) Files.readAllBytes(p)));
        }
        TransfuseClassifier classifier = new TransfuseClassifier().setModelPath(model.toString()).setThreads(2).setTopK(3);
        List<Row> byPath = classifier.transform(LocalSpark.frame(pathRows, paths, 2)).collectAsList();
        List<Row> byBytes = classifier.copy(new org.apache.spark.ml.param.ParamMap()).setInputCol("content")
                .transform(LocalSpark.frame(byteRows, bytes, 2)).collectAsList();
        for (int i = 0; i < images.size(); i++) {
            List<ImageClassifier.Prediction> want = reference.classify(images.get(i), 3);
            assertSame(want, byPath.get(i).getList(1), "image " + i + " by path");
            assertSame(want, byBytes.get(i).getList(1), "image " + i + " by bytes");
        }
    }

    @Test
    void unreadableImagesGiveNullAndTheReason() throws IOException {
        Path notAnImage = Files.writeString(dir.resolve("notes.png"), "not a picture");
        StructType paths = new StructType().add("image", DataTypes.StringType);
        List<Row> rows = List.of(RowFactory.create(images.getFirst().toString()), RowFactory.create(notAnImage.toString()),
                RowFactory.create(dir.resolve("missing.png").toString()), RowFactory.create((Object) null));
        List<Row> got = new TransfuseClassifier().setModelPath(model.toString()).setThreads(2).setTopK(2)
                .transform(LocalSpark.frame(rows, paths, 1)).collectAsList();
        assertSame(reference.classify(images.getFirst(), 2), got.get(0).getList(1), "good image");
        for (int i = 1; i < 4; i++) assertTrue(got.get(i).isNullAt(1) && !got.get(i).isNullAt(2), got.get(i).toString());
        assertTrue(got.get(1).getString(2).startsWith(notAnImage.toString()), got.get(1).getString(2));
        assertTrue(got.get(2).getString(2).contains("missing.png"), got.get(2).getString(2));

        StructType bytes = new StructType().add("content", DataTypes.BinaryType);
        List<Row> junk = new TransfuseClassifier().setModelPath(model.toString()).setThreads(2).setInputCol("content")
                .transform(LocalSpark.frame(List.of(RowFactory.create((Object) new byte[] {1, 2, 3})), bytes, 1)).collectAsList();
        assertTrue(junk.getFirst().getString(2).contains("not an image"), junk.getFirst().toString());
    }
}
