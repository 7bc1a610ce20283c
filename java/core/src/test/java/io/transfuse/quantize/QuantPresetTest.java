package io.transfuse.quantize;

import io.transfuse.loader.RandomLlamaModel;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The per-tensor types of the presets, against llama.cpp's rules written out by hand here (llama-quant.cpp,
 * llama_tensor_get_type): use_more_bits(i, n) = i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2, which for 12
 * layers (stories110M) selects layers 0, 3, 6, 9, 10, 11 (n/8 = 1, 7n/8 = 10).
 */
class QuantPresetTest {
    @Test
    void q4KmOnStories110M() {
        Map<String, DType> plan = QuantPreset.Q4_K_M.plan(RandomLlamaModel.tensorSpecs(RandomLlamaModel.Shape.STORIES110M));
        assertEquals(DType.Q6_K, plan.get("output.weight"));
        assertEquals(DType.Q4_K, plan.get("token_embd.weight"));
        assertEquals(DType.F32, plan.get("blk.0.attn_norm.weight"));
        List<Integer> six = List.of(0, 3, 6, 9, 10, 11);
        for (int l = 0; l < 12; l++) {
            DType want = six.contains(l) ? DType.Q6_K : DType.Q4_K;
            assertEquals(want, plan.get("blk." + l + ".attn_v.weight"), "attn_v layer " + l);
            assertEquals(want, plan.get("blk." + l + ".ffn_down.weight"), "ffn_down layer " + l);
            assertEquals(DType.Q4_K, plan.get("blk." + l + ".attn_q.weight"));
            assertEquals(DType.Q4_K, plan.get("blk." + l + ".ffn_up.weight"));
        }
    }

    @Test
    void otherPresets() {
        var specs = RandomLlamaModel.tensorSpecs(RandomLlamaModel.Shape.STORIES110M);
        assertEquals(DType.Q8_0, QuantPreset.Q8_0.plan(specs).get("output.weight"));
        assertEquals(DType.Q6_K, QuantPreset.Q4_0.plan(specs).get("output.weight"));
        assertEquals(DType.Q4_0, QuantPreset.Q4_0.plan(specs).get("blk.0.attn_v.weight"));
        assertEquals(DType.Q6_K, QuantPreset.Q6_K.plan(specs).get("blk.1.ffn_gate.weight"));
        assertEquals(DType.Q6_K, QuantPreset.Q5_K_M.plan(specs).get("blk.0.attn_v.weight"));
        assertEquals(DType.Q5_K, QuantPreset.Q5_K_M.plan(specs).get("blk.1.attn_v.weight"));
    }

    @Test
    void rowsNotDivisibleBy256FallBackAsLlamaCpp() {
        // stories15M: dim 288 (rows of 288 are not whole super-blocks), hidden 768
        var specs = RandomLlamaModel.tensorSpecs(RandomLlamaModel.Shape.STORIES15M);
        Map<String, DType> q4 = QuantPreset.Q4_K_M.plan(specs);
        assertEquals(DType.Q5_0, q4.get("blk.1.attn_q.weight"));  // Q4_K -> Q5_0
        assertEquals(DType.Q4_K, q4.get("blk.1.ffn_down.weight")); // rows of 768
        assertEquals(DType.Q8_0, q4.get("output.weight"));         // Q6_K -> Q8_0
        assertEquals(DType.Q5_1, QuantPreset.Q5_K_M.plan(specs).get("blk.1.attn_q.weight"));
        List<QuantPreset.TensorSpec> odd = new ArrayList<>();
        odd.add(new QuantPreset.TensorSpec("blk.0.ffn_up.weight", new long[] {4, 100}));
        assertEquals(DType.F16, QuantPreset.Q4_K_M.plan(odd).get("blk.0.ffn_up.weight"));
    }

    @Test
    void tiedEmbeddingsAreTheHead() {
        List<QuantPreset.TensorSpec> specs = new ArrayList<>(RandomLlamaModel.tensorSpecs(RandomLlamaModel.Shape.STORIES110M));
        specs.removeIf(t -> t.name().equals("output.weight"));
        assertEquals(DType.Q6_K, QuantPreset.Q4_K_M.plan(specs).get("token_embd.weight"));
    }

    @Test
    void unknownPresetNamesTheValidOnes() {
        var e = assertThrows(IllegalArgumentException.class, () -> QuantPreset.parse("q3_k_s"));
        assertTrue(e.getMessage().contains("q3_k_s") && e.getMessage().contains("q4_k_m"), e.getMessage());
    }
}
