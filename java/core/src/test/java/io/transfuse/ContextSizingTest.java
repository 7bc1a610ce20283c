package io.transfuse;

import io.transfuse.internal.Internals;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.transfuse.backend.cpu.HostMemory;
import io.transfuse.loader.RandomMambaModel;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The context and the KV cache are sized from a default (4096 positions, llama.cpp's) or the caller's request, not
 * from the model's stated maximum, and the bytes are checked before anything is allocated: a Llama-3.1-style config
 * (max_position_embeddings 131072) no longer plans 16 sequences of 131072 positions, and a request that does not fit
 * fails saying how many bytes were needed, how many are available and what to pass.
 */
class ContextSizingTest {
    @TempDir Path dir;

    @AfterEach
    void clearLimit() {
        System.clearProperty(HostMemory.LIMIT_PROPERTY);
    }

    /** stories260K's weights under a config that states 131072 positions (as Llama 3.1's does). */
    private Path llama31Style() throws IOException {
        Path out = dir.resolve("long");
        Files.createDirectories(out);
        try (var files = Files.list(TestModels.storiesHf())) {
            for (Path f : files.toList()) Files.copy(f, out.resolve(f.getFileName()));
        }
        ObjectMapper json = new ObjectMapper();
        ObjectNode c = (ObjectNode) json.readTree(out.resolve("config.json").toFile());
        c.put("max_position_embeddings", 131072);
        Files.writeString(out.resolve("config.json"), json.writeValueAsString(c));
        return out;
    }

    @Test
    void defaultContextIs4096NotTheModelsMaximum() throws IOException {
        Path m = llama31Style();
        try (LanguageModel lm = Transfuse.load(m, LoadOptions.defaults().withThreads(1))) {
            assertEquals(LoadOptions.DEFAULT_CONTEXT, lm.contextLength());
            assertEquals(4096, lm.contextLength());
            assertEquals(16 * 4096 / 16, Internals.decoder(lm).blockPool().blocks(), "the pool: 16 sequences of 4096 positions");
            try (Session s = lm.newSession()) {
                assertEquals(4096, s.capacity());
            }
        }
        try (LanguageModel lm = Transfuse.load(m, LoadOptions.defaults().withThreads(1).withContextLength(8192).withMaxSequences(2))) {
            assertEquals(8192, lm.contextLength(), "the caller's request");
            assertEquals(2 * 8192 / 16, Internals.decoder(lm).blockPool().blocks());
        }
        try (LanguageModel lm = Transfuse.load(TestModels.storiesGguf(), LoadOptions.defaults().withThreads(1))) {
            assertEquals(512, lm.contextLength(), "a model whose maximum is below the default keeps its maximum");
        }
    }

    @Test
    void aCacheThatDoesNotFitSaysTheBytesAndWhatToPass() throws IOException {
        Path m = llama31Style();
        System.setProperty(HostMemory.LIMIT_PROPERTY, "64m");
        // 16 x 131072 positions x 5 layers x K,V x 4 heads x 8 dims x F16 = 1.34 GB, far beyond 64 MiB
        TransfuseException e = assertThrows(TransfuseException.class,
                () -> Transfuse.load(m, LoadOptions.defaults().withThreads(1).withContextLength(131072)));
        String msg = e.getMessage();
        long needed = 16L * 131072 * 5 * 2 * 4 * 8 * 2;
        assertTrue(msg.contains(m.resolve("config.json").toString()) || msg.contains(m.toString()), msg);
        assertTrue(msg.contains("KV cache (16 sequences x 131072 positions") && msg.contains("needs " + needed + " bytes"), msg);
        assertTrue(msg.contains((64L << 20) + " bytes") && msg.contains("available to the cpu backend"), msg);
        assertTrue(msg.contains("--context N") && msg.contains("withContextLength") && msg.contains("withMaxSequences"), msg);
        // The default context fits the same budget: 16 x 4096 positions = 42 MB.
        try (LanguageModel lm = Transfuse.load(m, LoadOptions.defaults().withThreads(1))) {
            assertEquals(4096, lm.contextLength());
        }
    }

    /** Sequences x blocks beyond what a pool numbers is a clear error, not an overflow or an OutOfMemoryError. */
    @Test
    void absurdRequestsAreClearErrors() throws IOException {
        Path m = llama31Style();
        TransfuseException e = assertThrows(TransfuseException.class,
                () -> Transfuse.load(m, LoadOptions.defaults().withThreads(1).withContextLength(131072).withMaxSequences(1 << 20)));
        assertTrue(e.getMessage().contains("1048576 sequences of 131072 positions") && e.getMessage().contains("--context N"), e.getMessage());
    }

    @Test
    void mambaStateSlotsAreCheckedToo() throws IOException {
        Path mamba = dir.resolve("mamba");
        RandomMambaModel.write(mamba, RandomMambaModel.Shape.TINY, DType.F32, 1, s -> { });
        System.setProperty(HostMemory.LIMIT_PROPERTY, "1k");
        TransfuseException e = assertThrows(TransfuseException.class, () -> Transfuse.load(mamba, LoadOptions.defaults().withThreads(1)));
        assertTrue(e.getMessage().contains("Mamba state slots (16 sequences") && e.getMessage().contains("withMaxSequences")
                && e.getMessage().contains("1024 bytes"), e.getMessage());
    }

    @Test
    void theLimitPropertyIsParsed() {
        System.setProperty(HostMemory.LIMIT_PROPERTY, "lots");
        assertThrows(IllegalArgumentException.class, HostMemory::limit);
        System.setProperty(HostMemory.LIMIT_PROPERTY, "2g");
        assertEquals(Math.min(2L << 30, limitWithout()), HostMemory.limit());
    }

    private static long limitWithout() {
        String v = System.clearProperty(HostMemory.LIMIT_PROPERTY);
        long l = HostMemory.limit();
        System.setProperty(HostMemory.LIMIT_PROPERTY, v);
        return l;
    }

}
