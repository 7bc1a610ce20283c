package io.transfuse;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The option builders: what they build, their defaults, and errors that name the field at fault. */
class OptionsBuildersTest {
    @Test
    void generateOptionsBuilderSetsEveryField() {
        GenerateOptions o = GenerateOptions.builder().maxTokens(64).temperature(0.7).topK(40).topP(0.9).minP(0.05)
                .repetitionPenalty(1.1).frequencyPenalty(0.5).presencePenalty(0.25).penaltyWindow(32).seed(7)
                .stop("\n\n", "THE END").timeout(Duration.ofSeconds(3)).build();
        assertEquals(64, o.maxTokens());
        assertEquals(new SamplingOptions(0.7, 40, 0.9, 0.05, 1.1, 0.5, 0.25, 32, 7), o.sampling());
        assertEquals(List.of("\n\n", "THE END"), o.stop());
        assertEquals(Duration.ofSeconds(3), o.timeout());
    }

    @Test
    void defaultsAreGreedyWith256TokensForTheBuilderToo() {
        GenerateOptions d = GenerateOptions.defaults();
        assertEquals(d, GenerateOptions.builder().build());
        assertEquals(256, d.maxTokens());
        assertEquals(SamplingOptions.greedy(), d.sampling());
        assertEquals(0, d.sampling().temperature());
        assertEquals(List.of(), d.stop());
        assertEquals(null, d.timeout());
        assertEquals(false, d.sampling().penalizes());
    }

    @Test
    void toBuilderKeepsWhatIsNotChanged() {
        GenerateOptions o = GenerateOptions.builder().maxTokens(9).temperature(0.5).seed(3).stop("x").build();
        GenerateOptions p = o.toBuilder().topK(5).build();
        assertEquals(new SamplingOptions(0.5, 5, 1, 3), p.sampling());
        assertEquals(9, p.maxTokens());
        assertEquals(List.of("x"), p.stop());
        SamplingOptions s = SamplingOptions.builder().temperature(1.2).minP(0.1).build();
        assertEquals(s, GenerateOptions.builder().sampling(s).build().sampling());
        assertEquals(s.toBuilder().seed(4).build(), new SamplingOptions(1.2, 0, 1, 0.1, 1, 0, 0, 64, 4));
    }

    @Test
    void outOfRangeValuesNameTheirField() {
        assertNamed("maxTokens", () -> GenerateOptions.builder().maxTokens(-1).build());
        assertNamed("temperature", () -> GenerateOptions.builder().temperature(-0.1).build());
        assertNamed("temperature", () -> GenerateOptions.builder().temperature(Double.NaN).build());
        assertNamed("topK", () -> GenerateOptions.builder().topK(-1).build());
        assertNamed("topP", () -> GenerateOptions.builder().topP(0).build());
        assertNamed("topP", () -> GenerateOptions.builder().topP(1.5).build());
        assertNamed("minP", () -> GenerateOptions.builder().minP(-0.5).build());
        assertNamed("repetitionPenalty", () -> GenerateOptions.builder().repetitionPenalty(0).build());
        assertNamed("frequencyPenalty", () -> GenerateOptions.builder().frequencyPenalty(Double.POSITIVE_INFINITY).build());
        assertNamed("presencePenalty", () -> GenerateOptions.builder().presencePenalty(Double.NaN).build());
        assertNamed("penaltyWindow", () -> GenerateOptions.builder().penaltyWindow(0).build());
        assertNamed("stop", () -> GenerateOptions.builder().stop("").build());
        assertNamed("stop", () -> GenerateOptions.builder().stop("a", null).build());
        assertNamed("timeout", () -> GenerateOptions.builder().timeout(Duration.ZERO).build());
        assertNamed("batchSize", () -> EncoderOptions.defaults().withBatchSize(0));
    }

    @Test
    void nullsNameTheArgument() {
        assertEquals("sampling", assertThrows(NullPointerException.class, () -> GenerateOptions.builder().sampling(null)).getMessage());
        assertEquals("sampling", assertThrows(NullPointerException.class, () -> new GenerateOptions(1, null)).getMessage());
        assertEquals("stop", assertThrows(NullPointerException.class, () -> GenerateOptions.builder().stop((String[]) null)).getMessage());
        assertEquals("content", assertThrows(NullPointerException.class, () -> ChatMessage.user(null)).getMessage());
        assertEquals("role", assertThrows(NullPointerException.class, () -> new ChatMessage(null, "hi")).getMessage());
    }

    private static void assertNamed(String field, Supplier<?> build) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, build::get);
        assertTrue(e.getMessage().startsWith(field + " "), "message should name " + field + ": " + e.getMessage());
    }
}
