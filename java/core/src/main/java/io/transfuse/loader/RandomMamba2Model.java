package io.transfuse.loader;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.transfuse.tensor.DType;
import io.transfuse.tokenizer.hf.ByteLevelBpeJson;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Random-weight Mamba-2 language models as Hugging Face Mamba2ForCausalLM directories (config.json,
 * model.safetensors, the small byte-level BPE tokenizer.json of {@link RandomMambaModel}), for benchmarks,
 * demos and CLI tests. Scales as a trained model has them (as RandomMambaModel): projections normal(0,
 * 1/sqrt(fan_in)), A_log = log(uniform 1..16) per head, dt_bias the inverse softplus of a dt in [0.001, 0.1],
 * norms and D near 1. Deterministic in the seed and the tensor's name. (The correctness tests use the NumPy
 * fixtures of the test resources, not this class.)
 */
public final class RandomMamba2Model {
    private RandomMamba2Model() {}

    /** A model shape: d_model, layers, head_dim, n_groups, state_size; expand 2, conv 4, tied head. */
    public record Shape(int dModel, int layers, int headDim, int groups, int dState) {
        /** 64 wide, 2 layers, 2 heads of 64: runs in milliseconds. */
        public static final Shape TINY = new Shape(64, 2, 64, 1, 16);
        /** mamba2-130m's shape (d_model 768, 24 layers, 24 heads of 64, 1 group, state 128) with the small vocabulary. */
        public static final Shape MAMBA2_130M = new Shape(768, 24, 64, 1, 128);

        public Shape {
            if (dModel <= 0 || layers <= 0 || headDim <= 0 || groups <= 0 || dState <= 0 || 2 * dModel % headDim != 0
                    || (2 * dModel / headDim) % groups != 0) {
                throw new IllegalArgumentException("Mamba-2 shape sizes must be positive, 2 d_model a multiple of head_dim and heads of groups: " + this);
            }
        }

        public int dInner() { return 2 * dModel; }

        public int heads() { return dInner() / headDim; }

        public int vocab() { return RandomMambaModel.Shape.vocabOf(); }

        public int vocabRows() { return (vocab() + 7) / 8 * 8; }

        public static Shape preset(String name) {
            return switch (name.toLowerCase(java.util.Locale.ROOT)) {
                case "mamba2-tiny" -> TINY;
                case "mamba2-130m" -> MAMBA2_130M;
                default -> throw new IllegalArgumentException("unknown Mamba-2 preset '" + name + "' (known: mamba2-tiny, mamba2-130m)");
            };
        }
    }

    /** Every tensor the directory holds, in file order. */
    public static List<RandomMambaModel.TensorSpec> tensors(Shape s) {
        int dm = s.dModel(), di = s.dInner(), gn = s.groups() * s.dState(), h = s.heads();
        List<RandomMambaModel.TensorSpec> t = new ArrayList<>();
        t.add(spec("backbone.embeddings.weight", s.vocabRows(), dm));
        for (int l = 0; l < s.layers(); l++) {
            String p = "backbone.layers." + l + ".";
            t.add(spec(p + "norm.weight", dm));
            t.add(spec(p + "mixer.in_proj.weight", 2L * di + 2L * gn + h, dm));
            t.add(spec(p + "mixer.conv1d.weight", di + 2L * gn, 1, 4));
            t.add(spec(p + "mixer.conv1d.bias", di + 2L * gn));
            t.add(spec(p + "mixer.dt_bias", h));
            t.add(spec(p + "mixer.A_log", h));
            t.add(spec(p + "mixer.D", h));
            t.add(spec(p + "mixer.norm.weight", di));
            t.add(spec(p + "mixer.out_proj.weight", dm, di));
        }
        t.add(spec("backbone.norm_f.weight", dm));
        return t;
    }

    private static RandomMambaModel.TensorSpec spec(String name, long... shape) { return new RandomMambaModel.TensorSpec(name, shape); }

    /** The values of tensor {@code t} for {@code seed}. */
    public static float[] values(long seed, RandomMambaModel.TensorSpec t) {
        SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + t.name().hashCode());
        String name = t.name();
        long[] shape = t.shape();
        float[] a = new float[t.count()];
        for (int i = 0; i < a.length; i++) {
            double g = RandomLlamaModel.gaussian(r), v;
            if (name.endsWith("norm.weight") || name.endsWith("norm_f.weight") || name.endsWith("mixer.D")) {
                v = 1 + 0.1 * g;
            } else if (name.endsWith("A_log")) {
                v = Math.log(1 + 15 * r.nextDouble());
            } else if (name.endsWith("dt_bias")) {
                double dt = Math.exp(Math.log(0.001) + r.nextDouble() * (Math.log(0.1) - Math.log(0.001)));
                v = dt + Math.log(-Math.expm1(-dt));
            } else if (name.endsWith(".bias")) {
                v = 0.1 * g;
            } else if (name.endsWith("embeddings.weight")) {
                v = i / shape[1] >= RandomMambaModel.Shape.vocabOf() ? 0 : g; // padding rows stay zero
            } else {
                v = g / Math.sqrt(shape[shape.length - 1]);
            }
            a[i] = (float) v;
        }
        return a;
    }

    /** config.json of the shape. */
    public static ObjectNode config(Shape s) {
        ObjectNode c = new ObjectMapper().createObjectNode();
        c.putArray("architectures").add("Mamba2ForCausalLM");
        c.put("model_type", "mamba2");
        c.put("hidden_size", s.dModel()).put("num_hidden_layers", s.layers()).put("vocab_size", s.vocab());
        c.put("expand", 2).put("num_heads", s.heads()).put("head_dim", s.headDim()).put("n_groups", s.groups())
                .put("state_size", s.dState()).put("conv_kernel", 4).put("chunk_size", 256);
        c.put("layer_norm_epsilon", 1e-5).put("hidden_act", "silu").put("use_bias", false).put("use_conv_bias", true)
                .put("tie_word_embeddings", true).put("bos_token_id", s.vocab() - 1).put("eos_token_id", s.vocab() - 1);
        return c;
    }

    /** Writes config.json, model.safetensors (F32 or F16) and tokenizer.json into {@code directory}. */
    public static void write(Path directory, Shape s, DType type, long seed, Consumer<String> progress) {
        if (type != DType.F32 && type != DType.F16) throw new IllegalArgumentException("Mamba-2 models are written as f32 or f16, not " + type);
        try {
            Files.createDirectories(directory);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + directory + ": " + e, e);
        }
        RandomMambaModel.writeText(directory.resolve("config.json"), config(s).toPrettyString());
        RandomMambaModel.writeText(directory.resolve("tokenizer.json"), ByteLevelBpeJson.build(ByteLevelBpeJson.ENGLISH_MERGES));
        SafetensorsWriter w = new SafetensorsWriter();
        for (RandomMambaModel.TensorSpec t : tensors(s)) w.addTensor(t.name(), type, t.shape(), () -> values(seed, t));
        w.write(directory.resolve("model.safetensors"), progress);
    }
}
