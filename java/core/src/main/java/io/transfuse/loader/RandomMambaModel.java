package io.transfuse.loader;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.transfuse.tensor.DType;
import io.transfuse.tokenizer.hf.ByteLevelBpeJson;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Random-weight Mamba-1 language models as Hugging Face MambaForCausalLM directories
 * (config.json, model.safetensors, a small byte-level BPE tokenizer.json), for tests and
 * benchmarks. Weights are drawn at the scales a trained model has, so activations stay O(1)
 * through the layers: projections normal(0, 1/sqrt(fan_in)), A_log = log(1..N) (S4D-real) plus
 * noise, dt_proj.bias the inverse softplus of a dt in [0.001, 0.1] (Mamba's init), norms near 1.
 * Deterministic in the seed and the tensor's name. The embedding is padded to a multiple of 8
 * rows beyond vocab_size (zero rows), as mamba_ssm checkpoints are.
 */
public final class RandomMambaModel {
    private RandomMambaModel() {}

    /**
     * A model shape; {@code dtRank} 0 writes "auto". The vocabulary is the tokenizer's (bytes,
     * {@link ByteLevelBpeJson#ENGLISH_MERGES}, end-of-text).
     */
    public record Shape(int dModel, int layers, int dState, int dConv, int expand, int dtRank,
                        boolean tied, boolean useBias, boolean useConvBias) {
        /** 64 wide, 2 layers: runs in milliseconds, for tests. */
        public static final Shape TINY = new Shape(64, 2, 16, 4, 2, 0, true, false, true);
        /** mamba-130m's width and depth (768, 24 layers) with the small vocabulary: for benchmarks. */
        public static final Shape MAMBA_130M = new Shape(768, 24, 16, 4, 2, 0, true, false, true);

        public Shape {
            if (dModel <= 0 || layers <= 0 || dState <= 0 || dConv <= 0 || expand <= 0 || dtRank < 0) {
                throw new IllegalArgumentException("Mamba shape sizes must be positive: " + this);
            }
        }

        public int dInner() { return expand * dModel; }

        public int effectiveDtRank() { return dtRank > 0 ? dtRank : (dModel + 15) / 16; }

        /** vocab_size in config.json: the tokenizer's size. */
        public int vocab() { return vocabOf(); }

        static int vocabOf() { return ByteLevelBpeJson.vocabularySize(ByteLevelBpeJson.ENGLISH_MERGES); }

        /** Rows of the embedding and head: vocab rounded up to a multiple of 8. */
        public int vocabRows() { return (vocab() + 7) / 8 * 8; }

        public static Shape preset(String name) {
            return switch (name.toLowerCase(java.util.Locale.ROOT)) {
                case "mamba-tiny" -> TINY;
                case "mamba-130m" -> MAMBA_130M;
                default -> throw new IllegalArgumentException("unknown Mamba preset '" + name + "' (known: mamba-tiny, mamba-130m)");
            };
        }
    }

    /** One tensor of the model: its HF name and shape. */
    public record TensorSpec(String name, long[] shape) {
        public int count() {
            long n = 1;
            for (long d : shape) n *= d;
            return Math.toIntExact(n);
        }
    }

    /** Every tensor the directory holds, in file order. */
    public static List<TensorSpec> tensors(Shape s) {
        int dm = s.dModel, di = s.dInner(), n = s.dState, r = s.effectiveDtRank();
        List<TensorSpec> t = new ArrayList<>();
        t.add(new TensorSpec("backbone.embeddings.weight", new long[] {s.vocabRows(), dm}));
        for (int l = 0; l < s.layers; l++) {
            String p = "backbone.layers." + l + ".";
            t.add(new TensorSpec(p + "norm.weight", new long[] {dm}));
            t.add(new TensorSpec(p + "mixer.in_proj.weight", new long[] {2L * di, dm}));
            if (s.useBias) t.add(new TensorSpec(p + "mixer.in_proj.bias", new long[] {2L * di}));
            t.add(new TensorSpec(p + "mixer.conv1d.weight", new long[] {di, 1, s.dConv}));
            if (s.useConvBias) t.add(new TensorSpec(p + "mixer.conv1d.bias", new long[] {di}));
            t.add(new TensorSpec(p + "mixer.x_proj.weight", new long[] {r + 2L * n, di}));
            t.add(new TensorSpec(p + "mixer.dt_proj.weight", new long[] {di, r}));
            t.add(new TensorSpec(p + "mixer.dt_proj.bias", new long[] {di}));
            t.add(new TensorSpec(p + "mixer.A_log", new long[] {di, n}));
            t.add(new TensorSpec(p + "mixer.D", new long[] {di}));
            t.add(new TensorSpec(p + "mixer.out_proj.weight", new long[] {dm, di}));
            if (s.useBias) t.add(new TensorSpec(p + "mixer.out_proj.bias", new long[] {dm}));
        }
        t.add(new TensorSpec("backbone.norm_f.weight", new long[] {dm}));
        if (!s.tied) t.add(new TensorSpec("lm_head.weight", new long[] {s.vocabRows(), dm}));
        return t;
    }

    /** The values of tensor {@code t} for {@code seed}. */
    public static float[] values(long seed, TensorSpec t) {
        SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + t.name().hashCode());
        String name = t.name();
        int count = t.count();
        float[] a = new float[count];
        long[] shape = t.shape();
        for (int i = 0; i < count; i++) {
            double g = RandomLlamaModel.gaussian(r);
            double v;
            if (name.endsWith("norm.weight") || name.endsWith("norm_f.weight") || name.endsWith("mixer.D")) {
                v = 1 + 0.1 * g;
            } else if (name.endsWith("A_log")) {
                v = Math.log(1 + i % shape[1]) + 0.1 * g;
            } else if (name.endsWith("dt_proj.bias")) {
                // dt log-uniform in [0.001, 0.1]; bias = softplus^-1(dt) = dt + log(-expm1(-dt))
                double dt = Math.exp(Math.log(0.001) + r.nextDouble() * (Math.log(0.1) - Math.log(0.001)));
                v = dt + Math.log(-Math.expm1(-dt));
            } else if (name.endsWith(".bias")) {
                v = 0.1 * g;
            } else if (name.endsWith("embeddings.weight") || name.equals("lm_head.weight")) {
                // rows past vocab_size are padding no token uses: zero, as an untrained row would stay
                boolean padding = i / shape[1] >= Shape.vocabOf();
                v = padding ? 0 : name.equals("lm_head.weight") ? g / Math.sqrt(shape[1]) : g;
            } else {
                long fanIn = shape.length == 3 ? shape[2] : shape[shape.length - 1];
                v = g / Math.sqrt(fanIn);
            }
            a[i] = (float) v;
        }
        return a;
    }

    /** config.json of the shape, as a mutable tree (tests edit it to make broken configs). */
    public static ObjectNode config(Shape s) {
        ObjectNode c = new ObjectMapper().createObjectNode();
        c.putArray("architectures").add("MambaForCausalLM");
        c.put("model_type", "mamba");
        c.put("hidden_size", s.dModel).put("num_hidden_layers", s.layers).put("vocab_size", s.vocab());
        c.put("state_size", s.dState).put("conv_kernel", s.dConv).put("expand", s.expand)
                .put("intermediate_size", s.dInner());
        if (s.dtRank > 0) c.put("time_step_rank", s.dtRank);
        else c.put("time_step_rank", "auto");
        c.put("layer_norm_epsilon", 1e-5).put("hidden_act", "silu").put("use_bias", s.useBias)
                .put("use_conv_bias", s.useConvBias).put("tie_word_embeddings", s.tied)
                .put("bos_token_id", s.vocab() - 1).put("eos_token_id", s.vocab() - 1);
        return c;
    }

    /** Writes config.json, model.safetensors (F32 or F16) and tokenizer.json into {@code directory}. */
    public static void write(Path directory, Shape s, DType type, long seed, Consumer<String> progress) {
        if (type != DType.F32 && type != DType.F16) {
            throw new IllegalArgumentException("Mamba models are written as f32 or f16, not " + type);
        }
        try {
            Files.createDirectories(directory);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + directory + ": " + e, e);
        }
        writeText(directory.resolve("config.json"), config(s).toPrettyString());
        writeText(directory.resolve("tokenizer.json"), ByteLevelBpeJson.build(ByteLevelBpeJson.ENGLISH_MERGES));
        SafetensorsWriter w = new SafetensorsWriter();
        for (TensorSpec t : tensors(s)) w.addTensor(t.name(), type, t.shape(), () -> values(seed, t));
        w.write(directory.resolve("model.safetensors"), progress);
    }

    /** Writes {@code text} as UTF-8, atomically. */
    public static void writeText(Path file, String text) {
        AtomicFile.write(file, out -> out.write(text.getBytes(StandardCharsets.UTF_8)));
    }
}
