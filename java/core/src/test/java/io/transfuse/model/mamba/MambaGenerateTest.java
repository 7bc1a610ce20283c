package io.transfuse.model.mamba;

import io.transfuse.internal.Internals;
import io.transfuse.GenerateOptions;
import io.transfuse.GenerationResult;
import io.transfuse.LanguageModel;
import io.transfuse.Transfuse;
import io.transfuse.loader.RandomMambaModel;
import io.transfuse.loader.RandomMambaModel.Shape;
import io.transfuse.SamplingOptions;
import io.transfuse.tensor.DType;
import io.transfuse.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/** Transfuse.load recognises a Mamba directory; greedy generation follows the reference model's argmax. */
class MambaGenerateTest {
    @TempDir
    Path dir;

    @Test
    void fixedStateAndNoAllocationPerToken() throws java.io.IOException {
        // A sequence's state is per layer conv [dInner][dConv-1] + ssm [dInner][dState] floats, whatever its
        // length, in slots allocated at load (one per sequence the model plans for); a session takes a slot and
        // no memory; decoding allocates nothing; closing the model returns every byte.
        Shape s = Shape.TINY;
        RandomMambaModel.write(dir, s, DType.F32, 3, msg -> { });
        long before = io.transfuse.memory.TrackedArena.bytesInUse();
        LanguageModel lm = Transfuse.load(dir, io.transfuse.LoadOptions.defaults().withMaxSequences(3));
        long loaded = io.transfuse.memory.TrackedArena.bytesInUse();
        long stateBytes = (long) s.layers() * s.dInner() * ((s.dConv() - 1) + s.dState()) * Float.BYTES;
        long weights = java.nio.file.Files.size(dir.resolve("model.safetensors"));
        assertTrue(loaded - before >= weights + 3 * stateBytes, "3 state slots of " + stateBytes + " bytes besides the "
                + weights + " bytes of weights, counted " + (loaded - before));
        io.transfuse.Session session = lm.newSession();
        long withSession = io.transfuse.memory.TrackedArena.bytesInUse();
        assertEquals(loaded, withSession, "a session takes a preallocated slot");
        float[] logits = new float[lm.vocabSize()];
        session.feed(new int[] {1, 2, 3, 4, 5, 6, 7, 8}, logits);
        for (int i = 0; i < 50; i++) session.feed(new int[] {i % 200}, logits);
        assertEquals(withSession, io.transfuse.memory.TrackedArena.bytesInUse(), "native memory grew while decoding");
        lm.close();
        assertEquals(before, io.transfuse.memory.TrackedArena.bytesInUse());
    }

    @Test
    void greedyGenerationFollowsTheReference() {
        Shape s = Shape.TINY;
        RandomMambaModel.write(dir, s, DType.F32, 11, msg -> { });
        String prompt = "the weather in the south";
        int max = 24;
        try (LanguageModel lm = Transfuse.load(dir)) {
            assertInstanceOf(MambaModel.class, Internals.decoder(lm));
            assertEquals(s.vocabRows(), lm.vocabSize());
            Tokenizer tok = lm.tokenizer();
            assertEquals(s.vocab(), tok.vocabularySize());
            int[] promptIds = tok.encode(prompt, true);
            assertTrue(promptIds.length < prompt.length(), "the merges should shorten the prompt: " + Arrays.toString(promptIds));

            // the reference: same prompt ids, argmax over every row (as the greedy sampler does), stop at eos
            MambaReference ref = new MambaReference(s, DType.F32, 11);
            double[] logits = null;
            for (int t : promptIds) logits = ref.step(t);
            int[] expected = new int[max];
            int n = 0;
            while (n < max) {
                int next = MambaReference.argmax(logits, ref.vocabRows());
                if (next == tok.eos()) break;
                expected[n++] = next;
                if (n < max) logits = ref.step(next);
            }
            expected = Arrays.copyOf(expected, n);

            StringBuilder streamed = new StringBuilder();
            GenerationResult r = lm.generate(prompt, new GenerateOptions(max, SamplingOptions.greedy()), streamed::append);
            int[] generated = Arrays.copyOfRange(r.tokens(), promptIds.length, r.tokens().length);
            assertArrayEquals(expected, generated);
            assertTrue(n >= 5, "too short a comparison: " + n + " tokens");
            ByteArrayOutputStream text = new ByteArrayOutputStream();
            int previous = promptIds[promptIds.length - 1];
            for (int id : generated) {
                text.writeBytes(tok.decode(previous, id));
                previous = id;
            }
            assertEquals(text.toString(StandardCharsets.UTF_8), r.text());
            assertEquals(r.text(), streamed.toString());
        }
    }
}
