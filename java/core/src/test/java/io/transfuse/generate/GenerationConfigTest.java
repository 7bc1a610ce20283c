package io.transfuse.generate;

import io.transfuse.SamplingOptions;
import io.transfuse.loader.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Reading generation_config.json / config.json in the layouts T5, BART, Marian and decoder-only checkpoints use.
 * The files are written here from the keys HF's GenerationConfig documents (none is copied from a checkpoint); the
 * expectations are HF's documented semantics and defaults.
 */
class GenerationConfigTest {
    @TempDir
    Path dir;

    private Path write(String name, String json) throws IOException {
        Files.createDirectories(dir);
        return Files.writeString(dir.resolve(name), json);
    }

    @Test
    void t5StyleStartsFromPadAndGeneratesTwentyNewTokensByDefault() throws IOException {
        write("generation_config.json", """
                {"_from_model_config": true, "decoder_start_token_id": 0, "eos_token_id": 1, "pad_token_id": 0,
                 "transformers_version": "4.27.0.dev0"}""");
        GenerationConfig c = GenerationConfigFiles.load(dir);
        assertEquals(0, c.decoderStart());
        assertEquals(List.of(1), c.eosTokenIds());
        assertEquals(0, c.padTokenId());
        assertEquals(1, c.numBeams());
        assertFalse(c.beamSearch());
        assertEquals(21, c.maxLength(1), "no max_length: the start token plus 20 new ones");
        assertEquals(0, c.minLength(1));
        assertEquals(EarlyStopping.FALSE, c.earlyStopping());
        assertEquals(SamplingOptions.greedy().temperature(), c.sampling().temperature());
        assertTrue(c.unsupported().isEmpty());
        assertTrue(c.source().endsWith("generation_config.json"));
    }

    @Test
    void bartSummarizationStyle() throws IOException {
        write("generation_config.json", """
                {"bos_token_id": 0, "decoder_start_token_id": 2, "early_stopping": true, "eos_token_id": 2,
                 "forced_bos_token_id": 0, "forced_eos_token_id": 2, "length_penalty": 2.0, "max_length": 142,
                 "min_length": 56, "no_repeat_ngram_size": 3, "num_beams": 4, "pad_token_id": 1}""");
        GenerationConfig c = GenerationConfigFiles.load(dir);
        assertEquals(2, c.decoderStart());
        assertEquals(EarlyStopping.TRUE, c.earlyStopping());
        assertEquals(0, c.forcedBosTokenId());
        assertEquals(List.of(2), c.forcedEosTokenIds());
        assertEquals(2.0, c.lengthPenalty());
        assertEquals(142, c.maxLength(1));
        assertEquals(56, c.minLength(1));
        assertEquals(3, c.noRepeatNgramSize());
        assertEquals(4, c.numBeams());
        assertTrue(c.beamSearch());
        assertEquals(1, c.numReturnSequences());
    }

    @Test
    void marianStyleFromConfigJsonWhenThereIsNoGenerationConfig() throws IOException {
        write("config.json", """
                {"architectures": ["MarianMTModel"], "model_type": "marian", "d_model": 512, "vocab_size": 58101,
                 "bad_words_ids": [[58100]], "bos_token_id": 0, "decoder_start_token_id": 58100, "eos_token_id": 0,
                 "forced_eos_token_id": 0, "max_length": 512, "max_position_embeddings": 512, "num_beams": 6,
                 "pad_token_id": 58100, "renormalize_logits": true, "scale_embedding": true}""");
        GenerationConfig c = GenerationConfigFiles.load(dir);
        assertTrue(c.source().endsWith("config.json"));
        assertEquals(List.of(List.of(58100)), c.badWordsIds());
        assertEquals(58100, c.decoderStart());
        assertEquals(6, c.numBeams());
        assertEquals(512, c.maxLength(1));
        assertTrue(c.renormalizeLogits());
        assertEquals(List.of(0), c.forcedEosTokenIds());
    }

    @Test
    void generationConfigReplacesConfigJsonWhole() throws IOException {
        write("config.json", """
                {"num_beams": 8, "max_length": 300, "eos_token_id": 2, "decoder_start_token_id": 2}""");
        write("generation_config.json", """
                {"eos_token_id": 3, "bos_token_id": 7}""");
        GenerationConfig c = GenerationConfigFiles.load(dir);
        assertEquals(1, c.numBeams(), "config.json's num_beams is not merged in (as HF from_pretrained)");
        assertEquals(List.of(3), c.eosTokenIds());
        assertEquals(7, c.decoderStart(), "no decoder_start_token_id: bos_token_id");
        assertEquals(25, c.maxLength(5));
    }

    @Test
    void configJsonFillsUnsetKeysFromTheDecoderSubConfig() throws IOException {
        write("config.json", """
                {"model_type": "encoder-decoder", "num_beams": 3, "decoder_start_token_id": null,
                 "encoder": {"eos_token_id": 99},
                 "decoder": {"decoder_start_token_id": 5, "eos_token_id": 6, "num_beams": 9}}""");
        GenerationConfig c = GenerationConfigFiles.load(dir);
        assertEquals(5, c.decoderStart());
        assertEquals(List.of(6), c.eosTokenIds());
        assertEquals(3, c.numBeams(), "set at the top level: kept");
    }

