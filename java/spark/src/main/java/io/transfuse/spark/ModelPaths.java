package io.transfuse.spark;

import org.apache.spark.SparkFiles;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds a model on an executor. An absolute path is taken as it is (a file system every executor mounts); a
 * relative one is looked up in the task's working directory (where {@code --archives model.zip#name} unpacks
 * on YARN and Kubernetes) and then in {@link SparkFiles#getRootDirectory()} (where {@code --files} and
 * {@code SparkContext.addFile} put files on every node, local mode included).
 */
final class ModelPaths {
    private ModelPaths() {}

    static Path resolve(String given) {
        Path p = Path.of(given);
        if (p.isAbsolute()) {
            if (!Files.exists(p)) throw new IllegalArgumentException("modelPath " + given + " does not exist on this executor");
            return p;
        }
        List<Path> tried = new ArrayList<>();
        tried.add(p.toAbsolutePath());
        if (Files.exists(p)) return p.toAbsolutePath();
        String root = sparkFilesRoot();
        if (root != null) {
            Path shipped = Path.of(root).resolve(given);
            tried.add(shipped);
            if (Files.exists(shipped)) return shipped;
        }
        throw new IllegalArgumentException("modelPath " + given + " was not found on this executor (looked at " + tried
                + "): give an absolute path every executor can read, or ship the model with spark-submit --files"
                + " (a file) or --archives (a zipped directory)");
    }

    /** SparkFiles' folder, or null outside a running Spark application. */
    private static String sparkFilesRoot() {
        try {
            return SparkFiles.getRootDirectory();
        } catch (RuntimeException e) {
            return null;
        }
    }
}
