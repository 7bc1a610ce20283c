package io.transfuse.model.llama;

import io.transfuse.Device;
import io.transfuse.loader.GgufFile;
import io.transfuse.loader.GgufRawMetadata;
import io.transfuse.loader.RandomVariantModel;
import io.transfuse.memory.TrackedArena;
import io.transfuse.quantize.ModelQuantizer;
import io.transfuse.quantize.QuantPreset;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;
import io.transfuse.tokenizer.GgufTokenizers;
import io.transfuse.tokenizer.Tokenizer;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code transfuse quantize} from a Hugging Face directory: each Llama-family preset's HF form (config.json,
 * model.safetensors, tokenizer.json) quantised directly must give the file that quantising its GGUF form gives
 * (the form llama.cpp's converter writes, on which the llama.cpp fixtures were made): the same tensors with the same
 * types and byte-identical data, the same metadata entries byte for byte (GGUF value types included) apart from the
 * name, keys only one side has being the readers' defaults, and a vocabulary that encodes as the GGUF form's does.
 * Then the HF-quantised model must give llama.cpp's fixture logits within LlamaVariantsLlamaCppTest's tolerance.
 * Each preset runs one quantisation type, so all four K/8-bit presets are covered in eight runs.
 */
class HfDirectoryQuantizeTest {
    @TempDir
    static Path dir;

    /** Keys the converter writes that the GGUF form leaves to the reader, with the reader's default (so the same file). */
    private static Map<String, Object> readerDefaults(String arch) {
        return Map.of(arch + ".rope.freq_base", 10000.0, "tokenizer.ggml.pre", "default", "tokenizer.ggml.add_bos_token", true,
                "tokenizer.ggml.add_eos_token", false, "tokenizer.ggml.add_space_prefix", true);
    }

    /** Keys whose values may differ: the model's name, and scores (compared by what they do: the encodings below). */
    private static final Set<String> DIFFERENT = Set.of("general.name", "tokenizer.ggml.scores");

    private static final List<String> TEXTS = List.of("once upon a time the little girl played", "Tim and Lily saw a big red ball!",
            "  two  spaces, 'quotes' and \"more\"", "unknown ℵ bytes 🙂 and <s> inside </s>", "xyzzy qwj happy mom dad");

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"llama3-tiny, q4_k_m", "mistral-tiny, q5_k_m", "qwen2-tiny, q6_k", "qwen3-tiny, q8_0", "gemma-tiny, q4_k_m",
            "gemma2-tiny, q5_k_m", "gemma3-tiny, q6_k", "phi3-tiny, q4_k_m"})
    void hfDirectoryQuantisesToTheGgufFormsFile(String preset, String type) throws Exception {
        RandomVariantModel.Preset p = RandomVariantModel.preset(preset);
        Path gguf = dir.resolve(preset + ".gguf"), hf = dir.resolve(preset + "-hf");
        RandomVariantModel.writeGguf(gguf, p, DType.F32, 1, msg -> { });
        RandomVariantModel.writeHf(hf, p, DType.F32, 1, msg -> { });
        Path fromGguf = dir.resolve(preset + "-gguf-" + type + ".gguf"), fromHf = dir.resolve(preset + "-hf-" + type + ".gguf");
        QuantPreset q = QuantPreset.parse(type);
        ModelQuantizer.quantize(gguf, fromGguf, q, msg -> { });
        List<String> progress = new ArrayList<>();
        ModelQuantizer.quantize(hf, fromHf, q, progress::add);
        assertTrue(progress.stream().anyMatch(m -> m.contains("token_embd.weight -> ")), progress.toString());

        try (TrackedArena arena = new TrackedArena("test")) {
            GgufFile a = GgufFile.open(fromGguf, arena), b = GgufFile.open(fromHf, arena);
            assertEquals(new TreeSet<>(a.tensors().keySet()), new TreeSet<>(b.tensors().keySet()), preset + ": tensor names");
            for (Tensor ta : a.tensors().values()) {
                Tensor tb = b.tensors().get(ta.name());
                String where = preset + " " + ta.name();
                assertEquals(ta.dtype(), tb.dtype(), where + ": type");
                assertArrayEquals(ta.shape(), tb.shape(), where + ": shape");
                assertEquals(-1L, ta.data().mismatch(tb.data()), where + ": data differs at this byte");
            }
            String arch = (String) a.metadata().get("general.architecture");
            Map<String, byte[]> ra = GgufRawMetadata.read(fromGguf), rb = GgufRawMetadata.read(fromHf);
            for (String key : ra.keySet()) {
                if (DIFFERENT.contains(key)) continue;
                assertTrue(rb.containsKey(key), preset + ": the HF-quantised file lacks " + key);
                assertArrayEquals(ra.get(key), rb.get(key), preset + ": " + key + " differs (value or GGUF type)");
            }
            for (String key : rb.keySet()) {
                if (ra.containsKey(key) || DIFFERENT.contains(key)) continue;
                Object expected = readerDefaults(arch).get(key);
                assertTrue(expected != null, preset + ": the HF-quantised file has " + key + " = " + b.metadata().get(key)
                        + ", which the GGUF form does not");
                Object actual = b.metadata().get(key);
                assertEquals(expected, actual instanceof Float f ? (double) f : actual, preset + ": " + key + " is not the reader's default");
            }
            Tokenizer ta = GgufTokenizers.load(a), tb = GgufTokenizers.load(b);
            for (String text : TEXTS) {
                assertEquals(Arrays.toString(ta.encode(text, true)), Arrays.toString(tb.encode(text, true)), preset + ": encoding of " + text);
            }
        }
        String name = preset + "-" + type;
        LlamaVariantsLlamaCppTest.compare(name + " (from HF)", LlamaVariantsLlamaCppTest.run(fromHf, Device.CPU, 8, 0.15),
                LlamaVariantsLlamaCppTest.fixture(name), 0.15, 0);
    }
}
