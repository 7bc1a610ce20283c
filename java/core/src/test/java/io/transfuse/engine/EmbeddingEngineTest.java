package io.transfuse.engine;

import io.transfuse.EmbeddingModel;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.TransfuseException;
import io.transfuse.model.bert.RandomEncoder;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Concurrent embed callers through {@link EmbeddingEngine} get the vectors {@link EmbeddingModel#embed} gives
 * each text alone (a random BERT), whatever batch their texts were joined into; too-long texts are truncated or
 * rejected as configured.
 */
class EmbeddingEngineTest {
    @TempDir
    Path dir;

    @Test
    void concurrentCallersGetTheirOwnEmbeddings() throws Exception {
        Path m = RandomEncoder.bert(32, 2, 4, 64, 40).write(dir.resolve("bert"), 5, DType.F32);
        try (EmbeddingModel model = Transfuse.loadEncoder(m, LoadOptions.defaults());
             EmbeddingEngine engine = EmbeddingEngine.start(model, 64, true)) {
            List<List<String>> requests = new ArrayList<>();
            for (int i = 0; i < 32; i++) {
                List<String> texts = new ArrayList<>();
                for (int k = 0; k <= i % 3; k++) texts.add("text " + i + " part " + k + " " + "word ".repeat(i % 7));
                requests.add(texts);
            }
            List<CompletableFuture<float[][]>> futures = new ArrayList<>();
            try (var callers = Executors.newVirtualThreadPerTaskExecutor()) {
                List<java.util.concurrent.Future<CompletableFuture<float[][]>>> f = new ArrayList<>();
                for (List<String> r : requests) f.add(callers.submit(() -> engine.embed(r)));
                for (var x : f) futures.add(x.get());
            }
            for (int i = 0; i < requests.size(); i++) {
                float[][] got = futures.get(i).join();
                assertEquals(requests.get(i).size(), got.length);
                for (int k = 0; k < got.length; k++) {
                    float[] alone = model.embed(requests.get(i).get(k));
                    assertArrayEquals(alone, got[k], 1e-5f, "request " + i + " text " + k);
                }
            }
            String longText = "word ".repeat(100);
            assertEquals(model.embed(longText).length, engine.embed(List.of(longText)).join()[0].length);
        }
        try (EmbeddingModel model = Transfuse.loadEncoder(m, LoadOptions.defaults());
             EmbeddingEngine strict = EmbeddingEngine.start(model, 64, false)) {
            TransfuseException e = assertThrows(TransfuseException.class, () -> strict.embed(List.of("ok", "word ".repeat(100))));
            assertEquals(true, e.getMessage().startsWith("text 1 is "), e.getMessage());
        }
    }
}
