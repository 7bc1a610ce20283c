package io.transfuse.loader;

import io.transfuse.tensor.DType;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Random-weight Llama models of a given shape, for benchmarks and tests. Linear weights are
 * normal(0, 0.02), norm weights 1.0, all derived deterministically from a seed and the tensor's
 * name. The GGUF form carries a SentencePiece-style vocabulary (&lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;,
 * the 256 byte tokens, then generated pieces with descending scores), so text generation runs.
 */
public final class RandomLlamaModel {
    private RandomLlamaModel() {}

    /** A model shape. */
    public record Shape(int dim, int layers, int heads, int kvHeads, int hidden, int vocab, int context) {
        public static final Shape STORIES15M = new Shape(288, 6, 6, 6, 768, 32000, 256);
        public static final Shape STORIES110M = new Shape(768, 12, 12, 12, 2048, 32000, 1024);
        /** Small, every row a whole number of K-quant super-blocks (dim 256, hidden 768), GQA 8:2, 4 layers (so
         * that Q4_K_M's layer-dependent choices differ between layers): the llama.cpp K-quant agreement tests. */
        public static final Shape KQUANT_TINY = new Shape(256, 4, 8, 2, 768, 512, 128);

        /** Throws IllegalArgumentException with a one-line reason when the shape cannot form a Llama model. */
        public Shape {
            positive("dim", dim);
            positive("layers", layers);
            positive("heads", heads);
            positive("kv-heads", kvHeads);
            positive("hidden", hidden);
            positive("vocab", vocab);
            positive("context", context);
            if (dim % heads != 0) throw new IllegalArgumentException("dim " + dim + " is not divisible by " + heads + " heads");
            if (heads % kvHeads != 0) throw new IllegalArgumentException(heads + " heads are not divisible by " + kvHeads + " kv-heads");
            if ((dim / heads) % 2 != 0) throw new IllegalArgumentException("head size " + dim / heads + " (dim/heads) is odd; RoPE needs pairs");
            if (vocab < 259) throw new IllegalArgumentException("vocab " + vocab + " is too small: the tokenizer needs at least 259 entries (3 special + 256 bytes)");
        }

        public int headDim() { return dim / heads; }

        public int kvDim() { return kvHeads * headDim(); }

        /** The preset called {@code name} (stories15M, stories110M; case-insensitive). */
        public static Shape preset(String name) {
            return switch (name.toLowerCase(Locale.ROOT)) {
                case "stories15m" -> STORIES15M;
                case "stories110m" -> STORIES110M;
                case "kquant-tiny" -> KQUANT_TINY;
                default -> throw new IllegalArgumentException("unknown preset '" + name + "' (known: stories15M, stories110M, kquant-tiny)");
            };
        }

        /** Parameters (elements) of all tensors. */
        public long parameters() {
            long perLayer = 2L * dim + 2L * dim * dim + 2L * kvDim() * dim + 3L * hidden * dim;
            return 2L * vocab * dim + dim + layers * perLayer;
        }

        private static void positive(String what, int v) {
            if (v <= 0) throw new IllegalArgumentException(what + " must be positive, got " + v);
        }
    }

    /** Checks that {@code type} can store every weight matrix of {@code shape} (rows of whole blocks). */
    public static void checkDtype(Shape shape, DType type) {
        if (type != DType.F32 && type != DType.F16 && !io.transfuse.quantize.Quantize.supports(type)) {
            throw new IllegalArgumentException("dtype " + type + " is not supported for random models (f32, f16, a ggml block type)");
        }
        int b = type.blockSize();
        if (shape.dim % b != 0 || shape.hidden % b != 0) {
            throw new IllegalArgumentException(type + " needs dim and hidden divisible by " + b + " (dim " + shape.dim + ", hidden " + shape.hidden + ")");
        }
    }