    @Test
    void decoderOnlySamplingWithSeveralEosTokens() throws IOException {
        Path f = write("generation_config.json", """
                {"bos_token_id": 128000, "do_sample": true, "eos_token_id": [128001, 128008, 128009],
                 "temperature": 0.6, "top_p": 0.9, "max_new_tokens": 64, "repetition_penalty": 1.1}""");
        GenerationConfig c = GenerationConfigFiles.read(f);
        assertEquals(List.of(128001, 128008, 128009), c.eosTokenIds());
        SamplingOptions s = c.sampling();
        assertEquals(0.6, s.temperature());
        assertEquals(50, s.topK(), "HF's top_k default applies when sampling");
        assertEquals(0.9, s.topP());
        assertEquals(1.1, s.repetitionPenalty());
        assertEquals(Integer.MAX_VALUE, s.penaltyWindow(), "HF penalizes the whole sequence");
        assertEquals(74, c.maxLength(10));
        assertEquals(64, c.generateOptions(10).maxTokens());
        assertEquals(EarlyStopping.NEVER, GenerationConfigFiles.parse(
                new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode().put("early_stopping", "never"), null, "x").earlyStopping());
    }

    @Test
    void unimplementedSettingsAreListedNotIgnored() throws IOException {
        Path f = write("generation_config.json", """
                {"num_beams": 4, "num_beam_groups": 2, "diversity_penalty": 0.5, "suppress_tokens": [],
                 "typical_p": 1.0, "some_future_key": 3}""");
        GenerationConfig c = GenerationConfigFiles.read(f);
        assertEquals(List.of("diversity_penalty = 0.5", "num_beam_groups = 2"), c.unsupported());
        var e = assertThrows(ModelFormatException.class, c::requireSupported);
        assertTrue(e.getMessage().startsWith(f.toString()) && e.getMessage().contains("num_beam_groups = 2"), e.getMessage());
    }

    @Test
    void errorsNameTheFileAndTheKey() throws IOException {
        String[][] bad = {
                {"{\"num_beams\": 0}", "'num_beams' must be >= 1, got 0"},
                {"{\"num_beams\": 2.5}", "'num_beams' must be an integer, got 2.5"},
                {"{\"early_stopping\": \"sometimes\"}", "'early_stopping' must be true, false or \"never\""},
                {"{\"eos_token_id\": \"</s>\"}", "'eos_token_id' must be an integer"},
                {"{\"eos_token_id\": [1, -3]}", "'eos_token_id' must hold token ids >= 0"},
                {"{\"bad_words_ids\": [1, 2]}", "'bad_words_ids' must be a list of lists of token ids"},
                {"{\"bad_words_ids\": [[]]}", "'bad_words_ids' must not hold an empty sequence"},
                {"{\"do_sample\": true, \"temperature\": 0}", "'temperature' must be a finite number > 0 when do_sample is true"},
                {"{\"do_sample\": \"yes\"}", "'do_sample' must be true or false"},
                {"{\"num_beams\": 4, \"num_return_sequences\": 5}", "'num_return_sequences' must be at most num_beams = 4"},
                {"{\"max_new_tokens\": 0}", "'max_new_tokens' must be a positive integer, got 0"},
                {"{\"length_penalty\": \"long\"}", "'length_penalty' must be a number"},
                {"{\"repetition_penalty\": 0}", "'repetition_penalty' must be a finite number > 0"},
                {"[1, 2]", "not a JSON object"},
                {"{\"num_beams\": ", "invalid JSON"},
        };
        for (String[] b : bad) {
            Path f = write("generation_config.json", b[0]);
            var e = assertThrows(ModelFormatException.class, () -> GenerationConfigFiles.load(dir), b[0]);
            assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
            assertTrue(e.getMessage().contains(b[1]), b[0] + " -> " + e.getMessage());
        }
        Path empty = dir.resolve("empty");
        Files.createDirectories(empty);
        var missing = assertThrows(ModelFormatException.class, () -> GenerationConfigFiles.load(empty));
        assertTrue(missing.getMessage().contains("neither generation_config.json nor config.json"), missing.getMessage());
        var noStart = assertThrows(ModelFormatException.class, () -> GenerationConfig.defaults().decoderStart());
        assertTrue(noStart.getMessage().contains("'decoder_start_token_id'"), noStart.getMessage());
    }

    @Test
    void lengthsCountTheWholeSequence() {
        GenerationConfig d = GenerationConfig.defaults();
        assertEquals(27, d.maxLength(7));
        assertEquals(30, d.toBuilder().maxLength(30).build().maxLength(7));
        assertEquals(12, d.toBuilder().maxLength(30).maxNewTokens(5).build().maxLength(7), "max_new_tokens wins");
        assertEquals(4, d.toBuilder().minLength(4).build().minLength(7));
        assertEquals(9, d.toBuilder().minLength(4).minNewTokens(2).build().minLength(7), "min_new_tokens wins");
    }
}
