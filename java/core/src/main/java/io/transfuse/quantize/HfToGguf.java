package io.transfuse.quantize;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.backend.RopeLayout;
import io.transfuse.chat.ChatTemplate;
import io.transfuse.loader.ChatTemplates;
import io.transfuse.loader.GgufWriter;
import io.transfuse.loader.Json;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.RotaryRows;
import io.transfuse.loader.ShardedSafetensors;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.RopeScaling;
import io.transfuse.model.llama.LlamaConfig;
import io.transfuse.model.llama.LlamaConfigs;
import io.transfuse.model.llama.LlamaVariant;
import io.transfuse.model.llama.LlamaWeights;
import io.transfuse.model.llama.LlamaWeights.Names;
import io.transfuse.tensor.Dequantize;
import io.transfuse.tensor.Tensor;
import io.transfuse.tokenizer.hf.TokenizerJsonToGguf;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A Hugging Face directory of a Llama-family decoder (config.json, *.safetensors, tokenizer.json) read as the GGUF
 * file llama.cpp's convert_hf_to_gguf.py writes for it: {@code <arch>.*} keys from the config, tensors renamed
 * ({@link Names#hf} to {@link Names#GGUF}), and the converter's value changes:
 * <ul>
 *   <li>"llama" GGUFs (Llama, Mistral) hold Q/K rows in adjacent rotary pairs ({@link RotaryRows#halfSplitToAdjacent});</li>
 *   <li>Gemma's norm weights are stored as 1 + w;</li>
 *   <li>RoPE scaling becomes keys (linear, YaRN) or F32 tensors (Llama 3's {@code rope_freqs}, LongRoPE's
 *       {@code rope_factors_short/long}), as llama.cpp reads it;</li>
 *   <li>the tokenizer becomes {@code tokenizer.ggml.*} metadata ({@link TokenizerJsonToGguf}) and the chat template
 *       {@code tokenizer.chat_template}.</li>
 * </ul>
 * What a GGUF file cannot say is refused, naming the config key: dynamic NTK scaling, a Gemma 3 local/global pattern
 * other than 5:1, an attention scale llama.cpp would not derive. Mistral's and Qwen2's sliding windows are dropped,
 * as llama.cpp's converter drops them (its "llama" and "qwen2" graphs have none). Tensors are read when the writer
 * asks for them, one at a time, from the memory-mapped safetensors.
 */
final class HfToGguf {
    private HfToGguf() {}

    /** One output tensor: GGUF name, shape (outermost first), F32 values made on demand. */
    record Source(String name, long[] shape, Supplier<float[]> values) {}

    /** Puts the directory's metadata into {@code w} and returns its tensors in the order llama.cpp writes them; one progress line. */
    static List<Source> read(Path dir, TrackedArena arena, GgufWriter w, Consumer<String> progress) {
        Path configFile = dir.resolve("config.json");
        if (!Files.isRegularFile(configFile)) {
            throw new ModelFormatException(dir + ": no config.json; quantize reads a GGUF file or a Hugging Face directory "
                    + "(config.json, *.safetensors, tokenizer.json)");
        }
        JsonNode json = Json.read(configFile);
        LlamaConfig c = LlamaConfigs.config(json, configFile);
        LlamaVariant v = c.variant();
        String arch = v.ggufArchitecture();
        ShardedSafetensors files = ShardedSafetensors.open(dir, arena);
        LlamaWeights.from(files, Names.hf(v), c, false, arena); // shapes against the config; errors name the tensor
        progress.accept("converting Hugging Face directory " + dir + " (" + json.path("model_type").asText() + ") to GGUF " + arch);

        w.put("general.architecture", arch).put("general.name", dir.toAbsolutePath().normalize().getFileName().toString());
        List<Source> out = new ArrayList<>();
        putConfig(w, out, c, configFile);
        TokenizerJsonToGguf.metadata(dir, c.vocabSize(), json).forEach(w::put);
        ChatTemplate template = ChatTemplates.fromDirectory(dir);
        if (template != null) w.put("tokenizer.chat_template", template.source());
        out.addAll(tensors(files, c, arch));
        return out;
    }

    private static void putConfig(GgufWriter w, List<Source> extra, LlamaConfig c, Path configFile) {
        LlamaVariant v = c.variant();
        String a = v.ggufArchitecture() + ".";
        LlamaConfig.RopeParams rope = c.rope();
        LlamaConfig.AttentionParams att = c.attention();
        w.put(a + "context_length", c.contextLength()).put(a + "embedding_length", c.dim()).put(a + "block_count", c.layers())
                .put(a + "feed_forward_length", c.hiddenDim()).put(a + "rope.dimension_count", rope.rotaryDim())
                .put(a + "attention.head_count", c.heads()).put(a + "attention.head_count_kv", c.kvHeads())
                .put(a + "attention.key_length", c.headDim()).put(a + "attention.value_length", c.headDim())
                .put(a + "attention.layer_norm_rms_epsilon", c.rmsEps()).put(a + "rope.freq_base", (float) rope.theta());
        if (v == LlamaVariant.GEMMA3 && rope.localTheta() != LlamaConfigs.GEMMA3_LOCAL_THETA) {
            w.put(a + "rope.freq_base_swa", (float) rope.localTheta());
        }
        if (LlamaConfigs.ggufHasWindow(v)) {
            w.put(a + "attention.sliding_window", att.window());
            if (att.windowPattern() != LlamaConfigs.ggufWindowPattern(v)) {
                throw new ModelFormatException(configFile + ": a local/global layer pattern of " + att.windowPattern()
                        + " cannot be stored in GGUF, where " + v.ggufArchitecture() + " has " + LlamaConfigs.ggufWindowPattern(v));
            }
        }
        if (v == LlamaVariant.GEMMA2) {
            w.put(a + "attn_logit_softcapping", att.softcap()).put(a + "final_logit_softcapping", c.finalSoftcap());
        }
        float derived = LlamaConfigs.attentionScale(v, c.dim(), c.heads(), c.headDim(), c.layers());
        if (Math.abs(att.scale() - derived) > 1e-6 * derived) {
            throw new ModelFormatException(configFile + ": query_pre_attn_scalar gives an attention scale of " + att.scale()
                    + ", which GGUF cannot store (llama.cpp derives " + derived + " for this shape)");
        }
        switch (rope.scaling()) {
            case RopeScaling.None n -> { }
            case RopeScaling.Linear l -> w.put(a + "rope.scaling.type", "linear").put(a + "rope.scaling.factor", (float) l.factor());
            case RopeScaling.Yarn y -> {
                RopeScaling.Yarn plain = RopeScaling.Yarn.of(y.factor(), y.originalContext());
                if (Math.abs(y.attnFactor() - plain.attnFactor()) > 1e-9) {
                    throw new ModelFormatException(configFile + ": rope_scaling.attention_factor " + y.attnFactor()
                            + " cannot be stored in GGUF (llama.cpp derives " + plain.attnFactor() + ")");
                }
                w.put(a + "rope.scaling.type", "yarn").put(a + "rope.scaling.factor", (float) y.factor())
                        .put(a + "rope.scaling.original_context_length", y.originalContext());
                if (y.betaFast() != plain.betaFast()) w.put(a + "rope.scaling.yarn_beta_fast", (float) y.betaFast());
                if (y.betaSlow() != plain.betaSlow()) w.put(a + "rope.scaling.yarn_beta_slow", (float) y.betaSlow());
            }
            case RopeScaling.Llama3 l -> {
                float[] f = l.frequencyFactors(rope.theta(), rope.rotaryDim());
                extra.add(new Source("rope_freqs.weight", new long[] {f.length}, () -> f));
            }
            case RopeScaling.LongRope l -> {
                w.put(a + "rope.scaling.original_context_length", l.originalContext()).put(a + "rope.scaling.attn_factor", (float) l.attnFactor());
                extra.add(new Source("rope_factors_short.weight", new long[] {l.shortFactors().length}, l::shortFactors));
                extra.add(new Source("rope_factors_long.weight", new long[] {l.longFactors().length}, l::longFactors));
            }
            case RopeScaling.DynamicNtk d -> throw new ModelFormatException(configFile + ": rope_scaling type 'dynamic' cannot be stored "
                    + "in GGUF (llama.cpp has no dynamic NTK scaling)");
            case RopeScaling.FreqFactors f -> throw new IllegalStateException("frequency factors come from GGUF files only");
        }
    }

    /** How a tensor's values change on the way to GGUF. */
    private enum Change { NONE, NORM, Q, K }

    /** One part of a layer: its name in {@link Names}, and how its values change. */
    private record Part(Function<Names, String> name, Change change) {}

    private static List<Source> tensors(ShardedSafetensors files, LlamaConfig c, String arch) {
        LlamaVariant v = c.variant();
        Names hf = Names.hf(v), gguf = Names.GGUF;
        boolean fused = v.fusedProjections(), sandwich = v.sandwichNorms();
        List<Part> parts = new ArrayList<>();
        parts.add(new Part(Names::attnNorm, Change.NORM));
        if (fused) parts.add(new Part(Names::wqkv, Change.NONE));
        else {
            parts.add(new Part(Names::wq, Change.Q));
            parts.add(new Part(Names::wk, Change.K));
            parts.add(new Part(Names::wv, Change.NONE));
        }
        if (v.qkvBias()) for (Function<Names, String> p : List.<Function<Names, String>>of(Names::wq, Names::wk, Names::wv)) {
            parts.add(new Part(n -> n.bias(p.apply(n)), Change.NONE));
        }
        if (v.qkNorm()) {
            parts.add(new Part(Names::qNorm, Change.NORM));
            parts.add(new Part(Names::kNorm, Change.NORM));
        }
        parts.add(new Part(Names::wo, Change.NONE));
        if (sandwich) parts.add(new Part(Names::postAttnNorm, Change.NORM));
        parts.add(new Part(Names::ffnNorm, Change.NORM));
        if (fused) parts.add(new Part(Names::wGateUp, Change.NONE));
        else {
            parts.add(new Part(Names::wGate, Change.NONE));
            parts.add(new Part(Names::wUp, Change.NONE));
        }
        parts.add(new Part(Names::wDown, Change.NONE));
        if (sandwich) parts.add(new Part(Names::postFfnNorm, Change.NORM));

        boolean adjacent = LlamaVariant.ofGguf(arch).ggufRopeLayout() == RopeLayout.ADJACENT_PAIRS;
        boolean plusOne = v.normPlusOne();
        Set<String> unused = new LinkedHashSet<>(files.tensors().keySet());
        List<Source> out = new ArrayList<>();
        Function<Change, Function<float[], float[]>> change = ch -> switch (ch) {
            case NONE -> x -> x;
            case NORM -> x -> {
                if (plusOne) for (int i = 0; i < x.length; i++) x[i] += 1;
                return x;
            };
            case Q -> x -> adjacent ? RotaryRows.halfSplitToAdjacent(x, c.heads(), c.headDim(), c.dim()) : x;
            case K -> x -> adjacent ? RotaryRows.halfSplitToAdjacent(x, c.kvHeads(), c.headDim(), c.dim()) : x;
        };
        add(out, unused, files, hf.tokenEmbedding(), gguf.tokenEmbedding(), change.apply(Change.NONE));
        for (int l = 0; l < c.layers(); l++) {
            for (Part p : parts) add(out, unused, files, p.name.apply(hf).formatted(l), p.name.apply(gguf).formatted(l), change.apply(p.change));
        }
        add(out, unused, files, hf.outputNorm(), gguf.outputNorm(), change.apply(Change.NORM));
        if (!v.tiedHead() && files.tensors().containsKey(hf.output())) {
            add(out, unused, files, hf.output(), gguf.output(), change.apply(Change.NONE));
        }
        unused.remove(hf.output()); // Gemma's head is the embedding; a stored copy is not written (as llama.cpp)
        unused.removeIf(name -> name.endsWith(".rotary_emb.inv_freq")); // older checkpoints store RoPE's table; GGUF does not
        if (!unused.isEmpty()) {
            throw new ModelFormatException(files.path() + ": tensor '" + unused.iterator().next() + "' is not part of the "
                    + v.name().toLowerCase(java.util.Locale.ROOT) + " decoder config.json describes (" + c.layers() + " layers)"
                    + (unused.size() > 1 ? ", nor are " + (unused.size() - 1) + " more" : "") + "; quantize does not know where it goes in GGUF");
        }
        return out;
    }

    private static void add(List<Source> out, Set<String> unused, ShardedSafetensors files, String hfName, String ggufName,
                            Function<float[], float[]> change) {
        Tensor t = files.tensor(hfName);
        unused.remove(hfName);
        out.add(new Source(ggufName, t.shape(), () -> change.apply(Dequantize.toFloats(t))));
    }
}
