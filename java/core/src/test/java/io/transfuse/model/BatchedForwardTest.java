package io.transfuse.model;

import io.transfuse.internal.Internals;
import io.transfuse.Device;
import io.transfuse.LanguageModel;
import io.transfuse.LoadOptions;
import io.transfuse.TestModels;
import io.transfuse.Transfuse;
import io.transfuse.loader.RandomGpt2Model;
import io.transfuse.loader.RandomMambaModel;
import io.transfuse.loader.RandomMamba2Model;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Many sequences per forward pass on the CPU: {@link MixedBatch}'s schedule (prefill from position 0,
 * prefill continuing a sequence and decode steps in the same pass, sequences of 1 to 20 tokens) gives
 * every sequence the logits it gets when run alone, for each decoder family.
 *
 * <p>Tolerance: batched and alone run the same F32 ops on the same rows, but a matmul over 25 rows may
 * take another kernel (register tile, packing) than over 1 row, so sums are ordered differently: a few
 * ulps per op. 1e-4 x the largest logit covers that; a token attending to another sequence's keys, a
 * wrong position or a mixed-up block table moves logits by whole units.
 */
class BatchedForwardTest {
    @TempDir
    Path dir;

    static void check(Path model, String what) {
        try (LanguageModel lm = Transfuse.load(model, LoadOptions.defaults().withDevice(Device.CPU))) {
            MixedBatch.Result r = MixedBatch.run(Internals.decoder(lm), lm.vocabSize(), 42);
            double tol = 1e-4 * Math.max(1, r.maxAbs());
            assertTrue(r.maxDiff() <= tol, what + ": batched logits differ from alone by " + r.maxDiff() + " > " + tol);
        }
    }

    @Test
    void llama() {
        check(TestModels.storiesGguf(), "stories260K");
    }

    @Test
    void gpt2() {
        Path m = dir.resolve("gpt2");
        RandomGpt2Model.writeHf(m, RandomGpt2Model.Shape.TINY, DType.F32, 3, s -> {});
        check(m, "gpt2-tiny");
    }

    @Test
    void mamba() {
        Path m = dir.resolve("mamba");
        RandomMambaModel.write(m, RandomMambaModel.Shape.TINY, DType.F32, 3, s -> {});
        check(m, "mamba-tiny");
    }

    @Test
    void mamba2() {
        Path m = dir.resolve("mamba2");
        RandomMamba2Model.write(m, RandomMamba2Model.Shape.TINY, DType.F32, 3, s -> {});
        check(m, "mamba2-tiny");
    }
}
