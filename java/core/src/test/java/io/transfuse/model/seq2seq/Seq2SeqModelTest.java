package io.transfuse.model.seq2seq;

import io.transfuse.Device;
import io.transfuse.LoadOptions;
import io.transfuse.Seq2SeqModel;
import io.transfuse.Seq2SeqOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

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

    /** The API over the runner: generateIds of all cases in one call gives the reference's greedy outputs. */
    @Test
    void apiGeneratesTheReferenceOutputs() {
        List<Seq2SeqFixture.Case> cases = Seq2SeqFixture.cases("bart-tiny");
        try (Seq2SeqModel m = Seq2SeqModel.load(Seq2SeqFixture.copyModel("bart-tiny", dir), LoadOptions.defaults().withDevice(Device.CPU))) {
            assertNull(m.tokenizer(), "the fixture has no tokenizer.json");
            List<int[]> got = m.generateIds(cases.stream().map(Seq2SeqFixture.Case::source).toList(), new Seq2SeqOptions(8));
            for (int k = 0; k < cases.size(); k++) assertArrayEquals(cases.get(k).greedy(), got.get(k), "case " + k);
        }
    }
}
