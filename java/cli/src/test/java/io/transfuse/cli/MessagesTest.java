package io.transfuse.cli;

import io.transfuse.model.bert.RandomEncoder;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static io.transfuse.cli.MainTest.assertOneLineError;
import static io.transfuse.cli.MainTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Messages that were stale or misleading (issue 19): each says what is true now and what to do. */
class MessagesTest {
    /** generate on a BERT directory said "supported: llama"; it is an embedding model, for transfuse embed. */
    @Test
    void generateOnAnEncoderNamesTheCommandToUse(@TempDir Path dir) {
        Path bert = RandomEncoder.bert(32, 1, 2, 64, 64).write(dir.resolve("bert"), 1, DType.F32);
        MainTest.Run r = run("generate", "--model", bert.toString(), "hello");
        assertOneLineError(r, 1, "bert model, for text embeddings, not text generation", "text generation supports: llama, gpt2, mamba",
                "transfuse embed");
        assertFalse(r.err().contains("supported: llama)"), r.err());
        assertOneLineError(run("chat", "--model", bert.toString(), "--prompt", "hi"), 1, "transfuse embed");
    }

    /** The top-level help said GPUs would come "later"; the CUDA backend is here. */
    @Test
    void topLevelHelpNamesTheDevicesThatExist() {
        MainTest.Run top = run("--help");
        assertEquals(0, top.code());
        assertTrue(top.out().contains("NVIDIA GPUs"), top.out());
        assertFalse(top.out().toLowerCase(java.util.Locale.ROOT).contains("later"), top.out());
    }
}
