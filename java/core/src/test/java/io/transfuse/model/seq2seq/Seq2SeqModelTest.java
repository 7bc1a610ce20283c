package io.transfuse.model.seq2seq;

import io.transfuse.Device;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;

/**
 * T5 (ReLU and gated-GELU), BART and Marian on the CPU against the float64 torch reference of {@link Seq2SeqFixture}:
 * encoder outputs and every greedy step's logits (alone, batched, forked rows) and the greedy output.
 *
 * <p>Tolerance 2e-4 absolute on logits of O(1-10): F32 throughout (the CPU's F16 KV cache is not used by this graph),
 * errors ~1e-5 measured. A wrong bucket, position, norm or residual moves logits by O(0.1) or more.
 */
class Seq2SeqModelTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"t5-tiny", "t5-gated-tiny", "bart-tiny", "marian-tiny"})
    void cpuMatchesTorchReference(String name) {
        double worst = Seq2SeqFixture.check(Seq2SeqFixture.copyModel(name, dir), name, Device.CPU, 2e-4, 0);
        System.out.printf("%s on cpu: worst error %.2e of the largest logit to the torch reference%n", name, worst);
    }
}