    /** Values of the tensor {@code name} with {@code n} elements: normal(0, 0.02), seeded by seed and name. */
    public static float[] weights(long seed, String name, int n) {
        SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + name.hashCode());
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (gaussian(r) * 0.02);
        return a;
    }

    /** One standard normal value (every random model writer draws from it). */
    static double gaussian(SplittableRandom r) {
        // Box-Muller; one value per call keeps the stream simple and deterministic
        double u = 1.0 - r.nextDouble(), v = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }

    static float[] ones(int n) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, 1f);
        return a;
    }

    /** Writes the model as one GGUF file (Q/K rows in GGUF's adjacent-pair RoPE order); 1-D norms stay F32. */
    public static void writeGguf(Path path, Shape s, DType type, long seed, Consumer<String> progress) {
        checkDtype(s, type);
        writeGguf(path, s, t -> t.shape().length == 1 ? DType.F32 : type, seed, progress);
    }

    /**
     * Writes the model as one GGUF file with each tensor's type chosen by {@code typeOf} (e.g. a quantisation
     * preset's plan, {@link #tensorSpecs}); the values are those of {@link #writeGguf(Path, Shape, DType, long,
     * Consumer)} with the same seed before quantisation.
     */
    public static void writeGguf(Path path, Shape s, java.util.function.Function<io.transfuse.quantize.QuantPreset.TensorSpec, DType> typeOf,
                                 long seed, Consumer<String> progress) {
        GgufWriter w = new GgufWriter()
                .put("general.architecture", "llama")
                .put("general.name", "random-llama")
                .put("general.alignment", 32)
                .put("llama.context_length", s.context)
                .put("llama.embedding_length", s.dim)
                .put("llama.block_count", s.layers)
                .put("llama.feed_forward_length", s.hidden)
                .put("llama.rope.dimension_count", s.headDim())
                .put("llama.attention.head_count", s.heads)
                .put("llama.attention.head_count_kv", s.kvHeads)
                .put("llama.attention.layer_norm_rms_epsilon", 1e-5f)
                .put("llama.rope.freq_base", 10000f)
                .put("tokenizer.ggml.model", "llama");
        Vocabulary v = vocabulary(s.vocab);
        w.put("tokenizer.ggml.tokens", v.tokens).put("tokenizer.ggml.scores", v.scores).put("tokenizer.ggml.token_type", v.types)
                .put("tokenizer.ggml.bos_token_id", 1).put("tokenizer.ggml.eos_token_id", 2).put("tokenizer.ggml.unknown_token_id", 0);
        for (Tensor t : tensors(s)) {
            DType tt = typeOf.apply(new io.transfuse.quantize.QuantPreset.TensorSpec(t.gguf, t.shape));
            w.addTensor(t.gguf, tt, t.shape, () -> t.norm ? ones(t.count()) : weights(seed, t.gguf, t.count()));
        }
        w.write(path, progress);
    }

    /**
     * Writes the model as a Hugging Face directory (config.json + model.safetensors, HF tensor
     * names). Q and K rows are permuted from GGUF's adjacent-pair RoPE order into HF's half-split
     * order exactly as HF's conversion does, so the directory computes the same function as
     * {@link #writeGguf} with the same seed. No tokenizer is written.
     */
    public static void writeHf(Path directory, Shape s, DType type, long seed, Consumer<String> progress) {
        if (type != DType.F32 && type != DType.F16) {
            throw new IllegalArgumentException("safetensors models are written as f32 or f16, not " + type);
        }
        try {
            java.nio.file.Files.createDirectories(directory);
            String config = String.format(Locale.ROOT, """
                    {
                      "architectures": ["LlamaForCausalLM"],
                      "model_type": "llama",
                      "hidden_size": %d,
                      "intermediate_size": %d,
                      "num_hidden_layers": %d,
                      "num_attention_heads": %d,
                      "num_key_value_heads": %d,
                      "vocab_size": %d,
                      "max_position_embeddings": %d,
                      "rms_norm_eps": 1e-05,
                      "rope_theta": 10000.0,
                      "hidden_act": "silu",
                      "tie_word_embeddings": false,
                      "bos_token_id": 1,
                      "eos_token_id": 2,
                      "torch_dtype": "%s"
                    }
                    """, s.dim, s.hidden, s.layers, s.heads, s.kvHeads, s.vocab, s.context, type == DType.F32 ? "float32" : "float16");
            SafetensorsWriter w = new SafetensorsWriter();
            for (Tensor t : tensors(s)) {
                DType tt = t.shape.length == 1 ? DType.F32 : type;
                w.addTensor(t.hf, tt, t.shape, () -> {
                    if (t.norm) return ones(t.count());
                    float[] v = weights(seed, t.gguf, t.count());
                    if (t.q) return RotaryRows.adjacentToHalfSplit(v, s.heads, s.headDim(), s.dim);
                    if (t.k) return RotaryRows.adjacentToHalfSplit(v, s.kvHeads, s.headDim(), s.dim);
                    return v;
                });
            }
            w.write(directory.resolve("model.safetensors"), progress);
            java.nio.file.Files.writeString(directory.resolve("config.json"), config);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot write " + directory + ": " + e, e);
        }
    }

    /** The GGUF names and shapes of the model's tensors, in file order (for a quantisation plan). */
    public static List<io.transfuse.quantize.QuantPreset.TensorSpec> tensorSpecs(Shape s) {
        return tensors(s).stream().map(t -> new io.transfuse.quantize.QuantPreset.TensorSpec(t.gguf, t.shape)).toList();
    }

    /** One tensor of the model: GGUF name, HF name, shape (outermost first), whether it is a norm (ones). */
    record Tensor(String gguf, String hf, long[] shape, boolean norm, boolean q, boolean k) {
        int count() {
            long n = 1;
            for (long d : shape) n *= d;
            return Math.toIntExact(n);
        }
    }

    static List<Tensor> tensors(Shape s) {
        List<Tensor> t = new ArrayList<>();
        t.add(new Tensor("token_embd.weight", "model.embed_tokens.weight", new long[] {s.vocab, s.dim}, false, false, false));
        for (int l = 0; l < s.layers; l++) {
            String g = "blk." + l + ".", h = "model.layers." + l + ".";
            t.add(new Tensor(g + "attn_norm.weight", h + "input_layernorm.weight", new long[] {s.dim}, true, false, false));
            t.add(new Tensor(g + "attn_q.weight", h + "self_attn.q_proj.weight", new long[] {s.dim, s.dim}, false, true, false));
            t.add(new Tensor(g + "attn_k.weight", h + "self_attn.k_proj.weight", new long[] {s.kvDim(), s.dim}, false, false, true));
            t.add(new Tensor(g + "attn_v.weight", h + "self_attn.v_proj.weight", new long[] {s.kvDim(), s.dim}, false, false, false));
            t.add(new Tensor(g + "attn_output.weight", h + "self_attn.o_proj.weight", new long[] {s.dim, s.dim}, false, false, false));
            t.add(new Tensor(g + "ffn_norm.weight", h + "post_attention_layernorm.weight", new long[] {s.dim}, true, false, false));
            t.add(new Tensor(g + "ffn_gate.weight", h + "mlp.gate_proj.weight", new long[] {s.hidden, s.dim}, false, false, false));
            t.add(new Tensor(g + "ffn_up.weight", h + "mlp.up_proj.weight", new long[] {s.hidden, s.dim}, false, false, false));
            t.add(new Tensor(g + "ffn_down.weight", h + "mlp.down_proj.weight", new long[] {s.dim, s.hidden}, false, false, false));
        }
        t.add(new Tensor("output_norm.weight", "model.norm.weight", new long[] {s.dim}, true, false, false));
        t.add(new Tensor("output.weight", "lm_head.weight", new long[] {s.vocab, s.dim}, false, false, false));
        return t;
    }

    /** A SentencePiece-style vocabulary of exactly {@code size} entries. */
    public record Vocabulary(String[] tokens, float[] scores, int[] types) {}

    private static final String[] WORDS = ("the and a to was he she it of in his her they that with on for you one day "
            + "there once upon time little big girl boy said had were very is but so all not at be have happy mom dad "
            + "play played went saw what dog cat tree sun friend friends up out can go do like see him them then this "
            + "wanted ball toy park home fun came back good named lily tim ben sam loved love looked house bird red blue "
            + "when from could would will an are as by no yes did make made run ran help helped your we my me our").split(" ");

    public static Vocabulary vocabulary(int size) {
        LinkedHashSet<String> pieces = new LinkedHashSet<>();
        pieces.add("\u2581");
        for (String w : WORDS) pieces.add("\u2581" + w);
        String letters = "etaoinshrdlucmfwypvbgkjqxz";
        for (char c : letters.toCharArray()) { pieces.add(String.valueOf(c)); pieces.add("\u2581" + c); }
        for (char c : ".,!?'\"".toCharArray()) pieces.add(String.valueOf(c));
        for (char c : letters.toUpperCase(Locale.ROOT).toCharArray()) { pieces.add(String.valueOf(c)); pieces.add("\u2581" + c); }
        for (String w : WORDS) {
            for (int i = 2; i < w.length(); i++) pieces.add(w.substring(0, i));
            pieces.add(w);
            pieces.add("\u2581" + Character.toUpperCase(w.charAt(0)) + w.substring(1));
        }
        // then letter pairs and triples, with and without the word-start marker, until the vocabulary is full
        outer:
        for (int len = 2; ; len++) {
            int[] idx = new int[len];
            while (true) {
                StringBuilder sb = new StringBuilder();
                for (int i : idx) sb.append(letters.charAt(i));
                pieces.add(sb.toString());
                pieces.add("\u2581" + sb);
                if (pieces.size() >= size) break outer;
                int p = len - 1;
                while (p >= 0 && ++idx[p] == letters.length()) idx[p--] = 0;
                if (p < 0) break;
            }
        }
        String[] tokens = new String[size];
        float[] scores = new float[size];
        int[] types = new int[size];
        tokens[0] = "<unk>"; types[0] = 2;
        tokens[1] = "<s>"; types[1] = 3;
        tokens[2] = "</s>"; types[2] = 3;
        for (int b = 0; b < 256; b++) {
            tokens[3 + b] = String.format(Locale.ROOT, "<0x%02X>", b);
            types[3 + b] = 6;
        }
        var it = pieces.iterator();
        for (int i = 259; i < size; i++) {
            tokens[i] = it.next();
            scores[i] = -(i - 259);
            types[i] = 1;
        }
        return new Vocabulary(tokens, scores, types);
    }
}
