package io.transfuse.loader;

import io.transfuse.tensor.DType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Random-weight models of the Llama-family architectures that are deltas of the Llama graph (Llama 3, Mistral,
 * Qwen2, Qwen3, Gemma 1/2/3, Phi-3), written the way llama.cpp's converter writes them (GGUF) and the way Hugging
 * Face stores them (config.json + safetensors), so one seed gives the same function in both forms and
 * llama.cpp can run the GGUF form as the reference. Every dimension the variant can make independent is made
 * so (head size apart from dim/heads, grouped-query heads, partial rotary), shapes keep rows divisible by 256 so
 * K-quants apply to every matrix, and every switch the variant has is exercised with non-trivial values: norm
 * weights 1 + 0.1 N(0,1), biases, soft-caps, windows shorter than a test prompt, RoPE scaling that moves frequencies.
 *
 * <p>Weights: linear layers N(0, 1/in) (activations keep unit scale through the layers, so every layer matters to
 * the logits); embeddings and head N(0, 0.25^2), which gives logits of a few units and top-1/top-2 gaps that
 * quantisation error does not close. The GGUF vocabulary is {@link RandomLlamaModel#vocabulary}'s SentencePiece one.
 */
public final class RandomVariantModel {
    private RandomVariantModel() {}

    /**
     * A tiny shape of one architecture.
     *
     * @param arch      GGUF {@code general.architecture} ("llama" for Llama 3 and Mistral, as llama.cpp stores them)
     * @param modelType Hugging Face {@code model_type}
     */
    public record Preset(String name, String arch, String modelType, int dim, int layers, int heads, int kvHeads, int headDim,
                         int hidden, int vocab, int context, int rotaryDim) {
        public int qDim() { return heads * headDim; }

        public int kvDim() { return kvHeads * headDim; }
    }

    public static final List<Preset> PRESETS = List.of(
            new Preset("llama3-tiny", "llama", "llama", 256, 2, 4, 2, 64, 512, 512, 256, 64),
            new Preset("mistral-tiny", "llama", "mistral", 256, 2, 4, 2, 64, 512, 512, 256, 64),
            new Preset("qwen2-tiny", "qwen2", "qwen2", 256, 2, 4, 2, 64, 512, 512, 256, 64),
            new Preset("qwen3-tiny", "qwen3", "qwen3", 256, 2, 4, 2, 128, 512, 512, 256, 128),
            new Preset("gemma-tiny", "gemma", "gemma", 256, 2, 2, 1, 256, 512, 512, 256, 256),
            new Preset("gemma2-tiny", "gemma2", "gemma2", 256, 2, 4, 2, 64, 512, 512, 256, 64),
            new Preset("gemma3-tiny", "gemma3", "gemma3_text", 256, 6, 4, 2, 64, 512, 512, 256, 64),
            new Preset("phi3-tiny", "phi3", "phi3", 256, 2, 4, 2, 64, 512, 512, 256, 48),
            // The smallest shapes whose every matrix takes K-quants (rows of 256: dim, hidden and heads x headDim), one
            // layer and a 260-token vocabulary: llama.cpp-quantised copies of these are committed as test fixtures
            // (resources/llamacpp/quantized), where every byte counts.
            new Preset("llama3-micro", "llama", "llama", 256, 1, 4, 1, 64, 256, 260, 256, 64),
            new Preset("gemma2-micro", "gemma2", "gemma2", 256, 1, 4, 1, 64, 256, 260, 256, 64));

    /** Sliding window of the presets that have one: shorter than the test prompts, so it matters. */
    public static final int WINDOW = 8;
    static final double LLAMA3_THETA = 500000, LLAMA3_FACTOR = 8, LLAMA3_LOW = 1, LLAMA3_HIGH = 4;
    static final int LLAMA3_ORIGINAL_CONTEXT = 64;
    static final float GEMMA2_ATTN_SOFTCAP = 5f, GEMMA2_FINAL_SOFTCAP = 15f;
    static final double GEMMA3_THETA = 1_000_000, GEMMA3_LINEAR_FACTOR = 8;

    /** The preset called {@code name} (case-insensitive), or an error listing them. */
    public static Preset preset(String name) {
        return PRESETS.stream().filter(p -> p.name.equalsIgnoreCase(name)).findFirst().orElseThrow(() -> new IllegalArgumentException(
                "unknown preset '" + name + "' (known: " + String.join(", ", PRESETS.stream().map(Preset::name).toList()) + ")"));
    }

    /** The preset's name up to its size suffix ("gemma2" for gemma2-tiny and gemma2-micro): what its switches key on. */
    private static String family(Preset p) { return p.name.substring(0, p.name.indexOf('-')); }

    private static boolean gemma(Preset p) { return p.arch.startsWith("gemma"); }

    private static boolean sandwich(Preset p) { return p.arch.equals("gemma2") || p.arch.equals("gemma3"); }

    private static boolean qkNorm(Preset p) { return p.arch.equals("qwen3") || p.arch.equals("gemma3"); }

    private static boolean tied(Preset p) { return gemma(p) || p.arch.equals("qwen2") || family(p).equals("llama3"); }

    /** One logical tensor, in the unfused Hugging Face form; {@code kind} says how its values are drawn. */
    private record T(String gguf, String hf, long[] shape, Kind kind) {
        int count() { return Math.toIntExact(shape.length == 1 ? shape[0] : shape[0] * shape[1]); }
    }

    private enum Kind { NORM, LINEAR, EMBEDDING, BIAS, Q, K }

    private static List<T> tensors(Preset p) {
        List<T> t = new ArrayList<>();
        t.add(new T("token_embd.weight", "model.embed_tokens.weight", new long[] {p.vocab, p.dim}, Kind.EMBEDDING));
        for (int l = 0; l < p.layers; l++) {
            String g = "blk." + l + ".", h = "model.layers." + l + ".";
            t.add(new T(g + "attn_norm.weight", h + "input_layernorm.weight", new long[] {p.dim}, Kind.NORM));
            t.add(new T(g + "attn_q.weight", h + "self_attn.q_proj.weight", new long[] {p.qDim(), p.dim}, Kind.Q));
            t.add(new T(g + "attn_k.weight", h + "self_attn.k_proj.weight", new long[] {p.kvDim(), p.dim}, Kind.K));
            t.add(new T(g + "attn_v.weight", h + "self_attn.v_proj.weight", new long[] {p.kvDim(), p.dim}, Kind.LINEAR));
            if (p.arch.equals("qwen2")) {
                t.add(new T(g + "attn_q.bias", h + "self_attn.q_proj.bias", new long[] {p.qDim()}, Kind.BIAS));
                t.add(new T(g + "attn_k.bias", h + "self_attn.k_proj.bias", new long[] {p.kvDim()}, Kind.BIAS));
                t.add(new T(g + "attn_v.bias", h + "self_attn.v_proj.bias", new long[] {p.kvDim()}, Kind.BIAS));
            }
            if (qkNorm(p)) {
                t.add(new T(g + "attn_q_norm.weight", h + "self_attn.q_norm.weight", new long[] {p.headDim}, Kind.NORM));
                t.add(new T(g + "attn_k_norm.weight", h + "self_attn.k_norm.weight", new long[] {p.headDim}, Kind.NORM));
            }
            t.add(new T(g + "attn_output.weight", h + "self_attn.o_proj.weight", new long[] {p.dim, p.qDim()}, Kind.LINEAR));
            if (sandwich(p)) {
                t.add(new T(g + "post_attention_norm.weight", h + "post_attention_layernorm.weight", new long[] {p.dim}, Kind.NORM));
                t.add(new T(g + "ffn_norm.weight", h + "pre_feedforward_layernorm.weight", new long[] {p.dim}, Kind.NORM));
                t.add(new T(g + "post_ffw_norm.weight", h + "post_feedforward_layernorm.weight", new long[] {p.dim}, Kind.NORM));
            } else {
                t.add(new T(g + "ffn_norm.weight", h + "post_attention_layernorm.weight", new long[] {p.dim}, Kind.NORM));
            }
            t.add(new T(g + "ffn_gate.weight", h + "mlp.gate_proj.weight", new long[] {p.hidden, p.dim}, Kind.LINEAR));
            t.add(new T(g + "ffn_up.weight", h + "mlp.up_proj.weight", new long[] {p.hidden, p.dim}, Kind.LINEAR));
            t.add(new T(g + "ffn_down.weight", h + "mlp.down_proj.weight", new long[] {p.dim, p.hidden}, Kind.LINEAR));
        }
        t.add(new T("output_norm.weight", "model.norm.weight", new long[] {p.dim}, Kind.NORM));
        if (!tied(p)) t.add(new T("output.weight", "lm_head.weight", new long[] {p.vocab, p.dim}, Kind.EMBEDDING));
        return t;
    }

    /** Values of {@code t} in Hugging Face's form (norms as w where Gemma multiplies by 1 + w; Q/K rows half-split). */
    private static float[] hfValues(Preset p, T t, long seed) {
        SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + t.gguf.hashCode());
        float[] a = new float[t.count()];
        double std = switch (t.kind) {
            case NORM, BIAS -> 0.1;
            case EMBEDDING -> 0.25;
            case LINEAR, Q, K -> 1 / Math.sqrt(t.shape[1]);
        };
        double mean = t.kind == Kind.NORM && !gemma(p) ? 1 : 0;
        for (int i = 0; i < a.length; i++) a[i] = (float) (mean + std * RandomLlamaModel.gaussian(r));
        return a;
    }

    /** Values of {@code t} as llama.cpp's converter stores them: Gemma norms 1 + w; "llama" Q/K rows in adjacent pairs. */
    private static float[] ggufValues(Preset p, T t, long seed) {
        float[] v = hfValues(p, t, seed);
        if (t.kind == Kind.NORM && gemma(p)) for (int i = 0; i < v.length; i++) v[i] += 1;
        if (p.arch.equals("llama") && (t.kind == Kind.Q || t.kind == Kind.K)) {
            v = RotaryRows.halfSplitToAdjacent(v, (int) (t.shape[0] / p.headDim), p.headDim, (int) t.shape[1]);
        }
        return v;
    }

    private static float[] concat(float[]... parts) {
        int n = 0;
        for (float[] a : parts) n += a.length;
        float[] out = new float[n];
        int at = 0;
        for (float[] a : parts) { System.arraycopy(a, 0, out, at, a.length); at += a.length; }
        return out;
    }

    /** LongRoPE factors of the Phi-3 preset: short ones stretch the low frequencies a little, long ones more. */
    static float[] longRopeFactors(Preset p, boolean longFactors) {
        float[] f = new float[p.rotaryDim / 2];
        for (int i = 0; i < f.length; i++) f[i] = (float) (1 + (longFactors ? 3.0 : 0.5) * i / (f.length - 1));
        return f;
    }

    /** Llama 3.1's per-frequency divisors, as llama.cpp's converter computes them from the config (rope_freqs.weight). */
    static float[] llama3FreqFactors(Preset p) {
        return new io.transfuse.model.RopeScaling.Llama3(LLAMA3_FACTOR, LLAMA3_LOW, LLAMA3_HIGH, LLAMA3_ORIGINAL_CONTEXT)
                .frequencyFactors(LLAMA3_THETA, p.rotaryDim);
    }

    /** Receives the tensors of one form: name, shape (outermost first), values. */
    private interface Sink {
        void add(String name, long[] shape, Supplier<float[]> values);
    }

    /**
     * The tensors of {@code p} in the GGUF form (llama.cpp's names and values) or Hugging Face's, Phi-3's Q/K/V and
     * gate/up fused into one matrix each (gate first) as both store them.
     */
    private static void emit(Preset p, long seed, boolean gguf, Sink sink) {
        Function<T, float[]> values = t -> gguf ? ggufValues(p, t, seed) : hfValues(p, t, seed);
        boolean fused = p.arch.equals("phi3");
        List<T> ts = tensors(p);
        for (int i = 0; i < ts.size(); i++) {
            T t = ts.get(i);
            if (fused && t.gguf.endsWith("attn_q.weight")) {
                T k = ts.get(i + 1), v = ts.get(i + 2);
                sink.add(gguf ? t.gguf.replace("attn_q", "attn_qkv") : t.hf.replace("q_proj", "qkv_proj"),
                        new long[] {p.qDim() + 2L * p.kvDim(), p.dim}, () -> concat(values.apply(t), values.apply(k), values.apply(v)));
                i += 2;
            } else if (fused && t.gguf.endsWith("ffn_gate.weight")) {
                T up = ts.get(i + 1);
                sink.add(gguf ? up.gguf : t.hf.replace("gate_proj", "gate_up_proj"), new long[] {2L * p.hidden, p.dim},
                        () -> concat(values.apply(t), values.apply(up)));
                i += 1;
            } else {
                sink.add(gguf ? t.gguf : t.hf, t.shape, () -> values.apply(t));
            }
        }
    }

    /** Writes the GGUF form; matrices of {@code type} (F32, F16 or Q8_0), 1-D tensors F32. */
    public static void writeGguf(Path path, Preset p, DType type, long seed, Consumer<String> progress) {
        if (type != DType.F32 && type != DType.F16 && type != DType.Q8_0) {
            throw new IllegalArgumentException("dtype " + type + " is not supported for random models (f32, f16, q8_0; quantize for more)");
        }
        String a = p.arch;
        GgufWriter w = new GgufWriter()
                .put("general.architecture", a)
                .put("general.name", "random-" + p.name)
                .put("general.alignment", 32)
                .put(a + ".context_length", p.context)
                .put(a + ".embedding_length", p.dim)
                .put(a + ".block_count", p.layers)
                .put(a + ".feed_forward_length", p.hidden)
                .put(a + ".rope.dimension_count", p.rotaryDim)
                .put(a + ".attention.head_count", p.heads)
                .put(a + ".attention.head_count_kv", p.kvHeads)
                .put(a + ".attention.key_length", p.headDim)
                .put(a + ".attention.value_length", p.headDim)
                .put(a + ".attention.layer_norm_rms_epsilon", 1e-6f);
        switch (family(p)) {
            case "llama3" -> w.put(a + ".rope.freq_base", (float) LLAMA3_THETA)
                    .addTensor("rope_freqs.weight", DType.F32, new long[] {p.rotaryDim / 2}, llama3FreqFactors(p));
            case "gemma2" -> w.put(a + ".attention.sliding_window", WINDOW)
                    .put(a + ".attn_logit_softcapping", GEMMA2_ATTN_SOFTCAP).put(a + ".final_logit_softcapping", GEMMA2_FINAL_SOFTCAP);
            case "gemma3" -> w.put(a + ".attention.sliding_window", WINDOW).put(a + ".rope.freq_base", (float) GEMMA3_THETA)
                    .put(a + ".rope.scaling.type", "linear").put(a + ".rope.scaling.factor", (float) GEMMA3_LINEAR_FACTOR);
            case "phi3" -> w.put(a + ".rope.scaling.original_context_length", p.context / 4)
                    .put(a + ".rope.scaling.attn_factor", (float) io.transfuse.model.RopeScaling.LongRope.defaultAttnFactor(p.context, p.context / 4))
                    .addTensor("rope_factors_short.weight", DType.F32, new long[] {p.rotaryDim / 2}, longRopeFactors(p, false))
                    .addTensor("rope_factors_long.weight", DType.F32, new long[] {p.rotaryDim / 2}, longRopeFactors(p, true));
            default -> w.put(a + ".rope.freq_base", 10000f);
        }
        RandomLlamaModel.Vocabulary v = vocabulary(p);
        w.put("tokenizer.ggml.model", "llama").put("tokenizer.ggml.tokens", v.tokens()).put("tokenizer.ggml.scores", v.scores())
                .put("tokenizer.ggml.token_type", v.types()).put("tokenizer.ggml.bos_token_id", 1).put("tokenizer.ggml.eos_token_id", 2)
                .put("tokenizer.ggml.unknown_token_id", 0);
        emit(p, seed, true, (name, shape, values) -> w.addTensor(name, shape.length == 1 ? DType.F32 : type, shape, values));
        w.write(path, progress);
    }

    /** {@link RandomLlamaModel#vocabulary}'s SentencePiece vocabulary, Phi-3's chat tokens (control) at its end. */
    private static RandomLlamaModel.Vocabulary vocabulary(Preset p) {
        RandomLlamaModel.Vocabulary v = RandomLlamaModel.vocabulary(p.vocab);
        if (p.arch.equals("phi3")) {
            // llama.cpp's Phi-3 vocabulary loader looks these up by text
            String[] special = {"<|endoftext|>", "<|end|>", "<|user|>", "<|assistant|>", "<|system|>"};
            for (int i = 0; i < special.length; i++) {
                v.tokens()[p.vocab - special.length + i] = special[i];
                v.types()[p.vocab - special.length + i] = 3;
            }
        }
        return v;
    }

    /**
     * Writes the Hugging Face form: config.json, model.safetensors (F32 or F16), and the GGUF form's vocabulary as
     * tokenizer.json (SentencePieceTokenizerJson: Llama 2's layout, merges ranked by the pieces' scores) with a
     * tokenizer_config.json naming &lt;s&gt;, &lt;/s&gt; and &lt;unk&gt;.
     */
    public static void writeHf(Path directory, Preset p, DType type, long seed, Consumer<String> progress) {
        if (type != DType.F32 && type != DType.F16) throw new IllegalArgumentException("safetensors models are written as f32 or f16, not " + type);
        try {
            Files.createDirectories(directory);
            SafetensorsWriter w = new SafetensorsWriter();
            emit(p, seed, false, (name, shape, values) -> w.addTensor(name, shape.length == 1 ? DType.F32 : type, shape, values));
            w.write(directory.resolve("model.safetensors"), progress);
            Files.writeString(directory.resolve("config.json"), hfConfig(p, type));
            RandomLlamaModel.Vocabulary v = vocabulary(p);
            double[] scores = new double[v.scores().length];
            long[] types = new long[v.types().length];
            for (int i = 0; i < scores.length; i++) { scores[i] = v.scores()[i]; types[i] = v.types()[i]; }
            Files.writeString(directory.resolve("tokenizer.json"), io.transfuse.tokenizer.hf.SentencePieceTokenizerJson.build(
                    v.tokens(), scores, types, 1, 2, 0));
            Files.writeString(directory.resolve("tokenizer_config.json"),
                    "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"unk_token\": \"<unk>\"}\n");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + directory + ": " + e, e);
        }
    }

    private static String hfConfig(Preset p, DType type) {
        StringBuilder extra = new StringBuilder();
        double theta = 10000;
        switch (family(p)) {
            case "llama3" -> {
                theta = LLAMA3_THETA;
                extra.append(String.format(Locale.ROOT, "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": %s, \"low_freq_factor\": %s, "
                        + "\"high_freq_factor\": %s, \"original_max_position_embeddings\": %d},\n", LLAMA3_FACTOR, LLAMA3_LOW, LLAMA3_HIGH,
                        LLAMA3_ORIGINAL_CONTEXT));
            }
            case "mistral" -> extra.append("\"sliding_window\": " + WINDOW + ",\n");
            case "gemma" -> extra.append("\"hidden_activation\": \"gelu_pytorch_tanh\",\n");
            case "gemma2" -> extra.append(String.format(Locale.ROOT, "\"hidden_activation\": \"gelu_pytorch_tanh\", \"sliding_window\": %d, "
                    + "\"query_pre_attn_scalar\": %d, \"attn_logit_softcapping\": %s, \"final_logit_softcapping\": %s,\n",
                    WINDOW, p.headDim, GEMMA2_ATTN_SOFTCAP, GEMMA2_FINAL_SOFTCAP));
            case "gemma3" -> {
                theta = GEMMA3_THETA;
                extra.append(String.format(Locale.ROOT, "\"hidden_activation\": \"gelu_pytorch_tanh\", \"sliding_window\": %d, "
                        + "\"sliding_window_pattern\": 6, \"query_pre_attn_scalar\": %d, \"rope_local_base_freq\": 10000.0, "
                        + "\"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": %s},\n", WINDOW, p.headDim, GEMMA3_LINEAR_FACTOR));
            }
            case "phi3" -> extra.append(String.format(Locale.ROOT, "\"partial_rotary_factor\": %s, \"original_max_position_embeddings\": %d, "
                    + "\"rope_scaling\": {\"type\": \"longrope\", \"short_factor\": %s, \"long_factor\": %s},\n",
                    (double) p.rotaryDim / p.headDim, p.context / 4, json(longRopeFactors(p, false)), json(longRopeFactors(p, true))));
            default -> { }
        }
        return String.format(Locale.ROOT, """
                {
                  "model_type": "%s",
                  "hidden_size": %d,
                  "intermediate_size": %d,
                  "num_hidden_layers": %d,
                  "num_attention_heads": %d,
                  "num_key_value_heads": %d,
                  "head_dim": %d,
                  "vocab_size": %d,
                  "max_position_embeddings": %d,
                  "rms_norm_eps": 1e-06,
                  "rope_theta": %s,
                  %s"tie_word_embeddings": %s,
                  "bos_token_id": 1,
                  "eos_token_id": 2,
                  "torch_dtype": "%s"
                }
                """, p.modelType, p.dim, p.hidden, p.layers, p.heads, p.kvHeads, p.headDim, p.vocab, p.context, theta, extra,
                tied(p), type == DType.F32 ? "float32" : "float16");
    }

    private static String json(float[] f) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < f.length; i++) sb.append(i == 0 ? "" : ", ").append(f[i]);
        return sb.append(']').toString();
    }
}
