package io.transfuse.loader;

import io.transfuse.tensor.DType;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Random-weight RWKV-6 and RWKV-7 language models as GGUF files in llama.cpp's layout (architectures "rwkv6" /
 * "rwkv7", the tensor names and shapes of llama.cpp's src/models/rwkv6.cpp and rwkv7.cpp, the metadata its
 * conversion (conversion/rwkv.py) writes), with a small RWKV "world" vocabulary ({@link #vocabulary}): for the
 * agreement fixtures with llama.cpp, benchmarks and CLI tests. Scales keep the activations as a trained model's:
 * projections normal(0, 1/sqrt(fan_in)), lerps uniform(0, 1), RWKV-6 decays in [-5, 0] (per-token decay
 * exp(-exp(w)) in [0.37, 0.99]), norms near 1. Deterministic in the seed and each tensor's name.
 */
public final class RandomRwkvModel {
    private RandomRwkvModel() {}

    /**
     * A model shape. {@code vocab} at least {@link #vocabulary}'s base size; larger vocabularies are padded with
     * "[PADn]" tokens as llama.cpp's conversion pads the world vocabulary (65536 in released models).
     */
    public record Shape(int version, int dModel, int layers, int headSize, int ffn, int vocab, int mixRank, int decayRank, int aRank,
                        int vRank, int gateRank, int rescaleEvery) {
        /** RWKV-6, 128 wide, 3 layers of 4 heads of 32, the residual halved after layer 2: milliseconds. */
        public static final Shape TINY6 = new Shape(6, 128, 3, 32, 448, 0, 32, 64, 0, 0, 0, 2);
        /**
         * RWKV-7, 192 wide, 3 layers of 3 heads of 64, distinct low ranks (v differs from a, as in released models). Heads
         * of 64 as every released RWKV-7: llama.cpp's vectorised wkv7 (ggml-cpu ops.cpp) steps over a head 64 floats at a
         * time with AVX-512 and reads past a head of 32.
         */
        public static final Shape TINY7 = new Shape(7, 192, 3, 64, 768, 0, 0, 64, 32, 16, 64, 0);
        /** RWKV-7 "0.1B" (the 190M llama.cpp names it with the 65536-token vocabulary): 768 wide, 12 layers of 12 heads of 64. */
        public static final Shape RWKV7_01B = new Shape(7, 768, 12, 64, 3072, 65536, 0, 64, 64, 32, 128, 0);
        /** RWKV-7 "0.4B" (llama.cpp's 450M): 1024 wide, 24 layers of 16 heads of 64. */
        public static final Shape RWKV7_04B = new Shape(7, 1024, 24, 64, 4096, 65536, 0, 64, 64, 32, 128, 0);
        /** RWKV-6 shaped like the 0.1B models (768 wide, 12 layers), conversion defaults for ranks and ffn (3.5x). */
        public static final Shape RWKV6_01B = new Shape(6, 768, 12, 64, 2688, 65536, 32, 64, 0, 0, 0, 6);

        public Shape {
            if (version != 6 && version != 7) throw new IllegalArgumentException("RWKV version must be 6 or 7, got " + version);
            if (dModel <= 0 || layers <= 0 || headSize <= 0 || dModel % headSize != 0 || ffn <= 0) {
                throw new IllegalArgumentException("RWKV shape sizes must be positive with whole heads: " + this);
            }
            vocab = Math.max(vocab, BASE_VOCAB.size());
        }

        public String arch() { return "rwkv" + version; }

        public static Shape preset(String name) {
            return switch (name.toLowerCase(Locale.ROOT)) {
                case "rwkv6-tiny" -> TINY6;
                case "rwkv7-tiny" -> TINY7;
                case "rwkv6-0.1b" -> RWKV6_01B;
                case "rwkv7-0.1b" -> RWKV7_01B;
                case "rwkv7-0.4b" -> RWKV7_04B;
                default -> throw new IllegalArgumentException("unknown RWKV preset '" + name
                        + "' (known: rwkv6-tiny, rwkv7-tiny, rwkv6-0.1b, rwkv7-0.1b, rwkv7-0.4b)");
            };
        }
    }

    /**
     * The world vocabulary's layout in miniature: 0 "&lt;s&gt;" (control), 1..256 the single bytes 0x00..0xFF, then
     * multi-byte tokens (English pieces, "\n\n" at 261 as in the world vocabulary, whose id llama.cpp's
     * conversion names as end of turn, and UTF-8 pieces of non-Latin text), each as bytes.
     */
    static final List<byte[]> BASE_VOCAB = baseVocabulary();

    private static List<byte[]> baseVocabulary() {
        List<byte[]> v = new ArrayList<>();
        v.add("<s>".getBytes(StandardCharsets.UTF_8));
        for (int b = 0; b < 256; b++) v.add(new byte[] {(byte) b});
        String[] words = {"  ", "    ", "\t\t", "\r\n", "\n\n", " the", "the", " a", " an", "in", "ing", " in", " of", " and", "and",
                " to", "er", "ed", "es", " is", "Hello", " Hello", " world", "world", ",", " wor", "ld", "ll", "he", " he", "ello", "The",
                " The", " quick", " brown", " fox", " jumps", " over", " lazy", " dog", " dogs", "RWKV", " RWKV", " model", " mod",
                "el", "\\", "\\n", "'", "\"", "'s", " don't", "\u00e9t\u00e9", "\u00e9", "caf\u00e9", "\u4e2d\u6587", "\u4e2d",
                "\u6587\u5b57", "\u3053\u3093\u306b\u3061\u306f", "\ud83d\ude00", " 123", "12", "2025", "\n", "...", "!", "?"};
        for (String w : words) {
            byte[] b = w.getBytes(StandardCharsets.UTF_8);
            if (b.length > 1) v.add(b);
        }
        return v;
    }

    /** The GGUF text of a token: Python's repr of its bytes without b'' (the form llama.cpp unescapes). */
    static String escape(byte[] bytes) {
        StringBuilder s = new StringBuilder();
        for (byte x : bytes) {
            int c = x & 0xFF;
            switch (c) {
                case '\\' -> s.append("\\\\");
                case '\t' -> s.append("\\t");
                case '\n' -> s.append("\\n");
                case '\r' -> s.append("\\r");
                default -> {
                    if (c >= 0x20 && c < 0x7f) s.append((char) c);
                    else s.append(String.format("\\x%02x", c));
                }
            }
        }
        return s.toString();
    }

    /** Tokens (escaped) and types of a vocabulary of {@code size}: the base vocabulary, then "[PADn]" (type 5, unused). */
    public static Object[] vocabulary(int size) {
        String[] tokens = new String[size];
        int[] types = new int[size];
        for (int i = 0; i < size; i++) {
            if (i < BASE_VOCAB.size()) {
                tokens[i] = i == 0 ? "<s>" : escape(BASE_VOCAB.get(i));
                types[i] = i == 0 ? 3 : 1;
            } else {
                tokens[i] = "[PAD" + i + "]";
                types[i] = 5;
            }
        }
        return new Object[] {tokens, types};
    }

    /** Writes the model; matrices of {@code type} (F32, F16 or Q8_0), vectors F32. */
    public static void writeGguf(Path path, Shape s, DType type, long seed, Consumer<String> progress) {
        if (type != DType.F32 && type != DType.F16 && type != DType.Q8_0) {
            throw new IllegalArgumentException("dtype " + type + " is not supported for random models (f32, f16, q8_0)");
        }
        String a = s.arch();
        GgufWriter w = new GgufWriter()
                .put("general.architecture", a)
                .put("general.name", "random-" + a)
                .put(a + ".context_length", 1048576)
                .put(a + ".embedding_length", s.dModel())
                .put(a + ".block_count", s.layers())
                .put(a + ".feed_forward_length", s.ffn())
                .put(a + ".attention.layer_norm_epsilon", 1e-5f)
                .put(a + ".wkv.head_size", s.headSize())
                .put(a + ".attention.head_count", 0);
        if (s.version() == 6) {
            w.put(a + ".rescale_every_n_layers", s.rescaleEvery()).put(a + ".time_mix_extra_dim", s.mixRank())
                    .put(a + ".time_decay_extra_dim", s.decayRank());
        } else {
            w.put(a + ".attention.decay_lora_rank", s.decayRank()).put(a + ".attention.iclr_lora_rank", s.aRank())
                    .put(a + ".attention.value_residual_mix_lora_rank", s.vRank()).put(a + ".attention.gate_lora_rank", s.gateRank());
        }
        Object[] vocab = vocabulary(s.vocab());
        w.put("tokenizer.ggml.model", "rwkv").put("tokenizer.ggml.tokens", (String[]) vocab[0])
                .put("tokenizer.ggml.token_type", (int[]) vocab[1]).put("tokenizer.ggml.bos_token_id", 0)
                .put("tokenizer.ggml.eos_token_id", 0).put("tokenizer.ggml.eot_token_id", 261);
        Sink sink = new Sink(w, type, seed);
        int dm = s.dModel(), v = s.vocab();
        sink.normal("token_embd.weight", 1.0, v, dm);
        sink.norm("token_embd_norm", dm);
        for (int l = 0; l < s.layers(); l++) {
            String p = "blk." + l + ".";
            sink.norm(p + "attn_norm", dm);
            sink.norm(p + "attn_norm_2", dm);
            if (s.version() == 6) layer6(sink, s, p);
            else layer7(sink, s, p, l);
            sink.proj(p + "time_mix_key.weight", dm, dm);
            sink.proj(p + "time_mix_value.weight", dm, dm);
            sink.proj(p + "time_mix_receptance.weight", dm, dm);
            sink.norm(p + "time_mix_ln", dm);
            sink.proj(p + "time_mix_output.weight", dm, dm);
            sink.uniform(p + "channel_mix_lerp_k.weight", 0, 1, 1, 1, dm);
            sink.proj(p + "channel_mix_key.weight", s.ffn(), dm);
            sink.proj(p + "channel_mix_value.weight", dm, s.ffn());
        }
        sink.norm("output_norm", dm);
        sink.proj("output.weight", v, dm);
        w.write(path, progress);
    }

    private static void layer6(Sink k, Shape s, String p) {
        int dm = s.dModel(), mr = s.mixRank(), dr = s.decayRank();
        k.uniform(p + "time_mix_lerp_x.weight", 0, 1, 1, 1, dm);
        k.uniform(p + "time_mix_lerp_fused.weight", 0, 1, 5, 1, 1, dm);
        k.normal(p + "time_mix_w1.weight", 0.1, 5L * mr, dm);
        k.normal(p + "time_mix_w2.weight", 0.1, 5, dm, mr);
        k.uniform(p + "time_mix_first.weight", -0.5, 1.0, s.dModel() / s.headSize(), s.headSize());
        k.uniform(p + "time_mix_decay.weight", -5, 0, dm);
        k.normal(p + "time_mix_decay_w1.weight", 0.1, dr, dm);
        k.normal(p + "time_mix_decay_w2.weight", 0.1, dm, dr);
        k.proj(p + "time_mix_gate.weight", dm, dm);
        k.uniform(p + "channel_mix_lerp_r.weight", 0, 1, 1, 1, dm);
        k.proj(p + "channel_mix_receptance.weight", dm, dm);
    }

    private static void layer7(Sink k, Shape s, String p, int l) {
        int dm = s.dModel(), vr = l == 0 ? s.aRank() : s.vRank();
        k.uniform(p + "time_mix_lerp_fused.weight", 0, 1, 6, 1, 1, dm);
        k.uniform(p + "time_mix_w0.weight", -3, 1, dm);
        k.normal(p + "time_mix_w1.weight", 0.1, s.decayRank(), dm);
        k.normal(p + "time_mix_w2.weight", 0.1, dm, s.decayRank());
        k.normal(p + "time_mix_a0.weight", 0.5, dm);
        k.normal(p + "time_mix_a1.weight", 0.1, s.aRank(), dm);
        k.normal(p + "time_mix_a2.weight", 0.1, dm, s.aRank());
        k.normal(p + "time_mix_v0.weight", 0.5, dm);
        k.normal(p + "time_mix_v1.weight", 0.1, vr, dm);
        k.normal(p + "time_mix_v2.weight", 0.1, dm, vr);
        k.proj(p + "time_mix_g1.weight", s.gateRank(), dm);
        k.proj(p + "time_mix_g2.weight", dm, s.gateRank());
        k.uniform(p + "time_mix_k_k.weight", 0.5, 1, dm);
        k.uniform(p + "time_mix_k_a.weight", 0.5, 1.5, dm);
        k.normal(p + "time_mix_r_k.weight", 0.3, dm);
    }

    /** Adds tensors with values drawn from a generator seeded by (seed, name). */
    private record Sink(GgufWriter w, DType type, long seed) {
        private SplittableRandom rng(String name) { return new SplittableRandom(seed * 1_000_003L ^ name.hashCode()); }

        private DType typeOf(long[] shape) {
            return shape.length == 1 || shape[shape.length - 1] % type.blockSize() != 0 || count(shape) < 1024 ? DType.F32 : type;
        }

        private static long count(long[] shape) {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }

        void normal(String name, double std, long... shape) {
            w.addTensor(name, typeOf(shape), shape, () -> {
                SplittableRandom r = rng(name);
                float[] x = new float[Math.toIntExact(count(shape))];
                for (int i = 0; i < x.length; i++) x[i] = (float) (gaussian(r) * std);
                return x;
            });
        }

        void proj(String name, long out, long in) { normal(name, 1 / Math.sqrt(in), out, in); }

        void uniform(String name, double lo, double hi, long... shape) {
            w.addTensor(name, DType.F32, shape, () -> {
                SplittableRandom r = rng(name);
                float[] x = new float[Math.toIntExact(count(shape))];
                for (int i = 0; i < x.length; i++) x[i] = (float) (lo + (hi - lo) * r.nextDouble());
                return x;
            });
        }

        /** A layer norm's weight (near 1) and bias (near 0). */
        void norm(String prefix, long dim) {
            uniform(prefix + ".weight", 0.8, 1.2, dim);
            uniform(prefix + ".bias", -0.1, 0.1, dim);
        }

        private static double gaussian(SplittableRandom r) {
            double u = r.nextDouble(), v = r.nextDouble();
            return Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v);
        }
    }
}
