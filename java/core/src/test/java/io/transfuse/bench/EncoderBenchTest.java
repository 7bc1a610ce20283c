package io.transfuse.bench;

import io.transfuse.EmbeddingModel;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.model.bert.RealEncoders;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** EncoderBench builds texts of exactly the asked token count and reports positive rates. */
class EncoderBenchTest {
    @Test
    void textsHaveExactTokenCountsAndRatesArePositive() {
        try (EmbeddingModel m = Transfuse.loadEncoder(RealEncoders.miniLm(), LoadOptions.defaults())) {
            for (int n : new int[] {3, 17, 32, 128}) {
                for (int seed = 0; seed < 3; seed++) assertEquals(n, m.countTokens(EncoderBench.text(m, n, seed)));
            }
            EncoderBench.Result r = EncoderBench.run(m, 4, 32, 1, 2, 0);
            assertEquals(2, r.textsPerSecond().length);
            assertTrue(r.stat().median() > 0);
            assertThrows(IllegalArgumentException.class, () -> EncoderBench.run(m, 1, 1000, 1, 1, 0));
        }
    }
}
