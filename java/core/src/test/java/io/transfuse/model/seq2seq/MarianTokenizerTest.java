package io.transfuse.model.seq2seq;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.transfuse.loader.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Marian's tokenizer (source.spm + target.spm + vocab.json) against SentencePiece itself: test resources
 * seq2seq/marian-spm, made by make_marian_spm_fixture.py there with Debian's spm_train / spm_encode / spm_decode (a
 * source model with the nmt_nfkc charsmap, a target model without, vocab.json ids unlike the spm ids). Encoding gives
 * spm_encode's pieces mapped through vocab.json plus </s>; decoding gives spm_decode's text.
 */
class MarianTokenizerTest {
    @TempDir
    Path dir;

    private Path folder() throws IOException {
        for (String f : new String[] {"source.spm", "target.spm", "vocab.json"}) {
            try (InputStream in = getClass().getResourceAsStream("/seq2seq/marian-spm/" + f)) {
                Files.copy(in, dir.resolve(f));
            }
        }
        return dir;
    }

    @Test
    void encodesAndDecodesAsSentencePiece() throws IOException {
        JsonNode ref;
        try (InputStream in = getClass().getResourceAsStream("/seq2seq/marian-spm/reference.json")) {
            ref = new ObjectMapper().readTree(in);
        }
        MarianTokenizer t = MarianTokenizer.forModel(folder(), 96);
        for (JsonNode c : ref.get("encode")) {
            int[] want = new int[c.get("ids").size()];
            for (int i = 0; i < want.length; i++) want[i] = c.get("ids").get(i).intValue();
            assertArrayEquals(want, t.encode(c.get("text").asText(), true), c.get("text").asText());
        }
        for (JsonNode c : ref.get("decode")) {
            int[] ids = new int[c.get("ids").size()];
            for (int i = 0; i < ids.length; i++) ids[i] = c.get("ids").get(i).intValue();
            assertEquals(c.get("text").asText(), t.decode(ids));
        }
    }

    /** A Marian model folder without tokenizer.json gets this tokenizer; text in, text out through it. */
    @Test
    void aMarianFolderTranslatesText() throws IOException {
        Path model = Seq2SeqFixture.copyModel("marian-tiny", folder().resolve("model"));
        for (String f : new String[] {"source.spm", "target.spm", "vocab.json"}) Files.copy(dir.resolve(f), model.resolve(f));
        try (Seq2SeqRunner r = Seq2SeqRunner.load(model, io.transfuse.LoadOptions.defaults().withDevice(io.transfuse.Device.CPU),
                Seq2SeqFixture.LIMITS)) {
            assertTrue(r.tokenizer() instanceof MarianTokenizer, "tokenizer " + r.tokenizer());
            String text = "The house is big.";
            int[] ids = r.generateIds(java.util.List.of(r.tokenizer().encode(text, true)), new io.transfuse.Seq2SeqOptions(6)).getFirst();
            assertEquals(r.decode(ids), r.generate(text, new io.transfuse.Seq2SeqOptions(6)));
        }
    }

    @Test
    void badFoldersAreNamed() throws IOException {
        Path d = folder();
        String msg = assertThrows(ModelFormatException.class, () -> MarianTokenizer.forModel(d, 40)).getMessage();
        assertTrue(msg.contains("vocab.json") && msg.contains("vocab_size"), msg);
        Files.writeString(d.resolve("source.spm"), "not a model");
        msg = assertThrows(ModelFormatException.class, () -> MarianTokenizer.forModel(d, 96)).getMessage();
        assertTrue(msg.contains("source.spm"), msg);
    }
}
