package io.transfuse.cli;

import io.transfuse.Device;
import io.transfuse.LoadOptions;
import io.transfuse.Seq2SeqModel;
import io.transfuse.Seq2SeqOptions;
import io.transfuse.model.seq2seq.Seq2SeqFixture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * `transfuse translate` and `transfuse generate` on an encoder-decoder folder print what {@link Seq2SeqModel#generate}
 * returns (the graph itself is checked against the torch reference in core): a random-weight T5 of the vocabulary of
 * the T5-layout Unigram tokenizer of core's test resources, which is placed beside it as tokenizer.json.
 */
class TranslateCommandTest {
    @TempDir Path tmp;

    private Path model() throws IOException {
        Path dir = Seq2SeqFixture.copyModel("t5-tokenizer", tmp);
        try (InputStream in = new GZIPInputStream(Seq2SeqFixture.class.getResourceAsStream("/tokenizers/spm-t5-unigram-tokenizer.json.gz"))) {
            Files.copy(in, dir.resolve("tokenizer.json"));
        }
        return dir;
    }

    @Test
    void translatePrintsTheApiOutputOfEachText() throws IOException {
        Path dir = model();
        List<String> texts = List.of("translate English to German: The house is wonderful.", "summarize: a short text");
        MainTest.Run r = MainTest.run("translate", "--model", dir.toString(), "--device", "cpu", "--max-tokens", "6", texts.get(0), texts.get(1));
        assertEquals(0, r.code(), r.err());
        List<String> want;
        try (Seq2SeqModel m = Seq2SeqModel.load(dir, LoadOptions.defaults().withDevice(Device.CPU))) {
            want = texts.stream().map(t -> m.generate(t, new Seq2SeqOptions(6))).toList();
        }
        assertFalse(want.get(0).isBlank(), "random weights still produce tokens");
        assertEquals(want.get(0) + "\n" + want.get(1) + "\n", r.out());
        assertTrue(r.err().contains("tokens/s"), r.err());
        MainTest.Run g = MainTest.run("generate", "--model", dir.toString(), "--device", "cpu", "--max-tokens", "6", texts.get(0));
        assertEquals(0, g.code(), g.err());
        assertEquals(want.get(0) + "\n", g.out());
    }

    @Test
    void beamsOptionPrintsTheApiBeamSearchOutput() throws IOException {
        Path dir = model();
        List<String> texts = List.of("translate English to German: The house is wonderful.", "summarize: a short text");
        MainTest.Run r = MainTest.run("translate", "--model", dir.toString(), "--device", "cpu", "--max-tokens", "6", "--beams", "3",
                texts.get(0), texts.get(1));
        assertEquals(0, r.code(), r.err());
        List<String> want;
        try (Seq2SeqModel m = Seq2SeqModel.load(dir, LoadOptions.defaults().withDevice(Device.CPU).withMaxSequences(6))) {
            want = m.generate(texts, new Seq2SeqOptions(6, 3));
        }
        assertEquals(want.get(0) + "\n" + want.get(1) + "\n", r.out());
        MainTest.Run bad = MainTest.run("translate", "--model", dir.toString(), "--device", "cpu", "--beams", "0", "hello");
        assertEquals(2, bad.code(), "a bad argument is a usage error");
        assertTrue(bad.err().contains("--beams must be >= 1"), bad.err());
    }

    @Test
    void aModelWithoutTokenizerIsNamed() {
        Path dir = Seq2SeqFixture.copyModel("t5-tiny", tmp);
        MainTest.Run r = MainTest.run("translate", "--model", dir.toString(), "--device", "cpu", "hello");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("no tokenizer.json"), r.err());
    }
}
