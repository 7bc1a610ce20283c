package io.transfuse.cuda;

import java.nio.file.Path;

/** The bundled stories260K model (dim 64, 8 heads of 8, 4 KV heads, 5 layers, vocab 512). */
final class TestModel {
    private TestModel() {}

    static Path stories260K() {
        return Path.of(System.getProperty("transfuse.root", "../..")).resolve("models/stories260K");
    }
}
