package io.transfuse.langchain4j;

import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.EmbeddingModel;
import dev.langchain4j.model.output.Response;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.engine.EmbeddingEngine;
import io.transfuse.model.bert.RandomEncoder;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.*;

/**
 * TransfuseEmbeddingModel through langchain4j's EmbeddingModel API on a tiny random BERT (core's RandomEncoder
 * fixture, with the real MiniLM tokenizer), against Transfuse's own EmbeddingModel.embed on a separately loaded copy.
 */
class TransfuseEmbeddingModelTest {
    static final List<String> TEXTS = List.of("Hello world", "The quick brown fox jumps over the lazy dog.",
            "Café naïve résumé — 你好世界", "a", "word ".repeat(80) + "long text truncated at the position table");

    @TempDir
    static Path dir;
    static io.transfuse.EmbeddingModel reference;
    static float[][] want;

    @BeforeAll
    static void write() {
        RandomEncoder.bert(32, 2, 4, 64, 40).write(dir, 7, DType.F32);
        reference = Transfuse.loadEncoder(dir, LoadOptions.defaults());
        want = reference.embed(TEXTS);
    }

    @AfterAll
    static void close() {
        reference.close();
    }

    static void assertClose(float[] want, float[] got, String what) {
        assertEquals(want.length, got.length, what);
        for (int d = 0; d < want.length; d++) assertEquals(want[d], got[d], 1e-5f, what + " dim " + d);
    }

    @Test
    void embedAllEqualsTransfuseEmbed() {
        try (TransfuseEmbeddingModel owned = TransfuseEmbeddingModel.builder().modelPath(dir).build()) {
            EmbeddingModel m = owned;
            Response<List<Embedding>> r = m.embedAll(TEXTS.stream().map(TextSegment::from).toList());
            assertEquals(TEXTS.size(), r.content().size());
            for (int i = 0; i < TEXTS.size(); i++) assertClose(want[i], r.content().get(i).vector(), "text " + i);
            int tokens = 0;
            for (String t : TEXTS) tokens += Math.min(reference.countTokens(t), reference.maxTokens());
            assertEquals(tokens, r.tokenUsage().inputTokenCount());
            assertEquals(32, m.dimension());
            assertClose(want[1], m.embed(TEXTS.get(1)).content().vector(), "embed(String)");
            assertEquals(dir.getFileName().toString(), m.modelName());
        }
    }

    @Test
    void concurrentCallersOnASharedEngine() throws Exception {
        try (io.transfuse.EmbeddingModel encoder = Transfuse.loadEncoder(dir, LoadOptions.defaults());
             EmbeddingEngine engine = EmbeddingEngine.start(encoder, 16, true);
             TransfuseEmbeddingModel m = TransfuseEmbeddingModel.builder().engine(engine).build()) {
            ExecutorService pool = Executors.newFixedThreadPool(8);
            try {
                List<Future<Response<List<Embedding>>>> calls = new ArrayList<>();
                for (int c = 0; c < 16; c++) {
                    List<TextSegment> mine = List.of(TextSegment.from(TEXTS.get(c % TEXTS.size())), TextSegment.from(TEXTS.get((c + 1) % TEXTS.size())));
                    calls.add(pool.submit(() -> m.embedAll(mine)));
                }
                for (int c = 0; c < 16; c++) {
                    List<Embedding> got = calls.get(c).get().content();
                    assertClose(want[c % TEXTS.size()], got.get(0).vector(), "caller " + c + " text 0");
                    assertClose(want[(c + 1) % TEXTS.size()], got.get(1).vector(), "caller " + c + " text 1");
                }
            } finally {
                pool.shutdown();
            }
        }
    }

    @Test
    void tooLongTextIsRefusedWithoutTruncation() {
        try (TransfuseEmbeddingModel m = TransfuseEmbeddingModel.builder().modelPath(dir).truncate(false).build()) {
            var e = assertThrows(RuntimeException.class, () -> m.embedAll(List.of(TextSegment.from("ok"), TextSegment.from(TEXTS.get(4)))));
            assertTrue(e.getMessage().contains("text 1"), e.getMessage());
        }
    }
}
