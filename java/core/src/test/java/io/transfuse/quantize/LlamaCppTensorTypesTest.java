package io.transfuse.quantize;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.loader.GgufFile;
import io.transfuse.loader.RandomLlamaModel;
import io.transfuse.loader.RandomVariantModel;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link QuantPreset} picks the type llama.cpp picks, tensor by tensor. The fixture
 * (resources/llamacpp/quantized/tensor-types.json.gz, {@code ci/llama-fixtures.sh --llama-quantized}) holds the
 * tensor table of every file llama.cpp's llama_model_quantize wrote from make-model's F32 files (seed 1): each
 * Llama-family tiny preset (2 layers; tied and untied heads; Phi-3's fused attn_qkv and gate/up; Gemma's extra
 * norms), the micro presets (1 layer), kquant-tiny (4 layers, GQA, so use_more_bits picks layers 2 and 3) and
 * kquant-tiny with dim 288 (rows no K-quant block divides: every fallback, Q5_0, Q5_1, Q8_0), each in Q8_0,
 * Q4_K_M, Q5_K_M and Q6_K. Our plan for the same F32 input (the tensor table {@code transfuse quantize} plans from)
 * must name the same tensors with the same types. There are no deliberate differences.
 */
class LlamaCppTensorTypesTest {
    @TempDir
    static Path dir;

    /** The names and shapes of the F32 file llama.cpp quantised for {@code model}, in file order. */
    static List<QuantPreset.TensorSpec> specs(String model) {
        RandomLlamaModel.Shape kq = RandomLlamaModel.Shape.KQUANT_TINY;
        switch (model) {
            case "kquant-tiny" -> { return RandomLlamaModel.tensorSpecs(kq); }
            case "kquant-tiny-dim288" -> {
                return RandomLlamaModel.tensorSpecs(new RandomLlamaModel.Shape(288, kq.layers(), kq.heads(), kq.kvHeads(), kq.hidden(), kq.vocab(), kq.context()));
            }
            default -> {
                Path f32 = dir.resolve(model + "-f32.gguf");
                RandomVariantModel.writeGguf(f32, RandomVariantModel.preset(model), DType.F32, LlamaCppQuantizedFixtures.SEED, m -> { });
                List<QuantPreset.TensorSpec> specs = new ArrayList<>();
                try (TrackedArena arena = new TrackedArena("tensor table of " + f32)) {
                    for (Tensor t : GgufFile.open(f32, arena).tensors().values()) specs.add(new QuantPreset.TensorSpec(t.name(), t.shape()));
                }
                return specs;
            }
        }
    }

    @Test
    void everyTensorGetsLlamaCppsType() {
        JsonNode files = LlamaCppQuantizedFixtures.json("tensor-types.json.gz").get("files");
        Map<String, List<QuantPreset.TensorSpec>> specsOf = new LinkedHashMap<>();
        List<String> mismatches = new ArrayList<>();
        int compared = 0;
        TreeSet<String> typesSeen = new TreeSet<>();
        for (Iterator<String> keys = files.fieldNames(); keys.hasNext(); ) {
            String key = keys.next(); // MODEL/TYPE
            String model = key.substring(0, key.indexOf('/')), type = key.substring(key.indexOf('/') + 1);
            Map<String, DType> plan = QuantPreset.parse(type).plan(specsOf.computeIfAbsent(model, LlamaCppTensorTypesTest::specs));
            JsonNode theirs = files.get(key);
            assertEquals(new TreeSet<>(plan.keySet()), toSet(theirs.fieldNames()), key + ": the tensor names differ");
            for (Map.Entry<String, DType> e : plan.entrySet()) {
                String ours = DType.ggmlName(e.getValue().ggmlType()), llama = theirs.get(e.getKey()).asText();
                typesSeen.add(llama);
                compared++;
                if (!ours.equals(llama)) mismatches.add(key + " " + e.getKey() + ": ours " + ours + ", llama.cpp " + llama);
            }
        }
        System.out.println("tensor types: " + compared + " tensors of " + files.size() + " llama.cpp files compared; types " + typesSeen);
        assertTrue(mismatches.isEmpty(), mismatches.size() + " tensors differ from llama.cpp's choice:\n" + String.join("\n", mismatches));
        // the fixture covers what it claims: every block type of the presets and their fallbacks
        assertEquals(new TreeSet<>(List.of("F32", "Q4_K", "Q5_0", "Q5_1", "Q5_K", "Q6_K", "Q8_0")), typesSeen);
    }

    private static TreeSet<String> toSet(Iterator<String> it) {
        TreeSet<String> s = new TreeSet<>();
        it.forEachRemaining(s::add);
        return s;
    }
}
